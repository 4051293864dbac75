"""report.html: self-contained, with the expected sections, numbers and provenance."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from detector.cli.main import main
from detector.labels.voyages import Voyage
from detector.reconcile.core import reconcile, totals
from detector.reconcile.munitions import load_assumptions
from detector.report.html import month_range, render_report

CCOUNT = Path(sys.executable).with_name("ccount")
SHA = "abcdef0123456789" * 4
RAJIN = ("EPSG:32652", 605700.0, 4678100.0)


def _counts(scene, port, when, ships=(), stock=None, file=None):
    doc = {"scene": scene, "file": file, "port": port, "acquired": when,
           "model": {"path": "m.pt", "sha256": SHA}, "settings": {"tile": 512, "overlap": 64},
           "totals": {"visible": 0, "est": 0.0, "teu_est": 0.0}, "by_aoi": {}, "ships": []}  # fmt: skip
    for name, berth, vis, est in ships:
        doc["ships"].append({"name": name, "berth": berth, "visible": vis, "est": est})
    if stock:
        doc["by_aoi"]["Pier 2"] = {"visible": stock[0], "est": stock[1]}
    return doc


@pytest.fixture
def run_dir(tmp_path):
    """A run folder: one real (tiny) scene with two detections, counts for three scenes."""
    from rasterio.transform import from_origin

    from detector.imagery.raster import write_geotiff
    from detector.labels.io import write_geojson

    crs, x0, y0 = RAJIN
    scene = tmp_path / "img" / "rajin_20230903T0200Z.tif"
    img = np.full((3, 200, 200), 90, np.uint8)
    img[:, 80:90, 60:120] = 200
    write_geotiff(scene, img, transform=from_origin(x0, y0, 0.5, 0.5), crs=crs, overviews=())
    from pyproj import Transformer

    tr = Transformer.from_crs(crs, 4326, always_xy=True)

    def box(x, y, region):
        xs, ys = [x, x + 6, x + 6, x, x], [y, y, y - 2.4, y - 2.4, y]
        lon, lat = tr.transform(np.array(xs) + x0, y0 - np.array(ys))
        return {"type": "Feature", "properties": {"type": "container", "kind": "20ft",
                "score": 0.9, "region": region, "ship": None, "tiers_est": 2.0},
                "geometry": {"type": "Polygon", "coordinates": [list(map(list, zip(lon, lat, strict=True)))]}}  # fmt: skip

    det = tmp_path / "run" / "detections"
    det.mkdir(parents=True)
    write_geojson(det / "rajin_20230903T0200Z.detections.geojson",
                  [box(30, 40, "deck"), box(50, 60, "quay")], {"scene": "rajin_20230903T0200Z"})  # fmt: skip
    docs = [
        _counts(
            "rajin_20230903T0200Z",
            "rajin",
            "2023-09-03T02:00:00Z",
            [("Angara", "Pier 2 east berth", 100, 250)],
            file=str(scene),
        ),  # fmt: skip
        _counts(
            "dunai_20231012T0200Z",
            "dunai",
            "2023-10-12T02:00:00Z",
            [("Maria", "Dunai pier west berth", 90, 231)],
        ),  # fmt: skip
        _counts("vostochny_20231101T0300Z", "vostochny", "2023-11-01T03:00:00Z"),
    ]
    for d in docs:
        (det / f"{d['scene']}.counts.json").write_text(json.dumps(d))
    from detector.reconcile.munitions import saved_assumptions_json
    from detector.reconcile.truth_counts import precise_assumptions

    # the run's saved assumptions: a precise detector, so the counts show through unscaled
    (tmp_path / "run" / "assumptions.json").write_text(
        saved_assumptions_json(precise_assumptions())
    )
    (tmp_path / "run" / "voyages.csv").write_text(
        "voyage,ship,rajin_date\n1,Angara,2023-09-03\n2,Maria,2023-10-10\n3,Angara,2024-01-02\n"
    )
    return tmp_path / "run"


def _check_self_contained(text: str) -> None:
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.I)
    assert "<script" not in text.lower() and "<link" not in text.lower()
    assert "@import" not in text and "url(" not in text


def test_report_is_self_contained_with_sections_and_numbers(run_dir, capsys):
    assert main(["report", str(run_dir)]) == 0
    path = run_dir / "report.html"
    assert capsys.readouterr().out.strip() == f"report: {path}"
    text = path.read_text()
    _check_self_contained(text)
    for section in ("Timeline", "Containers per ship", "Per-voyage estimates",
                    "Scenes with detections", "Scenes and provenance", "Unmatched scenes",
                    "Assumptions", "Run"):  # fmt: skip
        assert f"<h2>{section}</h2>" in text, section
    pngs = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(pngs) == 4  # timeline, ships, voyages, one quicklook (only one scene file)
    for b in pngs:
        assert base64.b64decode(b)[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (run_dir / "totals.json").exists()  # `report` renders; it writes no other file
    # numbers: the observed voyages' estimates, the imputed one marked, provenance
    # what each voyage's imagery alone says, beside the pooled estimate
    assert re.search(r'<td>Angara</td><td>2023-09-03</td>.*?<td class="n">250 ± \d+</td>', text)
    assert re.search(r'<td>Maria</td><td>2023-10-10</td>.*?<td class="n">231 ± \d+</td>', text)
    assert '<tr class="imp"><td class="n">3</td>' in text
    from detector.report.shipments_io import run_inputs

    counts, voyages, assumptions = run_inputs(run_dir)
    for sh in reconcile(counts, voyages, assumptions).shipments:  # the pooled estimates
        lo, hi = sh.interval
        row = (f'<td>{sh.voyage.rajin_date}</td><td class="n">{sh.containers_est:,.0f}</td>'
               f'<td class="n">{lo:,.0f} – {hi:,.0f}</td>')  # fmt: skip
        assert row in text, row
    assert "rajin_20230903T0200Z</code> (2023-09-03 02:00Z)" in text
    assert SHA[:12] in text and "overlap=64, tile=512" in text
    assert "vostochny_20231101T0300Z" in text and "no loaded ship at a berth at Vostochny" in text
    assert "rounds_per_container_low" in text and "4,000,000 / 16,000 = 250" in text


def test_render_numbers_match_totals():
    a = load_assumptions()
    vs = [Voyage(i + 1, "Angara" if i % 2 else "Maria", dt.date(2024, 1, 1) + dt.timedelta(days=4 * i))
          for i in range(7)]  # fmt: skip
    docs = [_counts(f"rajin_202401{d:02d}T0200Z", "rajin", f"2024-01-{d:02d}T02:00:00Z",
                    [("Maria", "Pier 2 east berth", 100, 240 + d)]) for d in (1, 9)]  # fmt: skip
    r = reconcile(docs, vs, a)
    t = totals(r, a)
    text = render_report(r, t, a)
    _check_self_contained(text)
    c = t["containers"]
    assert f"<b>{c['est']:,.0f}</b><span>{c['low']:,.0f} – {c['high']:,.0f}</span>" in text
    assert "7 voyages in the log: 2 estimated from 2 scenes, 5 imputed" in text


def test_month_range():
    assert month_range("2023-11", "2024-02") == ["2023-11", "2023-12", "2024-01", "2024-02"]
    assert month_range("2024-05", "2024-05") == ["2024-05"]


def test_reconcile_cli_writes_outputs_and_report_subprocess(run_dir):
    res = subprocess.run([str(CCOUNT), "reconcile", str(run_dir), "--no-report"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "total:" in res.stdout and "imputed" in res.stdout
    t = json.loads((run_dir / "totals.json").read_text())
    assert t["voyages"] == {"total": 3, "observed": 2, "imputed": 1}
    assert (run_dir / "detections.gpkg").is_file()
    assert not (run_dir / "report.html").exists()
    from pyogrio.raw import read

    meta, _, _, fields = read(run_dir / "detections.gpkg", layer="detections")
    cols = dict(zip(meta["fields"], fields, strict=True))
    assert meta["crs"] == "EPSG:4326" and len(cols["scene"]) == 2
    assert set(cols["scene"]) == {"rajin_20230903T0200Z"} and set(cols["region"]) == {
        "deck",
        "quay",
    }


def _deck_features(ship: str) -> list[dict]:
    """Six deck stacks (2 x 3, 6.1 x 2.44 m) at Rajin with heights and intervals."""
    from pyproj import Transformer

    crs, x0, y0 = RAJIN
    tr = Transformer.from_crs(crs, 4326, always_xy=True)
    out = []
    for k, (est, lo, hi, src) in enumerate([(1, 1, 2, "shadow"), (2, 2, 2, "shadow"),
                                            (3, 2, 4, "shadow"), (4, 3, 4, "prior"),
                                            (2, 1, 3, "prior"), (3, 3, 3, "shadow")]):  # fmt: skip
        x, y = 30 + 6.3 * (k % 2), 40 + 2.6 * (k // 2)
        xs, ys = [x, x + 6.1, x + 6.1, x, x], [y, y, y + 2.44, y + 2.44, y]
        lon, lat = tr.transform(np.array(xs) + x0, y0 - np.array(ys))
        props = {"type": "container", "kind": "20ft", "score": 0.9, "region": "deck",
                 "ship": ship, "tiers_est": float(est), "tiers_low": float(lo),
                 "tiers_high": float(hi), "height_source": src,
                 "height_note": "chained" if k == 2 else ""}  # fmt: skip
        ring = [list(p) for p in zip(lon, lat, strict=True)]
        out.append({"type": "Feature", "properties": props,
                    "geometry": {"type": "Polygon", "coordinates": [ring]}})  # fmt: skip
    return out


def test_report_draws_one_deck_only_for_a_run_with_shadow_heights(run_dir, capsys):
    from detector.labels.io import write_geojson

    det = run_dir / "detections"
    scene = "rajin_20230903T0200Z"
    # the run as detected with the tier head (--heights net): no deck picture
    assert main(["report", str(run_dir)]) == 0
    text = (run_dir / "report.html").read_text()
    assert "Stack heights on one deck" not in text and "<svg" not in text
    # the same run detected with --heights shadow: the ship with most deck stacks is drawn
    ship = "Angara <b>&</b>"
    write_geojson(det / f"{scene}.detections.geojson",
                  _deck_features(ship) + _deck_features("Other")[:2], {"scene": scene})  # fmt: skip
    for path in det.glob("*.counts.json"):  # every scene counted so (one basis per run)
        counts = json.loads(path.read_text())
        counts["settings"]["heights"] = "shadow"
        counts["sun"] = {"elevation_deg": 41.0, "azimuth_deg": 150.0, "source": "metadata"}
        for block in [*counts["ships"], *counts["by_aoi"].values()]:  # the reconciler's sums
            n = int(block.get("visible", 0))
            block["heights"] = {"measured": {"n": 0, "est": 0, "span": 0, "span2": 0},
                                "prior": {"n": n, "est": 2.5 * n, "span": 4.0 * n,
                                          "span2": 16.0 * n}}  # fmt: skip
        path.write_text(json.dumps(counts))
    assert main(["report", str(run_dir)]) == 0
    capsys.readouterr()
    text = (run_dir / "report.html").read_text()
    _check_self_contained(text)
    assert "<h2>Stack heights on one deck</h2>" in text
    assert "Angara &lt;b&gt;&amp;&lt;/b&gt;" in text and ship not in text  # escaped
    assert f"<code>{scene}</code>: 6 stacks" in text
    svg = text[text.index("<svg") : text.index("</svg>")]
    labels = re.findall(r'dominant-baseline="central" transform="[^"]+">([^<]+)</text>', svg)
    assert sorted(labels) == sorted(["1 (1-2)", "2 (2-2)", "3 (2-4)", "4 (3-4)", "2 (1-3)",
                                     "3 (3-3)"])  # fmt: skip
    assert svg.count("<polygon") == 6
    assert svg.count('fill-opacity="0.45"') == 2  # the two priors drawn pale
    assert "sun az 150°, el 41°" in svg and "3 tiers (90 %: 2-4), shadow chained" in svg
    # fills follow the tiers: one colour per estimate
    fills = re.findall(r'<polygon points="[^"]+" fill="(#[0-9a-f]{6})"', svg)
    from detector.report.deck import TIER_COLOURS

    assert fills == [TIER_COLOURS[e - 1] for e in (1, 2, 3, 4, 2, 3)]


def test_deck_figure_reads_only_the_scenes_that_can_hold_the_largest_deck(tmp_path, monkeypatch):
    from pathlib import Path

    from detector.labels.io import write_geojson
    from detector.report.deck import deck_figure

    def scene(name: str, ships, n_feats: int) -> None:
        counts = {"scene": name, "settings": {"heights": "shadow"}, "sun": None}
        if ships is not None:
            counts["ships"] = [{"name": "A", "visible": v} for v in ships]
        (tmp_path / f"{name}.counts.json").write_text(json.dumps(counts))
        feats = _deck_features(f"ship-{name}")[:n_feats]
        write_geojson(tmp_path / f"{name}.detections.geojson", feats, {"scene": name})

    scene("a_small", [2], 2)
    scene("b_big", [6, 1], 6)
    scene("c_unsaid", None, 4)  # counts.json without ships: always read
    scene("d_smaller", [5], 5)
    read: list[str] = []
    real = Path.read_text

    def spy(self, *a, **k):
        if self.name.endswith(".detections.geojson"):
            read.append(self.name.split(".")[0])
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "read_text", spy)
    fig = deck_figure(tmp_path)
    assert fig.scene == "b_big" and fig.ship == "ship-b_big" and fig.stacks == 6
    assert read == ["c_unsaid", "b_big"]  # d (5) and a (2) cannot beat 6: never read
