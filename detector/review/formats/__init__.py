"""Round trips of a review round through other tools' formats: Label Studio, CVAT 1.1,
YOLO-OBB, GeoJSON and GeoPackage (QGIS). Chip pixels <-> scene CRS through ``chips.json``.

Public names are loaded on first use (``lazy_loader``)."""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submodules=["cvat", "diff", "exchange", "geo", "geometry", "labelstudio", "yolo_obb"],
    submod_attrs={
        "cvat": ["export_cvat", "read_cvat"],
        "diff": [
            "MOVE_TOL_PX",
            "SAME_BOX_PX",
            "FileBox",
            "FileReview",
            "apply_actions",
            "check_fresh",
            "exported_candidates",
            "plan_actions",
        ],
        "exchange": [
            "EXPORT_FORMATS",
            "ImportResult",
            "export_round",
            "import_reviews",
            "read_review",
        ],
        "geo": ["export_geojson", "export_gpkg", "read_geojson_review", "read_gpkg_review"],
        "geometry": ["RBox", "box_from_corners", "chip_to_crs", "corner_distance", "crs_to_chip"],
        "labelstudio": [
            "LS_IMAGE_PREFIX",
            "export_labelstudio",
            "labelling_config",
            "read_labelstudio",
        ],
        "yolo_obb": ["export_yolo_obb", "read_yolo_obb"],
    },
)
