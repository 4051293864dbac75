"""The scene stretch leaves flat areas out (open sea, nodata), so the same port pixels are
stretched alike whatever surrounds them (issue 15, item 6)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from detector.cli.main import main
from detector.imagery.stretch import compute_stretch, nominal_range, scene_stretch


def _port(rng, dtype, top) -> np.ndarray:
    """[3, 400, 400] a busy scene: stacks of random brightness on tarmac, with shadows."""
    img = rng.integers(int(0.3 * top), int(0.5 * top), (3, 400, 400))
    for _ in range(600):
        r, c = rng.integers(0, 390, 2)
        img[:, r : r + 8, c + 4 : c + 6] = int(0.1 * top)  # the stack's shadow
        img[:, r : r + 8, c : c + 4] = rng.integers(int(0.2 * top), int(0.9 * top), (3, 1, 1))
    return img.astype(dtype)


@pytest.mark.parametrize(("dtype", "top"), [("uint8", 255), ("uint16", 2047)])
def test_a_port_alone_and_inside_sea_and_nodata_gets_the_same_stretch(dtype, top):
    rng = np.random.default_rng(0)
    port = _port(rng, dtype, top)
    big = np.empty((3, 2000, 2000), dtype)
    big[:] = (0.12 * top * (1 + 0.03 * rng.normal(size=(2000, 2000)))).astype(dtype)  # sea
    big[:, 400:800, 600:1000] = port
    valid = np.ones((2000, 2000), bool)
    valid[1800:] = False  # nodata strip
    alone, share_alone = scene_stretch(port, sample_gsd_m=1.0)
    inside, share = scene_stretch(big, valid, sample_gsd_m=1.0)
    assert share_alone == 1.0 and 0.04 < share < 0.05  # the port (and its edge blocks)
    for a, b in zip(alone.low + alone.high, inside.low + inside.high, strict=True):
        assert abs(a - b) <= 0.02 * top
    old = compute_stretch(big, valid)  # before: the sea set it
    assert old.high[0] < 0.6 * alone.high[0]


def test_all_flat_falls_back_to_every_valid_pixel():
    sea = np.full((1, 300, 300), 40, np.uint8)
    sea[0, :, 150:] = 44
    st, share = scene_stretch(sea, sample_gsd_m=1.0)
    assert share == 1.0 and (st.low[0], st.high[0]) == (40.0, 44.0)


def test_nominal_range_rounds_up_to_a_power_of_two():
    a = np.array([[[0, 1500]], [[0, 90]]], np.uint16)
    assert list(nominal_range(a)) == [2047.0, 255.0]


def test_info_says_what_set_the_stretch(make_geotiff, capsys):
    path = make_geotiff("far.tif", origin=(500000, 4600000))
    assert main(["info", str(path), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    got = got[0] if isinstance(got, list) else got
    assert got["stretch_from"].startswith("scene (")
