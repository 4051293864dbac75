"""Synthetic worlds: true loads, planned scenes, and world.json agreeing with the truth files."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from detector.cli.main import main
from detector.labels.io import read_containers
from detector.labels.voyages import parse_voyages, read_voyages
from detector.paths import labels_dir
from detector.ships import load_registry
from detector.synth.world import ROLES, plan_world


@pytest.fixture(scope="module")
def voyages():
    return read_voyages(labels_dir() / "voyages.csv")


def test_plan_is_deterministic_and_first_k_is_a_prefix(voyages):
    t1, s1 = plan_world(voyages, 7)
    t2, s2 = plan_world(voyages, 7)
    assert t1 == t2 and [p.spec for p in s1] == [p.spec for p in s2]
    t6, s6 = plan_world(voyages[:6], 7)
    assert t6 == t1[:6]
    assert [p.spec for p in s6] == [p.spec for p in s1 if p.voyage <= voyages[5].voyage]
    assert [v.containers for v in plan_world(voyages, 8)[0]] != [v.containers for v in t1]


def test_loads_destinations_and_scenes(voyages):
    truths, scenes = plan_world(voyages, 1)
    assert len(truths) == 64
    cap = {s.name: s.deck_slots * 4 for s in load_registry()}
    for v in truths:
        mean = 220 if v.ship == "Maia-1" else 250
        assert 0.85 * mean - 1 <= v.containers <= min(1.15 * mean + 1, cap[v.ship])
        assert v.destination in ("vostochny", "dunai")
        assert 2 <= (v.arrival_date - v.rajin_date).days <= 4
    total = sum(v.containers for v in truths)
    assert 64 * 230 < total < 64 * 262  # ~16,000 containers over 64 trips
    assert Counter(v.destination for v in truths)["vostochny"] > 32
    ids = [p.scene_id for p in scenes]
    assert len(ids) == len(set(ids))
    assert len({(p.spec.port, p.spec.acquired.date()) for p in scenes}) == len(scenes)
    roles = Counter(p.role for p in scenes)
    assert set(roles) == set(ROLES)
    imaged = {p.voyage for p in scenes}
    assert 0 < 64 - len(imaged) < 20  # some voyages were never imaged
    assert (
        any(p.spec.cloud > 0 for p in scenes)
        and sum(p.spec.cloud > 0 for p in scenes) < len(scenes) / 4
    )
    for p in scenes:
        s = p.spec
        assert 1500 <= s.width == s.height <= 2200 and 0.3 <= s.gsd_m <= 0.6
        hour = s.acquired.hour + s.acquired.minute / 60
        assert 1.5 <= hour <= 3.0 and str(s.acquired.tzinfo) == "UTC"
        v = truths[p.voyage - 1]
        if p.role in ("loaded", "arrival"):
            assert [(sv.name, sv.containers) for sv in s.ships] == [(v.ship, v.containers)]
        if p.role == "pier_before":
            assert (
                s.port == "rajin"
                and s.stock[0].area == "Pier 2"
                and s.stock[0].containers >= v.containers
            )
        if p.role == "after_unload":
            assert (
                s.port == v.destination
                and s.stock[0].containers + s.rail_containers == v.containers
            )


def _small_case():
    """A one-voyage log and a seed whose plan has a pier_before and a loaded scene only."""
    for seed in range(200):
        vs = parse_voyages("voyage,ship,rajin_date\n1,Maia-1,2024-01-10\n")
        _, scenes = plan_world(vs, seed)
        if sorted(p.role for p in scenes) == ["loaded", "pier_before"] and not any(
            p.spec.cloud for p in scenes
        ):
            return seed
    raise AssertionError("no seed found")


def test_build_world_matches_truth(tmp_path):
    seed = _small_case()
    csv = tmp_path / "v.csv"
    csv.write_text("voyage,ship,rajin_date\n1,Maia-1,2024-01-10\n2,Angara,2024-01-20\n")
    out = tmp_path / "w"
    assert (
        main(
            [
                "synth",
                "world",
                "--voyages",
                str(csv),
                "--out",
                str(out),
                "--seed",
                str(seed),
                "--first",
                "1",
            ]
        )
        == 0
    )
    world = json.loads((out / "world.json").read_text())
    assert world["seed"] == seed and len(world["voyages"]) == 1
    v = world["voyages"][0]
    assert v["ship"] == "Maia-1" and v["teu"] == v["containers"]
    rows = {r["role"]: r for r in world["scenes"]}
    assert set(rows) == {"pier_before", "loaded"}
    for r in world["scenes"]:
        assert (out / r["file"]).is_file() and r["scene"].startswith("rajin_202401")
        t = read_containers(out / r["truth"])
        assert len(t) == r["containers_total"] and int(t.visible.sum()) == r["containers_visible"]
    loaded = read_containers(out / rows["loaded"]["truth"])
    deck = loaded.region == "deck"
    assert int(deck.sum()) == v["containers"] and set(loaded.ship[deck]) == {"Maia-1"}
    assert rows["loaded"]["ship"] == "Maia-1" and rows["pier_before"]["ship"] is None
    before = read_containers(out / rows["pier_before"]["truth"])
    assert int((before.region == "deck").sum()) == 0
    assert int((before.region == "quay").sum()) >= v["containers"]
    tiers = loaded.tiers[deck & loaded.visible]
    assert np.all((tiers >= 1) & (tiers <= 4))
    assert main(["synth", "world", "--voyages", str(tmp_path / "none.csv"), "--out", str(out)]) == 2


def test_winter_world_changes_only_the_snow_of_winter_scenes(voyages):
    truths, plain = plan_world(voyages, 7)
    wtruths, winter = plan_world(voyages, 7, winter=0.6)
    assert wtruths == truths
    assert len(winter) == len(plain)
    snowy = 0
    for p, w in zip(plain, winter, strict=True):
        assert replace(w.spec, snow=0.0) == p.spec and (w.role, w.voyage) == (p.role, p.voyage)
        if w.spec.snow:
            snowy += 1
            assert w.spec.acquired.month in (12, 1, 2, 3) and 0.3 <= w.spec.snow <= 0.8
    n_winter = sum(p.spec.acquired.month in (12, 1, 2, 3) for p in plain)
    assert 0.4 * n_winter < snowy < 0.8 * n_winter


def test_cli_world_rejects_a_bad_winter_chance(tmp_path, capsys):
    from detector.cli.main import main

    args = [
        "synth",
        "world",
        "--voyages",
        str(labels_dir() / "voyages.csv"),
        "--out",
        str(tmp_path),
        "--winter",
        "2",
    ]
    assert main(args) == 2
    assert "--winter 2.0: expected a probability 0..1" in capsys.readouterr().err
