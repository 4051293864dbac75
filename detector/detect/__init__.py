"""The detect pipeline: batches of scenes, the model on tiles, merge by ownership, ship
hulls and regions, counts, and the per-scene output files.

Public names are loaded on first use (``lazy_loader``), so importing the package is
cheap; each module's own ``__all__`` says what it offers."""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submodules=[
        "bands",
        "checks",
        "count",
        "finish",
        "hulls",
        "inference",
        "locate",
        "pipeline",
        "predictor",
        "progress",
    ],
    submod_attrs={
        "bands": [
            "BandJob",
            "BandRunner",
            "band_rows",
            "infer_band",
            "merge_bands",
            "run_bands",
            "split_bands",
        ],
        "checks": [
            "BAND_KINDS",
            "COVERAGE_WARN",
            "OBSERVED_MIN",
            "SceneCheck",
            "SceneRangeError",
            "aoi_coverage",
            "band_kind",
            "check_scene",
            "coverage_warning",
            "gap_share",
            "valid_share",
        ],
        "count": ["MAX_TIERS", "scene_counts", "summary", "tiers_clipped"],
        "finish": [
            "GPKG_LAYER",
            "InferredScene",
            "check_output_names",
            "finish_scene",
            "output_paths",
        ],
        "hulls": ["ShipHulls", "ShipTolerance", "find_hulls", "hull_geometry", "identify_ship"],
        "inference": [
            "InferenceSettings",
            "MapPart",
            "SceneInference",
            "SceneMaps",
            "TileOutput",
            "TilePredictor",
            "core_cells",
            "infer_scene",
            "owned",
            "paste_core",
            "tile_clusters",
        ],
        "locate": [
            "LAND_KINDS",
            "PixelAOI",
            "REGIONS",
            "Regions",
            "aoi_pixels",
            "assign_regions",
            "berth_of",
            "land_union",
        ],
        "pipeline": [
            "DetectConfig",
            "Detector",
            "SceneOutcome",
            "configure_process",
            "detect_scene",
            "detect_scenes",
            "iter_detect",
            "load_detector",
            "tiling_for",
        ],
        "predictor": ["TorchPredictor"],
        "progress": ["tqdm_progress"],
    },
)
