"""Label and truth files (GeoJSON, GeoPackage, COCO), the voyage log, matching detections
to truth and evaluation. Only this subpackage reads and writes vector and CSV files.

Public names are loaded on first use (``lazy_loader``), so importing the package is
cheap; each module's own ``__all__`` says what it offers."""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submodules=["breakdown", "coco", "evaluate", "gpkg", "io", "match", "table", "voyages"],
    submod_attrs={
        "breakdown": ["recall_counts", "recall_rates", "format_recall"],
        "coco": ["CocoImage", "read_coco"],
        "evaluate": [
            "ContainerSet",
            "MATCH_RADIUS_M",
            "REGIONS",
            "Tally",
            "coco_ap",
            "evaluate_dirs",
            "evaluate_scene",
            "load_containers",
            "pair_files",
            "truth_without_predictions",
        ],
        "gpkg": ["polygon_wkb", "write_gpkg"],
        "io": [
            "ContainerTable",
            "container_features",
            "container_rings",
            "container_wkb",
            "hull_features",
            "read_containers",
            "read_geojson",
            "utm_epsg_for",
            "write_geojson",
        ],
        "match": ["match_centres"],
        "table": ["format_table"],
        "voyages": ["REQUIRED_COLUMNS", "Voyage", "parse_voyages", "read_voyages"],
    },
)
