"""The robustness script's scene perturbation keeps everything but the RGB pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from conftest import load_script
from rasterio.transform import from_origin


def _script():
    return load_script("eval_robustness")


def _scene(path: Path) -> np.ndarray:
    rng = np.random.default_rng(0)
    data = rng.integers(200, 1800, size=(4, 64, 64)).astype(np.uint16)
    data[0, :, 32:] += 600  # a colour difference for desaturation to remove
    data[:, :, :6] = 0  # nodata border
    profile = dict(driver="GTiff", width=64, height=64, count=4, dtype="uint16", nodata=0,
                   crs="EPSG:32652", transform=from_origin(603500, 4679500, 0.5, 0.5))  # fmt: skip
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data)
        ds.update_tags(ACQUISITION_TIME="2024-01-15T02:30:00Z")
    return data


def _perturbed(tmp_path: Path, name: str) -> tuple[np.ndarray, np.ndarray, tuple, dict]:
    """(pixels before, pixels after, (dtype, bands, nodata), tags after) of one perturbation."""
    mod = _script()
    src, dst = tmp_path / "a.tif", tmp_path / "b.tif"
    before = _scene(src)
    mod.perturb_scene(src, dst, mod.PERTURBATIONS[name])
    with rasterio.open(dst) as ds:
        return before, ds.read(), (ds.dtypes[0], ds.count, ds.nodata), ds.tags()


def test_perturb_scene_changes_only_rgb_pixels(tmp_path):
    before, after, layout, tags = _perturbed(tmp_path, "desaturate")
    assert layout == ("uint16", 4, 0) and tags["ACQUISITION_TIME"] == "2024-01-15T02:30:00Z"
    assert np.array_equal(after[3], before[3])  # the 4th band is kept
    assert (after[:, :, :6] == 0).all() and (after[:3, :, 6:] > 0).all()
    gap = lambda d: float(d[0, :, 32:].mean() - d[1, :, 32:].mean())  # noqa: E731
    assert 0.2 < gap(after) / gap(before) < 0.4  # 30 % of the colour is left


def test_none_perturbation_round_trips(tmp_path):
    before, after, _, _ = _perturbed(tmp_path, "none")
    assert np.abs(after.astype(int) - before.astype(int)).max() <= 1
