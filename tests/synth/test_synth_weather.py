"""Winter scenes (snow, sea ice): colours change, the truth does not."""

from __future__ import annotations

import json

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
