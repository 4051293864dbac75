"""`ccount info`: text and JSON output; bad scenes print one line and exit 2 at the end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from detector.cli.main import main

CCOUNT = Path(sys.executable).parent / "ccount"


def test_info_text(make_geotiff, capsys):
    p = make_geotiff("rajin_20230902T0212Z.tif", shape=(4, 200, 300), dtype="uint16",
                     max_value=2047, nodata=0, overviews=(2, 4))  # fmt: skip
    assert main(["info", str(p)]) == 0
    out = capsys.readouterr().out
    assert str(p) in out
    assert "300 x 200 px, 4 band(s) uint16, using bands 1,2,3" in out
    assert "EPSG:32652, GSD 0.500 m" in out
    assert "tiled, blocks 256 x 256, overviews [2, 4]" in out
    assert "2023-09-02T02:12:00Z" in out and "rajin" in out
    assert "nodata (nodata 0.0" in out and "b1: " in out


def test_info_json_and_options(make_geotiff, capsys):
    a = make_geotiff("a.tif", shape=(4, 64, 64), tiled=False)
    b = make_geotiff("b.tif", shape=(3, 64, 64), crs=None)
    assert main(["info", "--json", "--bands", "3,2,1", "--gsd", "0.3", str(a), str(b)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["scene"] for r in rows] == ["a", "b"]
    ra, rb = rows
    assert ra["bands"] == [3, 2, 1] and ra["band_count"] == 4 and ra["layout"] == "striped"
    assert ra["crs"] == "EPSG:32652" and abs(ra["gsd_m"] - 0.5) < 1e-9  # --gsd ignored
    assert ra["port"] == "rajin" and len(ra["footprint_lonlat"]) == 4
    assert ra["stretch"]["low"][0] < ra["stretch"]["high"][0]
    assert rb["crs"] is None and rb["gsd_m"] == 0.3 and rb["footprint_lonlat"] is None
    assert rb["port"] is None and rb["acquired"] is None and rb["mask"] == "none"
    assert ra["view"] is None and rb["view"] is None


def test_info_shows_the_view_from_the_products_tags(make_geotiff, capsys):
    p = make_geotiff("v.tif", tags={"MEAN_SAT_EL": "77.5", "MEAN_SAT_AZ": "211.0"})
    q = make_geotiff("w.tif", tags={"OFF_NADIR": "7.25"})  # no azimuth: no view
    assert main(["info", str(p), str(q)]) == 0
    out = capsys.readouterr().out
    assert (
        "view       12.5 deg from nadir, satellite at azimuth 211 deg (MEAN_SAT_EL, MEAN_SAT_AZ)"
        in out
    )
    assert "view       unknown (taken as nadir)" in out


def test_info_continues_after_bad_scene(make_geotiff, tmp_path, capsys):
    good = make_geotiff("good.tif")
    bad = tmp_path / "bad.tif"
    bad.write_text("not a raster")
    empty = make_geotiff("empty.tif", array=np.zeros((3, 64, 64), np.uint8), nodata=0)
    assert (
        main(["info", "--json", str(bad), str(good), str(tmp_path / "missing.tif"), str(empty)])
        == 2
    )
    cap = capsys.readouterr()
    assert [r["scene"] for r in json.loads(cap.out)] == ["good"]
    lines = cap.err.strip().splitlines()
    assert len(lines) == 3
    assert str(bad) in lines[0] and "missing.tif: file not found" in lines[1]
    assert str(empty) in lines[2] and "nodata" in lines[2]


def test_info_bad_bands_option(make_geotiff, capsys):
    assert main(["info", "--bands", "1,x", str(make_geotiff())]) == 2
    assert "--bands" in capsys.readouterr().err


def test_info_subprocess_truncated_file(make_geotiff):
    p = make_geotiff("cut.tif", shape=(3, 600, 600), compress=None)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) * 2 // 3])
    res = subprocess.run([str(CCOUNT), "info", str(p)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and str(p) in lines[0] and "truncated" in lines[0]
    assert "Traceback" not in res.stderr
