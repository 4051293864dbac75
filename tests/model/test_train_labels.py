"""Fine-tuning inputs: label sets (GeoJSON + GeoTIFF, COCO) become model-frame windows."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from detector.detections import Detections, Hull
from detector.errors import LabelError
from detector.labels.io import container_features, hull_features, write_geojson
from detector.model.labelset import boxes_from_corners, load_label_samples
from detector.model.train import TrainConfig, train
from detector.model.weights import load_model

GSD_NATIVE = 0.5  # scene pixels; the model frame is 0.4 m, so labels scale by 1.25
TINY = {"widths": [8, 16, 16, 32, 32], "depths": [0, 1, 1, 1, 1], "head_ch": 16}


def _scene_with_boxes(make_geotiff, name: str) -> tuple:
    """A 240 x 240 px GeoTIFF at 0.5 m with 6 bright 20ft containers (native pixels) on grey."""
    img = np.full((240, 240, 3), 60, np.uint8)
    n = 6
    d = Detections(
        [40.0, 40.0, 40.0, 150.0, 170.0, 190.0], [50.0, 55.0, 60.0, 160.0, 160.0, 160.0],
        [12.1] * n, [4.9] * n, [0.0, 0.0, 0.0, np.pi / 2, np.pi / 2, np.pi / 2], [0] * n,
        [1] * n, [1, 2, 3, 1, 1, 4],
    )  # fmt: skip
    for c in d.corners():
        cv2.fillPoly(img, [np.round(c * 16).astype(np.int32)], (250, 250, 250), shift=4)
    img[0, 0] = 0  # full 0..255 range for the stretch
    img[0, 1] = 255
    path = make_geotiff(name, array=np.ascontiguousarray(img.transpose(2, 0, 1)))
    return path, d


def _nearest(xy: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance to and index of the nearest ``ref`` point for each point of ``xy``."""
    dist = np.hypot(xy[:, None, 0] - ref[None, :, 0], xy[:, None, 1] - ref[None, :, 1])
    return dist.min(axis=1), dist.argmin(axis=1)


def _hull_error(mask: np.ndarray, origin: np.ndarray) -> float:
    """Share of a 64 px window's hull mask that disagrees with the test hull, at ``origin``."""
    c0, r0 = origin
    xs, ys = np.meshgrid(np.arange(64) + 0.5 + c0, np.arange(64) + 0.5 + r0)
    expect = (xs > 125) & (xs < 287.5) & (ys > 150) & (ys < 250)  # hull in model px
    return float(np.mean(mask != expect))


def test_boxes_from_corners_inverts_box_corners():
    rng = np.random.default_rng(0)
    n = 50
    d = Detections(
        rng.uniform(0, 100, n), rng.uniform(0, 100, n), rng.uniform(10, 30, n),
        rng.uniform(4, 7, n), rng.uniform(0, np.pi, n), np.zeros(n), np.ones(n), np.ones(n),
    )  # fmt: skip
    cx, cy, length, width, angle = boxes_from_corners(d.corners())
    assert np.allclose(cx, d.cx) and np.allclose(cy, d.cy)
    assert np.allclose(length, d.length_px) and np.allclose(width, d.width_px)
    da = np.abs(angle - d.angle_rad) % np.pi
    assert np.minimum(da, np.pi - da).max() < 1e-9


