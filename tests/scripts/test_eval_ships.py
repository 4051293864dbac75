"""scripts/eval_ships.py: true hulls matched to found hulls by overlap, names compared."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import load_script


def _script():
    return load_script("eval_ships")


def _ship(x0: float, name: str, length: float, beam: float) -> dict:
    ring = [[x0, 0.0], [x0 + 0.001, 0.0], [x0 + 0.001, 0.0002], [x0, 0.0002], [x0, 0.0]]
    props = {"type": "ship", "name": name, "length_m": length, "beam_m": beam}
    return {
        "type": "Feature",
        "properties": props,
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def _write(path: Path, feats: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))


def test_compare_names_and_errors(tmp_path, capsys):
    world, run = tmp_path / "w", tmp_path / "r"
    _write(
        world / "truth" / "a.geojson", [_ship(0, "Angara", 132, 19), _ship(1, "Maria", 116, 17.5)]
    )
    _write(world / "truth" / "b.geojson", [_ship(0, "Lady R", 120, 21)])
    # a: Angara found 2 m long; Maria not found (the only hull found is far away)
    _write(
        run / "detections" / "a.detections.geojson",
        [_ship(0.0001, "Angara", 134, 19.5), _ship(5, "Maria", 116, 17)],
    )
    _write(run / "detections" / "b.detections.geojson", [_ship(0, "unknown", 119, 22)])
    rows = _script().compare(world, run)
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("a", "Angara", "Angara"), ("a", "Maria", "missed"), ("b", "Lady R", "unknown")
    ]  # fmt: skip
    assert rows[0][3:] == (2, 0.5) and rows[2][3:] == (-1, 1)
    assert _script().main([str(world), "--run", str(run)]) == 0
    out = capsys.readouterr().out
    assert "3 true hulls: 1 named right (33%), 1 unknown, 0 named wrong, 1 missed" in out
    assert _script().false_hulls(world, run) == [("a", "Maria", 116)]  # the far-away hull
    assert "hulls where there is no ship: 1 (1 given a registry name)" in out
