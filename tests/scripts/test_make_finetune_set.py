"""scripts/make_finetune_set.py: stage-2 scenes, some in winter, the rest as without it."""

from __future__ import annotations

import json

from conftest import load_script


def _props(root):
    return {
        d.name: json.loads(next(d.glob("*.geojson")).read_text())["properties"]
        for d in sorted(root.iterdir())
    }


def test_winter_share_snows_some_scenes_and_keeps_every_layout(tmp_path):
    make = load_script("make_finetune_set")
    common = ["--n", "2", "--size", "400", "--jobs", "2", "--families", "classic=1,flat=3"]
    assert make.main([*common, "--out", str(tmp_path / "plain")]) == 0
    assert make.main([*common, "--out", str(tmp_path / "winter"), "--winter", "1"]) == 0
    plain, winter = _props(tmp_path / "plain"), _props(tmp_path / "winter")
    assert list(plain) == list(winter) == [f"s{50000 + i}" for i in range(2)]
    for name, p in plain.items():
        w = winter[name]
        assert p.get("snow", 0) == 0 and 0.3 <= w["snow"] <= 0.8
        assert w["containers_total"] == p["containers_total"] > 0
        assert w.get("family", "classic") == p.get("family", "classic")
    assert {p.get("family", "classic") for p in plain.values()} == {"classic", "flat"}
