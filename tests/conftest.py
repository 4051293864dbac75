"""Shared fixtures: small GeoTIFFs written with rasterio into ``tmp_path``.

``make_geotiff(name, ...)`` writes a scene and returns its path; by default a 3-band uint8
256 x 256 px tiled GeoTIFF at 0.5 m in UTM 52N placed on the Rajin port area.
``pier2_spec(**overrides)`` is a synthetic scene spec of Rajin Pier 2 (a ship at a berth,
stock on the pier) for tests that need a rendered port scene.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from affine import Affine

# fixtures of the review page and server tests (a conftest.py in tests/review would shadow
# this module for `from conftest import ...`: conftests share one module name)
pytest_plugins = ["review_fixtures"]

# upper-left corner (UTM 52N, EPSG:32652) of a patch inside the Rajin port AOI
RAJIN_UL = (605000.0, 4678600.0)
RAJIN_LONLAT = (130.2833, 42.2491)


def load_script(name: str):
    """The module ``scripts/<name>.py`` (scripts are not a package)."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def pier2_spec(**overrides):
    """A :class:`detector.synth.scene.SceneSpec` around Rajin Pier 2: Angara with 150
    containers at the east berth, 40 on the pier, 0.5 m, 520 x 1000 px; ``overrides`` win."""
    import datetime as dt

    from detector.synth.portmap import feature_centre_m
    from detector.synth.scene import SceneSpec, ShipVisit, StockSpec

    cx, cy = feature_centre_m("rajin", "Pier 2")
    base = dict(
        port="rajin", acquired=dt.datetime(2023, 9, 2, 2, 12, tzinfo=dt.UTC), seed=5,
        gsd_m=0.5, width=520, height=1000, centre_xy_m=(cx + 20, cy + 10),
        ships=(ShipVisit("Angara", "Pier 2 east berth", 150),), stock=(StockSpec("Pier 2", 40),),
        background=0.3, off_nadir_deg=8.0,
    )  # fmt: skip
    return SceneSpec(**{**base, **overrides})


def north_up(x_ul: float, y_ul: float, gsd: float, gsd_y: float | None = None) -> Affine:
    """A north-up transform with upper-left corner (x_ul, y_ul) and square (or gsd x gsd_y)
    pixels (like rasterio's ``from_origin``, without its deprecation warning)."""
    return Affine(gsd, 0.0, x_ul, 0.0, -(gsd if gsd_y is None else gsd_y), y_ul)


def random_image(shape, dtype="uint8", *, max_value=None, seed=0) -> np.ndarray:
    """A smooth-ish random image ``[bands, H, W]`` of ``dtype`` spanning 0..max_value."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if max_value is None:
        max_value = 1.0 if dt.kind == "f" else np.iinfo(dt).max
    base = rng.random(shape)
    yy, xx = np.mgrid[0 : shape[-2], 0 : shape[-1]]
    ramp = (xx + yy) / max(1, shape[-2] + shape[-1] - 2)
    img = 0.5 * base + 0.5 * ramp[None]
    out = img * max_value
    return out.astype(dt) if dt.kind == "f" else np.round(out).astype(dt)


@pytest.fixture
def make_geotiff(tmp_path):
    """Factory: ``make_geotiff(name="scene.tif", *, array=None, shape=(3, 256, 256),
    dtype="uint8", max_value=None, crs="EPSG:32652", gsd_m=0.5, origin=RAJIN_UL,
    transform=None, seed=0, **write_geotiff_kwargs) -> Path`` (file in ``tmp_path``).

    ``array`` (``[bands, H, W]``) overrides ``shape``/``dtype``; ``transform`` overrides
    ``gsd_m``/``origin`` (north-up); extra keywords go to :func:`detector.imagery.raster.write_geotiff`
    (``nodata``, ``tags``, ``tiled``, ``blocksize``, ``overviews`` (default none), ``bigtiff``,
    ``alpha``, ``mask``, ``photometric``, ``colorinterp``).
    """
    from detector.imagery.raster import write_geotiff

    def _make(
        name: str = "scene.tif",
        *,
        array: np.ndarray | None = None,
        shape=(3, 256, 256),
        dtype="uint8",
        max_value=None,
        crs="EPSG:32652",
        gsd_m: float = 0.5,
        origin=RAJIN_UL,
        transform=None,
        seed: int = 0,
        **kwargs,
    ) -> Path:
        if array is None:
            array = random_image(shape, dtype, max_value=max_value, seed=seed)
        if transform is None:
            transform = north_up(origin[0], origin[1], gsd_m)
        kwargs.setdefault("overviews", ())
        path = Path(tmp_path) / name
        write_geotiff(path, array, transform=transform, crs=crs, **kwargs)
        return path

    return _make
