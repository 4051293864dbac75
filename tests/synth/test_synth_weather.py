"""Winter scenes (snow, sea ice): colours change, the truth does not."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import pier2_spec

from detector.errors import ConfigError
from detector.synth.render import Canvas
from detector.synth.scene import render_scene
from detector.synth.training import training_sample
from detector.synth.weather import apply_snow


def _canvas() -> Canvas:
    """Left half water (dark), right half ground (asphalt grey) with one raised 'roof'."""
    c = Canvas.blank(200, 200, 0.5)
    c.rgb[:] = 0.3
    c.rgb[:, :100] = (0.05, 0.1, 0.12)
    c.water[:, :100] = 1
    c.height_m[50:80, 130:190] = 5.2
    return c


def test_snow_whitens_ground_tops_and_freezes_some_water():
    c = _canvas()
    before = c.rgb.copy()
    apply_snow(c, np.random.default_rng(0), 0.6)
    ground = np.zeros((200, 200), bool)
    ground[:, 100:] = True
    ground[50:80, 130:190] = False
    lum = c.rgb.mean(axis=2)
    assert lum[ground].mean() > before[ground].mean() + 0.15  # about 60 % of it snowed
    assert lum[:, :100].mean() > 0.15  # ice floes on the water
    assert 0.05 < 1 - c.water[:, :100].mean() < 0.8  # part of the water froze, not all
    assert lum.max() <= 0.95


def test_no_snow_changes_nothing_and_bad_cover_is_refused():
    c = _canvas()
    before = c.rgb.copy()
    apply_snow(c, np.random.default_rng(0), 0.0)
    np.testing.assert_array_equal(c.rgb, before)
    with pytest.raises(ConfigError, match="snow cover 1.5"):
        apply_snow(c, np.random.default_rng(0), 1.5)


def test_winter_scene_keeps_the_truth():
    plain = render_scene(pier2_spec(width=300, height=400))
    winter = render_scene(pier2_spec(width=300, height=400, snow=0.7))
    np.testing.assert_array_equal(plain.truth.cx, winter.truth.cx)
    np.testing.assert_array_equal(plain.truth.visible, winter.truth.visible)
    assert plain.region == winter.region
    v = plain.valid
    assert winter.image[:3, v].astype(float).mean() > plain.image[:3, v].astype(float).mean() + 10


def test_winter_training_tiles_use_their_own_random_stream():
    for seed in (3, 4):
        plain = training_sample(seed, size_px=96)
        never = training_sample(seed, size_px=96, snow=1e-12)  # the winter draw says no
        np.testing.assert_array_equal(plain.image, never.image)
        winter = training_sample(seed, size_px=96, snow=1.0)
        np.testing.assert_array_equal(plain.containers.cx, winter.containers.cx)
        assert np.abs(winter.image - plain.image).mean() > 0.02
        assert winter.image.mean() > plain.image.mean()


def test_cli_snow_option(tmp_path, capsys):
    from detector.cli.main import main

    args = ["synth", "scene", "--port", "rajin", "--seed", "1", "--out", str(tmp_path)]
    assert main([*args, "--snow", "1.5"]) == 2
    assert "--snow 1.5: expected a fraction 0..1" in capsys.readouterr().err
    assert main([*args, "--snow", "0.5", "--size", "128", "128"]) == 0
    truth = json.loads(next(tmp_path.glob("*.geojson")).read_text())
    assert truth["properties"]["snow"] == 0.5


def test_deep_snow_whitens_the_tops_edge_to_edge():
    patchy, deep = _canvas(), _canvas()
    apply_snow(patchy, np.random.default_rng(0), 0.6)
    apply_snow(deep, np.random.default_rng(0), 0.6, deep=True)
    roof = deep.height_m > 1.0
    lum_p, lum_d = patchy.rgb.mean(axis=2)[roof], deep.rgb.mean(axis=2)[roof]
    assert np.quantile(lum_d, 0.5) > 0.85  # white edge to edge, bare only in blotches
    assert 0.0 < (lum_d < 0.6).mean() < 0.2
    assert lum_d.mean() > lum_p.mean() + 0.05
    ground = (deep.height_m < 1.0) & (deep.water == 0) & (patchy.water == 0)
    # a deep snowfall lies on the ground too: cover 0.6 raised to DEEP_GROUND_COVER (0.8)
    g_p, g_d = patchy.rgb.mean(axis=2)[ground], deep.rgb.mean(axis=2)[ground]
    assert np.quantile(g_d, 0.2) > np.quantile(g_p, 0.2) + 0.05  # less bare ground (0.36 -> 0.48)


def _top_brightness(s) -> np.ndarray:
    im = s.image.mean(axis=0)
    x = np.clip(np.rint(s.containers.cx).astype(int), 0, im.shape[1] - 1)
    y = np.clip(np.rint(s.containers.cy).astype(int), 0, im.shape[0] - 1)
    return im[y, x]


@pytest.mark.parametrize("family", ["classic", "flat", "photo", "relief"])
def test_deep_snow_tiles_keep_the_truth_and_whiten_the_tops(family):
    """Same layout and truth; the tops at the box centres brighter (mean over 4 tiles with
    containers; measured 0.07-0.24 brighter); deep_snow 0 draws nothing."""
    gain = []
    for seed in (1000000, 1000001, 1000003, 1000004):
        kw = dict(size_px=128, snow=1.0, family=family, layouts="v2")
        plain = training_sample(seed, **kw)
        deep = training_sample(seed, deep_snow=1.0, **kw)
        np.testing.assert_array_equal(plain.containers.cx, deep.containers.cx)
        np.testing.assert_array_equal(plain.image, training_sample(seed, deep_snow=0.0, **kw).image)
        gain.append(_top_brightness(deep).mean() - _top_brightness(plain).mean())
    assert min(gain) > -0.05 and np.mean(gain) > 0.05, gain  # bare blotches: a tile may lose


def test_deep_snow_is_refused_where_it_is_not_drawn():
    from detector.model.config import TrainConfig

    with pytest.raises(ConfigError, match="deep_snow is not drawn by the oblique family"):
        training_sample(5, size_px=96, snow=1.0, deep_snow=0.5, family="oblique")
    with pytest.raises(ConfigError, match="deep_snow=1.5 outside 0..1"):
        training_sample(5, size_px=96, deep_snow=1.5)
    with pytest.raises(ConfigError, match="--deep-snow 2.0: expected a fraction 0..1"):
        TrainConfig(out=Path("m.pt"), deep_snow=2.0)
    assert "deep_snow" not in TrainConfig(out=Path("m.pt")).recipe()  # older recipes match
    assert TrainConfig(out=Path("m.pt"), deep_snow=0.5).recipe()["deep_snow"] == 0.5
