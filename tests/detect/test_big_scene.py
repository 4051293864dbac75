"""Large scenes (issue 18): under ``--aoi`` the stretch comes from the port's pixels, so the
sea around a port cannot set it; a large scene without overviews opens from a bounded
sample, and its nodata mask is read only around the AOI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyproj
import pytest
import rasterio
import rasterio.transform
import shapely
from conftest import north_up, pier2_spec
from rasterio.windows import Window

from detector.cli.main import main
from detector.imagery.raster import open_scene


def _paste_into_sea(port: Path, out: Path, *, pad: tuple[int, int]) -> Path:
    """``port``'s pixels at their place inside a scene of open sea ``pad`` (x, y) px larger
    on each side: tiled DEFLATE, no overviews, written block by block."""
    with rasterio.open(port) as src:
        img, prof, tags = src.read(), src.profile, src.tags()
    _, h, w = img.shape
    sea = [float(np.percentile(b[b > 0], 3)) for b in img]  # the port's own water level
    px, py = pad
    prof.update(width=w + 2 * px, height=h + 2 * py, tiled=True, blockxsize=256,
                blockysize=256, compress="deflate",
                transform=prof["transform"] @ rasterio.Affine.translation(-px, -py))  # fmt: skip
    noise = np.random.default_rng(0).normal(0.0, 1.0, (3, 256, 256))
    with rasterio.open(out, "w", **prof) as dst:
        dst.update_tags(**tags)
        for r in range(0, prof["height"], 256):
            for c in range(0, prof["width"], 256):
                bh, bw = min(256, prof["height"] - r), min(256, prof["width"] - c)
                blk = np.stack([s * (1 + 0.03 * noise[k, :bh, :bw]) for k, s in enumerate(sea)])
                blk = blk.clip(1, 65535).astype(img.dtype)
                r0, r1 = max(r, py), min(r + bh, py + h)
                c0, c1 = max(c, px), min(c + bw, px + w)
                if r1 > r0 and c1 > c0:
                    blk[:, r0 - r : r1 - r, c0 - c : c1 - c] = img[:, r0 - py : r1 - py,
                                                                   c0 - px : c1 - px]  # fmt: skip
                dst.write(blk, window=Window(c, r, bw, bh))
    return out


def test_aoi_counts_a_port_alone_and_inside_a_sea_scene_alike(tmp_path):
    """The Rajin AOI (2 x 1 km) rendered at 1 m, 16-bit, alone and pasted into a scene of
    sea 25 times its area: the same count within 1 % with --aoi (before: 756 vs 11, the
    whole-scene stretch was all sea)."""
    from detector.imagery.aoi import load_port, project
    from detector.synth.export import write_scene
    from detector.synth.scene import render_scene

    x0, y0, x1, y1 = project(load_port("rajin").area, "EPSG:32652").bounds
    spec = pier2_spec(bits=16, gsd_m=1.0, width=2060, height=1060,
                      centre_xy_m=((x0 + x1) / 2, (y0 + y1) / 2))  # fmt: skip
    port, _ = write_scene(render_scene(spec), tmp_path)
    big = _paste_into_sea(port, tmp_path / "sea.tif", pad=(2 * 2060, 2 * 1060))
    with rasterio.open(big) as ds:
        assert ds.overviews(1) == [] and ds.profile["tiled"]
    totals = {}
    for p in (port, big):
        out = tmp_path / p.stem
        assert main(["detect", str(p), "--out", str(out), "--device", "cpu", "--aoi",
                     "--no-progress"]) == 0  # fmt: skip
        totals[p.stem] = json.loads((out / f"{p.stem}.counts.json").read_text())["totals"]
    alone, inside = totals[port.stem]["visible"], totals["sea"]["visible"]
    assert alone > 500
    assert abs(inside - alone) <= 0.01 * alone, (alone, inside)


def _corrupt_block(path: Path, row: int, col: int) -> None:
    """Overwrite block (row, col) of band 1 with bytes DEFLATE cannot inflate."""
    with rasterio.open(path) as ds:
        off = int(ds.get_tag_item(f"BLOCK_OFFSET_{col}_{row}", "TIFF", bidx=1))
        size = int(ds.get_tag_item(f"BLOCK_SIZE_{col}_{row}", "TIFF", bidx=1))
    with open(path, "r+b") as fh:
        fh.seek(off)
        fh.write(b"\xff" * size)


@pytest.fixture
def big_nodata_scene(make_geotiff, monkeypatch):
    """A 4096 x 4096 px 0.5 m scene with nodata 0, 128 px DEFLATE blocks, no overviews,
    over the north-west of the Rajin AOI, treated as "large" (the block-sample threshold
    lowered), with one block outside the AOI and the sample grid corrupt."""
    import detector.imagery.raster as raster

    monkeypatch.setattr(raster, "BLOCK_SAMPLE_MIN_PX", 1e6)
    rng = np.random.default_rng(1)
    img = rng.integers(1, 256, (3, 4096, 4096), dtype=np.uint8)
    path = make_geotiff("big.tif", array=img, transform=north_up(604000.0, 4680000.0, 0.5),
                        nodata=0, blocksize=128, overviews=())  # fmt: skip
    _corrupt_block(path, 1, 1)  # rows/cols 128-255: y 4679936-4679872 m, north of the AOI
    return path


def test_a_large_scene_without_overviews_opens_from_a_block_sample(big_nodata_scene):
    scene = open_scene(big_nodata_scene)  # a decimated read would hit the corrupt block
    assert scene.overviews == () and scene.mask_kind == "nodata"
    assert scene.stretch.low[0] == pytest.approx(6, abs=2)  # 2 % of 1..255
    assert scene.stretch.high[0] == pytest.approx(250, abs=2)


def test_aoi_detect_on_a_large_scene_reads_the_mask_around_the_aoi_only(
    big_nodata_scene, tmp_path, capsys
):
    out = tmp_path / "out"
    assert main(["detect", str(big_nodata_scene), "--out", str(out), "--device", "cpu",
                 "--aoi", "--no-progress"]) == 0  # fmt: skip
    tiles = json.loads((out / "big.counts.json").read_text())["tiles"]
    assert tiles["skipped_aoi"] > 0 and tiles["run"] > 0 and tiles["skipped_nodata"] == 0
    # without --aoi the whole mask is read, and the corrupt block with it: a one-line error
    assert main(["detect", str(big_nodata_scene), "--out", str(out / "all"), "--device",
                 "cpu", "--no-progress"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert f"{big_nodata_scene}: read failed" in err and "Traceback" not in err


def _moved_out_of_port(path: Path) -> None:
    """Move a scene 100 km west (no known port there) and drop its PORT tag, in place."""
    with rasterio.open(path) as ds:
        img, prof = ds.read(), ds.profile
        tags = {k: v for k, v in ds.tags().items() if k != "PORT"}
    prof["transform"] = prof["transform"] * rasterio.Affine.translation(-100_000 / 0.5, 0)
    with rasterio.open(path, "w", **prof) as dst:
        dst.write(img)
        dst.update_tags(**tags)


def _inner_containers(out: Path, stem: str, port: Path, margin_m: float = 40.0) -> list:
    """Sorted (x, y to 1 cm in the scene's CRS, kind, score) of the containers ``ccount
    detect`` wrote to ``out`` for ``stem`` whose centres lie more than ``margin_m`` inside
    the scene ``port``'s edges: farther than the network's context (80 px of 0.4 m), where
    the port alone sees the nodata beyond its edge and the pasted port sees sea."""
    with rasterio.open(port) as ds:
        x0, y0, x1, y1 = ds.bounds
        crs = ds.crs
    inner = shapely.box(x0 + margin_m, y0 + margin_m, x1 - margin_m, y1 - margin_m)
    to_crs = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    got = []
    for f in json.loads((out / f"{stem}.detections.geojson").read_text())["features"]:
        if f["properties"]["type"] != "container":
            continue
        cx, cy = to_crs.transform(*np.mean(f["geometry"]["coordinates"][0][:4], axis=0))
        if inner.contains(shapely.Point(cx, cy)):
            got.append((round(cx, 2), round(cy, 2), f["properties"]["kind"],
                        f["properties"]["score"]))  # fmt: skip
    return sorted(got)


@pytest.mark.parametrize("where", ["in a port", "outside any port"])
def test_a_port_alone_and_inside_a_sea_scene_count_alike_without_aoi(tmp_path, where):
    """The same 16-bit port pixels alone and pasted into open sea 25 times their area, no
    --aoi: the stretch leaves the flat sea out (from the port's AOI in a known port, from the
    scene's structured pixels elsewhere), so the stretch and the count away from the port
    scene's edges agree (before: the stretch came from a sample that was mostly sea, and
    the port saturated)."""
    from detector.synth.export import write_scene
    from detector.synth.scene import render_scene

    port, _ = write_scene(render_scene(pier2_spec(bits=16, width=400, height=640)), tmp_path)
    if where == "outside any port":
        _moved_out_of_port(port)
    big = _paste_into_sea(port, tmp_path / "sea.tif", pad=(640, 1024))
    counts, stretch = {}, {}
    for p in (port, big):
        out = tmp_path / p.stem
        assert main(["detect", str(p), "--out", str(out), "--device", "cpu",
                     "--no-progress"]) == 0  # fmt: skip
        counts[p.stem] = len(_inner_containers(out, p.stem, port))
        stretch[p.stem] = open_scene(p).stretch
    alone, inside = counts[port.stem], counts["sea"]
    assert alone >= 80  # of ~120 visible
    assert abs(inside - alone) <= 0.01 * alone, (alone, inside)
    for lo, hi, lo2, hi2 in zip(*(stretch[port.stem].to_dict().values()),
                                *(stretch["sea"].to_dict().values()), strict=True):  # fmt: skip
        assert abs(lo2 - lo) <= 0.05 * (hi - lo) and abs(hi2 - hi) <= 0.05 * (hi - lo)


def test_the_same_pixels_give_the_same_detections_at_any_offset_in_a_larger_scene(
    tmp_path, monkeypatch
):
    """The port pasted into sea at an offset that is no multiple of the network's stride
    (657 x 1043 px), both under one stretch (the port's; the stretch's own sampling is tested
    above): the tile grid sits on the world's grid, so the shared pixels run through the
    network at the same phase and give the same detections, not only about the same count
    (before: tiles started on each scene's own grid, and detections differed)."""
    from dataclasses import replace

    import detector.imagery.raster as raster
    from detector.synth.export import write_scene
    from detector.synth.portmap import feature_centre_m
    from detector.synth.scene import render_scene

    x, y = feature_centre_m("rajin", "Pier 2 east berth")
    spec = pier2_spec(
        bits=16, gsd_m=0.4, width=448, height=512, centre_xy_m=(x - 10, y + 10), stock=()
    )  # at the model's GSD: the frame is the pixel lattice
    port, _ = write_scene(render_scene(spec), tmp_path)
    big = _paste_into_sea(port, tmp_path / "sea.tif", pad=(657, 1043))
    stretch = open_scene(port).stretch
    real_open = raster.open_scene
    monkeypatch.setattr(raster, "open_scene",
                        lambda *a, **k: replace(real_open(*a, **k), stretch=stretch))  # fmt: skip
    found = {}
    for p in (port, big):
        out = tmp_path / p.stem
        assert main(["detect", str(p), "--out", str(out), "--device", "cpu",
                     "--no-progress"]) == 0  # fmt: skip
        found[p.stem] = _inner_containers(out, p.stem, port)
    alone, inside = found[port.stem], found["sea"]
    assert len(alone) >= 20 and len(inside) == len(alone)
    # the same boxes, to bfloat16 arithmetic on tiles of other shapes: each box of the port
    # alone has one in the pasted port within 0.5 m (1.25 px), of its kind and score
    a, b = np.array([c[:2] for c in alone]), np.array([c[:2] for c in inside])
    near = np.hypot(*(a[:, None, :] - b[None, :, :]).transpose(2, 0, 1)).argmin(axis=1)
    assert sorted(near) == list(range(len(b)))
    for i, j in enumerate(near):
        assert np.hypot(*(a[i] - b[j])) <= 0.5 and alone[i][2] == inside[j][2]
        assert abs(alone[i][3] - inside[j][3]) <= 0.02
