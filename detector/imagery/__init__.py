"""Reading scenes: open and validate a GeoTIFF, read tiles in the model frame, stretch,
plan tiles, port AOIs, the sun, and writing GeoTIFFs. Only this subpackage opens rasters.

Public names are loaded on first use (``lazy_loader``), so importing the package is
cheap; each module's own ``__all__`` says what it offers."""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submodules=[
        "aoi",
        "geotiff",
        "meta",
        "prefetch",
        "raster",
        "reader",
        "scene",
        "stretch",
        "sun",
        "tiling",
    ],
    submod_attrs={
        "aoi": [
            "AOIFeature",
            "PortAOI",
            "REGION_KINDS",
            "load_port",
            "load_ports",
            "port_names",
            "port_of",
            "project",
            "resolve_port",
        ],
        "geotiff": ["write_geotiff"],
        "meta": [
            "acquisition_time",
            "footprint_lonlat",
            "gsd_of",
            "parse_time_tag",
            "time_from_name",
        ],
        "prefetch": ["Prefetcher"],
        "raster": ["aoi_stretch", "open_scene"],
        "reader": ["GAP_FILL_MAX_PX", "SceneReader", "fill_gaps", "rasterize_aoi"],
        "scene": [
            "CANONICAL_GSD_M",
            "DEFAULT_GSD_RANGE_M",
            "Grid",
            "MASK_KINDS",
            "MAX_PIXELS",
            "MAX_SIDE_PX",
            "SAMPLE_SIDE_PX",
            "Scene",
            "SceneNoCRSError",
            "TileImage",
            "utm_epsg",
        ],
        "stretch": [
            "HIGH_PERCENTILE",
            "LOW_PERCENTILE",
            "Stretch",
            "apply_stretch",
            "compute_stretch",
            "nominal_range",
            "scene_stretch",
            "structured_mask",
        ],
        "sun": ["scene_sun", "solar_declination_deg", "sun_position"],
        "tiling": [
            "MIN_TILE_PX",
            "Tile",
            "TilePlan",
            "Window",
            "axis_spans",
            "plan_tiles",
            "select_tiles",
        ],
    },
)
