"""Writing a rendered scene: ``<scene>.tif`` (tiled GeoTIFF with overviews, acquisition-time
tags) through :func:`detector.imagery.raster.write_geotiff`, and its truth ``<scene>.geojson``
through :mod:`detector.labels.io`."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

from rasterio.crs import CRS

from .._io import safe_name
from ..imagery.raster import Grid, write_geotiff
from ..labels.io import container_features, hull_features, write_geojson
from .scene import RenderedScene

__all__ = ["scene_properties", "write_scene"]


def _grid(rs: RenderedScene) -> Grid:
    return Grid(
        width=rs.spec.width,
        height=rs.spec.height,
        transform=rs.transform,
        crs=CRS.from_epsg(rs.epsg),
    )


def scene_properties(rs: RenderedScene) -> dict:
    """The truth collection's properties (see docs/contracts.md) plus render settings."""
    when = rs.spec.acquired.astimezone(UTC)
    family = {"family": rs.spec.family} if rs.spec.family != "classic" else {}
    return {
        "scene": rs.scene_id,
        "port": rs.spec.port,
        "acquired": f"{when:%Y-%m-%dT%H:%M:%S}Z",
        "gsd_m": rs.spec.gsd_m,
        "crs": f"EPSG:{rs.epsg}",
        "width": rs.spec.width,
        "height": rs.spec.height,
        "truth": True,
        "synthetic_seed": rs.spec.seed,
        "containers_total": rs.containers_total,
        "containers_visible": rs.containers_visible,
        "sun_elevation_deg": round(rs.sun_elevation_deg, 2),
        "sun_azimuth_deg": round(rs.sun_azimuth_deg, 2),
        "off_nadir_deg": round(rs.off_nadir_deg, 2),
        "view_azimuth_deg": round(rs.view_azimuth_deg, 2),
        "cloud": rs.spec.cloud > 0,
        "snow": rs.spec.snow,
        "bits": rs.spec.bits,
        "bands": rs.spec.bands,
        **family,
    }


def write_scene(rs: RenderedScene, out_dir: str | Path, *, truth_dir: str | Path | None = None):
    """Write ``out_dir/<scene>.tif`` and ``(truth_dir or out_dir)/<scene>.geojson``;
    returns (tif path, geojson path)."""
    out_dir = Path(out_dir)
    tdir = Path(truth_dir) if truth_dir is not None else out_dir
    when = rs.spec.acquired.astimezone(UTC)
    tags = {
        "TIFFTAG_DATETIME": f"{when:%Y:%m:%d %H:%M:%S}",
        "ACQUISITION_TIME": f"{when:%Y-%m-%dT%H:%M:%S}Z",
        "PORT": rs.spec.port,
        "SYNTHETIC": "ccount synth",
        # the view as Maxar's IMD names it (meanSatEl, meanSatAz): tops lean tan(off-nadir)
        "MEAN_SAT_EL": f"{90.0 - rs.off_nadir_deg:.2f}",
        "MEAN_SAT_AZ": f"{rs.view_azimuth_deg:.2f}",
        **{str(k): str(v) for k, v in rs.spec.extra_tags.items()},
        **({"SYNTH_FAMILY": rs.spec.family} if rs.spec.family != "classic" else {}),
    }
    name = safe_name(rs.scene_id)  # synthetic ids are safe already; kept for one rule
    tif = out_dir / f"{name}.tif"
    rgb8 = rs.spec.bits == 8
    write_geotiff(
        tif, rs.image, transform=rs.transform, crs=CRS.from_epsg(rs.epsg), nodata=0, tags=tags,
        blocksize=256, tiled=True, overviews=(2, 4, 8), compress="deflate",
        photometric="RGB" if rgb8 else "MINISBLACK",
        colorinterp=["red", "green", "blue", "nir"][: rs.spec.bands],
    )  # fmt: skip
    grid = _grid(rs)
    feats = container_features(rs.truth, grid=grid, region=rs.region, ship=rs.ship, truth=True)
    feats += hull_features(list(rs.hulls), grid=grid)
    geo = tdir / f"{name}.geojson"
    write_geojson(geo, feats, scene_properties(rs))
    return tif, geo