def test_geojson_label_set_maps_into_the_model_frame(make_geotiff, tmp_path):
    from detector.imagery.raster import open_scene

    scene_path, d = _scene_with_boxes(make_geotiff, "rajin_20240101T0000Z.tif")
    grid = open_scene(scene_path).grid  # native grid: labels written like truth files
    hull = Hull(np.array([[100.0, 120], [230, 120], [230, 200], [100, 200]]), 65.0, 40.0, 0.1)
    feats = container_features(d, grid=grid, region=["yard"] * 6, ship=[None] * 6, truth=True)
    feats += hull_features([hull], grid=grid)
    labels = tmp_path / "labels"
    write_geojson(
        labels / "rajin_20240101T0000Z.geojson",
        feats,
        {"scene": "rajin_20240101T0000Z", "crs": "EPSG:32652"},
    )
    samples = load_label_samples(
        tmp_path, size_px=64, rng=np.random.default_rng(0), windows_per_scene=8
    )
    assert len(samples) == 8
    s = 1.25  # native px per model px = 0.4 / 0.5 ... model px per native px
    for w in samples:
        assert (
            w.image.shape == (3, 64, 64) and w.bridge_mask is None and w.hull_mask.shape == (64, 64)
        )
        c = w.containers  # only the window's own containers (centres inside it)
        if len(c) == 0:  # one window in four is placed at random
            continue
        assert ((c.cx >= 0) & (c.cx < 64) & (c.cy >= 0) & (c.cy < 64)).all()
        assert np.allclose(c.length_px, 12.1 * s, atol=0.01) and np.allclose(
            c.width_px, 4.9 * s, atol=0.01
        )
        for x, y in zip(c.cx, c.cy, strict=True):  # bright where labelled
            assert w.image[:, int(y), int(x)].min() > 0.8
        # window origin: an offset that puts every container of the window on a label with
        # the same tiers (a regular row alone would allow several)
        labels_xy = np.c_[d.cx, d.cy] * s  # native -> model px
        xy = np.c_[c.cx, c.cy]
        origins = [
            o
            for o in labels_xy - xy[0]
            if _nearest(xy + o, labels_xy)[0].max() < 1e-3
            and np.array_equal(c.tiers, d.tiers[_nearest(xy + o, labels_xy)[1]])
        ]
        assert origins
        errors = [_hull_error(w.hull_mask, o) for o in origins]
        assert min(errors) < 0.03  # some consistent origin fits the hull
    total = sum(
        int(
            (
                (w.containers.cx >= 0)
                & (w.containers.cx < 64)
                & (w.containers.cy >= 0)
                & (w.containers.cy < 64)
            ).sum()
        )
        for w in samples
    )
    assert total >= 6  # windows are centred on labelled containers


def test_coco_label_set_and_fine_tuning(make_geotiff, tmp_path):
    scene_path, d = _scene_with_boxes(make_geotiff, "coco_scene.tif")
    anns = []
    for k, c in enumerate(d.corners()):
        anns.append(
            {
                "id": k + 1,
                "image_id": 1,
                "category_id": 1,
                "segmentation": [c.reshape(-1).tolist()],
                "bbox": [0, 0, 1, 1],
            }
        )
    coco = {
        "images": [{"id": 1, "file_name": scene_path.name, "width": 240, "height": 240}],
        "annotations": anns,
        "categories": [{"id": 1, "name": "20ft container"}],
    }
    (tmp_path / "labels.json").write_text(json.dumps(coco))
    samples = load_label_samples(
        tmp_path, size_px=64, rng=np.random.default_rng(1), windows_per_scene=4
    )
    assert len(samples) == 4
    c = samples[0].containers
    assert np.allclose(np.sort(c.length_px), 12.1 * 1.25, atol=0.05) and set(c.kind.tolist()) == {0}
    # tiny runs on the real synthetic generator: from scratch, then fine-tuned on the labels
    tiny = dict(steps=2, size_px=64, pool_size=3, val_samples=0, device="cpu", save_every=0)
    base = train(TrainConfig(out=tmp_path / "base.pt", batch_size=2, arch_kwargs=TINY, **tiny))
    tuned = train(
        TrainConfig(out=tmp_path / "tuned.pt", batch_size=4, init=base.path, labels=tmp_path,
                    label_fraction=0.5, **tiny)
    )  # fmt: skip
    _, meta = load_model(tuned.path)
    assert meta.recipe["labels"] == str(tmp_path) and meta.arch_kwargs == TINY


def test_empty_or_unpaired_label_folder_is_an_error(tmp_path):
    with pytest.raises(LabelError, match="no GeoJSON label files"):
        load_label_samples(tmp_path, size_px=64, rng=np.random.default_rng(0))
    (tmp_path / "lonely.geojson").write_text(
        json.dumps(
            {"type": "FeatureCollection", "features": [], "properties": {"scene": "missing_scene"}}
        )
    )
    with pytest.raises(LabelError, match="missing_scene.tif"):
        load_label_samples(tmp_path, size_px=64, rng=np.random.default_rng(0))
