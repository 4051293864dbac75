"""The network, its targets and decoding: shapes, size, D4 augmentation, encode->decode round trip."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from detector.detections import Detections
from detector.model.decode import decode, decode_masks, find_peaks
from detector.model.net import (
    HEAD_CHANNELS,
    CCNetExport,
    build_ccnet,
    build_model,
    count_parameters,
    fuse_batchnorm,
)
from detector.model.targets import d4_transform, encode_targets, output_size

L20, L40, W = 15.15, 30.48, 6.1  # container footprints at 0.4 m/px


def _touching_blocks(rng, size_px: int, *, cell: int = 128) -> Detections:
    """Blocks of touching containers (rows side by side, bays end to end), one block per
    ``cell`` x ``cell`` square of the image, random angle and kind per block."""
    rows = []
    for oy in range(0, size_px, cell):
        for ox in range(0, size_px, cell):
            a = rng.uniform(0, np.pi)
            kind = int(rng.integers(0, 2))
            length = L20 if kind == 0 else L40
            c, s = np.cos(a), np.sin(a)
            nb, nr = (3, 9) if kind == 0 else (2, 8)
            for bay in range(nb):
                for row in range(nr):
                    u = (bay - (nb - 1) / 2) * length  # along the long axis, touching ends
                    v = (row - (nr - 1) / 2) * W  # across, touching sides
                    x = ox + cell / 2 + u * c - v * s + rng.uniform(-0.2, 0.2)
                    y = oy + cell / 2 + u * s + v * c + rng.uniform(-0.2, 0.2)
                    rows.append((x, y, length, W, a, kind, rng.integers(1, 5)))
    t = np.array(rows)
    return Detections(
        t[:, 0], t[:, 1], t[:, 2], t[:, 3], t[:, 4], t[:, 5], np.ones(len(t)), t[:, 6]
    )


def _outputs_from_targets(t, batch_axis: bool = True) -> dict[str, torch.Tensor]:
    """Perfect network outputs: the targets themselves (heatmap as logits)."""
    hm = torch.from_numpy(t.heatmap).clamp(1e-6, 1 - 1e-6)
    d = {
        "heatmap": torch.logit(hm),
        "size": torch.from_numpy(t.size),
        "angle": torch.from_numpy(t.angle),
        "offset": torch.from_numpy(t.offset),
        "tiers": torch.from_numpy(t.tiers),
        "hull": torch.logit(torch.from_numpy(t.hull)[None].clamp(1e-6, 1 - 1e-6)),
        "bridge": torch.logit(torch.from_numpy(t.bridge)[None].clamp(1e-6, 1 - 1e-6)),
    }
    return {k: v[None] for k, v in d.items()} if batch_axis else d


@pytest.mark.parametrize("hw", [(64, 64), (100, 130), (33, 257), (512, 512)])
def test_forward_shapes_any_size(hw):
    model = build_ccnet().eval()
    h, w = hw
    with torch.no_grad():
        out = model(torch.rand(2, 3, h, w))
    assert set(out) == set(HEAD_CHANNELS)
    for name, c in HEAD_CHANNELS.items():
        assert out[name].shape == (2, c, (h + 1) // 2, (w + 1) // 2), name
    assert output_size(h, w) == ((h + 1) // 2, (w + 1) // 2)
    assert float(out["offset"].min()) >= 0.0 and float(out["offset"].max()) <= 1.0


def test_parameter_budget_and_builders():
    model = build_model("ccnet-v1")
    n = count_parameters(model)
    assert 300_000 <= n <= 1_000_000  # design target; the hard cap is 5 M
    assert count_parameters(build_ccnet(widths=(8, 16, 16, 32, 32), head_ch=16)) < n / 10
    with pytest.raises(KeyError, match="unknown architecture"):
        build_model("resnet50")
    with pytest.raises(TypeError):
        build_ccnet((16, 32, 64, 96, 128))  # keyword-only


def test_tuple_wrapper_and_batchnorm_folding_match_dict_forward():
    torch.manual_seed(0)
    model = build_ccnet().train()
    with torch.no_grad():  # give BatchNorm non-trivial running statistics
        for _ in range(3):
            model(torch.rand(2, 3, 64, 64))
    model.eval()
    x = torch.rand(1, 3, 96, 160)
    with torch.no_grad():
        ref = model(x)
        tup = CCNetExport(model)(x)
        fused = fuse_batchnorm(copy.deepcopy(model))(x)
    for i, name in enumerate(HEAD_CHANNELS):
        torch.testing.assert_close(tup[i], ref[name])
        torch.testing.assert_close(fused[name], ref[name], atol=1e-4, rtol=1e-4)


def test_round_trip_recovers_hundreds_of_touching_rotated_containers():
    rng = np.random.default_rng(3)
    truth = _touching_blocks(rng, 512)
    assert len(truth) > 300
    t = encode_targets(truth, height=512, width=512)
    assert int(t.pos.sum()) == len(truth)  # every container owns its own cell
    (got,) = decode(_outputs_from_targets(t), score_thresh=0.5)
    assert len(got) == len(truth)  # no cap, no neighbour suppressed
    # pair each decoded box with the nearest true centre
    d2 = (got.cx[:, None] - truth.cx[None]) ** 2 + (got.cy[:, None] - truth.cy[None]) ** 2
    j = d2.argmin(axis=1)
    assert len(np.unique(j)) == len(truth)
    assert np.sqrt(d2[np.arange(len(got)), j]).max() < 0.5
    assert np.abs(got.length_px - truth.length_px[j]).max() < 1e-3
    assert np.abs(got.width_px - truth.width_px[j]).max() < 1e-3
    da = np.abs(got.angle_rad - truth.angle_rad[j]) % np.pi
    assert np.minimum(da, np.pi - da).max() < 1e-3
    assert np.array_equal(got.kind, truth.kind[j])
    assert np.allclose(got.tiers, truth.tiers[j])
    assert np.all((got.angle_rad >= 0) & (got.angle_rad < np.pi))
    assert np.allclose(got.score, 1.0, atol=1e-5)


def test_targets_keep_side_by_side_neighbours_apart():
    # two 20ft containers side by side, 6.1 px apart, at 30 degrees
    a = np.radians(30.0)
    nx, ny = -np.sin(a) * W, np.cos(a) * W
    d = Detections(
        [50.3, 50.3 + nx], [60.7, 60.7 + ny], [L20] * 2, [W] * 2, [a] * 2, [0, 0], [1, 1], [1, 1]
    )
    t = encode_targets(d, height=128, width=128)
    mid = int(np.floor((60.7 + ny / 2) / 2)), int(np.floor((50.3 + nx / 2) / 2))
    assert t.heatmap[0][mid] < 0.2  # a valley between the peaks
    assert t.heatmap[1].max() == 0.0  # nothing in the 40ft channel
    b, i, j, kind, score = find_peaks(
        torch.logit(torch.from_numpy(t.heatmap)[None].clamp(1e-6, 1 - 1e-6)), score_thresh=0.5
    )
    assert len(b) == 2 and torch.all(kind == 0)


def test_encode_skips_hidden_and_outside_and_bins_masks():
    d = Detections(
        [10.0, 10.0, 300.0],
        [10.0, 10.0, 5.0],
        [L20] * 3,
        [W] * 3,
        [0.0] * 3,
        [0, 0, 1],
        [1] * 3,
        [3, 2, 1],
        visible=[True, False, True],
    )
    hull = np.zeros((64, 64), bool)
    hull[:, :31] = True  # a boundary through cell column 15
    t = encode_targets(d, height=64, width=64, hull_mask=hull)
    assert t.pos.sum() == 1 and t.tiers[0, 5, 5] == 3.0
    assert np.isclose(t.offset[0, 5, 5], 0.0) and np.isclose(t.size[0, 5, 5], np.log(L20))
    assert t.hull_known and not t.bridge_known
    assert t.hull[0, 14] == 1.0 and t.hull[0, 15] == 0.5 and t.hull[0, 16] == 0.0
    assert t.bridge.shape == (32, 32) and t.bridge.max() == 0.0


def _map_point(x, y, *, transpose, flip_x, flip_y, h, w):
    if transpose:
        x, y, h, w = y, x, w, h
    if flip_x:
        x = w - x
    if flip_y:
        y = h - y
    return x, y


@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("flip_x", [False, True])
@pytest.mark.parametrize("flip_y", [False, True])
def test_d4_transform_moves_image_boxes_and_masks_together(transpose, flip_x, flip_y):
    h, w = 40, 64
    img = np.zeros((3, h, w), np.float32)
    r, c = 7, 20
    img[:, r, c] = 1.0  # a marker pixel with centre (20.5, 7.5)
    mask = img[0] > 0
    a = 0.3
    d = Detections([c + 0.5], [r + 0.5], [L20], [W], [a], [1], [0.9], [2])
    img2, d2, (m2, none) = d4_transform(
        img, d, (mask, None), transpose=transpose, flip_x=flip_x, flip_y=flip_y
    )
    assert none is None
    rr, cc = np.argwhere(img2[0] > 0)[0]
    assert np.argwhere(m2)[0].tolist() == [rr, cc]
    assert (np.floor(d2.cy[0]), np.floor(d2.cx[0])) == (rr, cc)
    assert (d2.cx[0], d2.cy[0]) == (cc + 0.5, rr + 0.5)
    # corners map like points, so the box turns with the image
    before = d.corners()[0]
    mapped = np.array(
        [
            _map_point(x, y, transpose=transpose, flip_x=flip_x, flip_y=flip_y, h=h, w=w)
            for x, y in before
        ]
    )
    after = d2.corners()[0]
    dist = np.abs(mapped[:, None, :] - after[None, :, :]).sum(-1)
    assert dist.min(axis=1).max() < 1e-9
    assert 0 <= d2.angle_rad[0] < np.pi and d2.kind[0] == 1 and d2.tiers[0] == 2


def test_decode_threshold_swap_and_batch_split():
    h = w = 16
    hm = torch.full((2, 2, h, w), -10.0)
    hm[0, 1, 3, 4] = 2.0  # p = 0.88, 40ft
    hm[0, 0, 10, 10] = -0.5  # p = 0.38
    hm[1, 0, 5, 5] = 0.0  # p = 0.5
    outs = {
        "heatmap": hm,
        "size": torch.zeros(2, 2, h, w),
        "angle": torch.zeros(2, 2, h, w),
        "offset": torch.full((2, 2, h, w), 0.25),
        "tiers": torch.full((2, 1, h, w), 0.2),
        "hull": torch.zeros(2, 1, h, w),
        "bridge": torch.zeros(2, 1, h, w),
    }
    outs["size"][:, 0] = np.log(6.0)  # length 6 ...
    outs["size"][:, 1] = np.log(15.0)  # ... narrower than width 15: swap, turn 90 degrees
    outs["angle"][:, 1] = 1.0  # 2a = 0
    a, b = decode(outs, score_thresh=0.3)
    assert len(a) == 2 and len(b) == 1
    k = int(np.argmax(a.score))
    assert a.kind[k] == 1 and np.isclose(a.score[k], 1 / (1 + np.exp(-2.0)))
    assert np.isclose(a.cx[k], (4 + 0.25) * 2) and np.isclose(a.cy[k], (3 + 0.25) * 2)
    assert np.isclose(a.length_px[k], 15.0) and np.isclose(a.width_px[k], 6.0)
    assert np.isclose(a.angle_rad[k], np.pi / 2)
    assert np.isclose(a.tiers[k], 0.2)  # the raw channel: its meaning is the weights' (.tiers)
    assert len(decode(outs, score_thresh=0.6)[0]) == 1
    hull, bridge = decode_masks(outs)
    assert hull.shape == (2, h, w) and torch.allclose(hull, torch.full_like(hull, 0.5))
    hull_px, _ = decode_masks(outs, output_size=(31, 29))
    assert hull_px.shape == (2, 31, 29)


def test_plateau_of_equal_scores_gives_one_peak():
    hm = torch.full((1, 2, 8, 8), -5.0)
    hm[0, 0, 2:4, 2:4] = 1.0  # a 2x2 plateau, as float16 outputs can make
    hm[0, 1, 6, 6] = 1.0  # an isolated peak of the same score
    b, i, j, kind, score = find_peaks(hm, score_thresh=0.3)
    assert sorted(zip(i.tolist(), j.tolist(), strict=True)) == [(3, 3), (6, 6)]
    assert kind.tolist() == [0, 1]


def test_peak_ties_match_the_dense_rule_on_coarse_maps():
    # logits on a coarse 0.5 grid: plateaus everywhere, across rows, batch items and edges
    g = torch.Generator().manual_seed(4)
    hm = torch.randint(-2, 3, (3, 2, 9, 7), generator=g).float() * 0.5
    b, i, j, kind, score = find_peaks(hm, score_thresh=0.4)
    # reference: a peak survives if no neighbouring peak in its 3x3 has a larger cell index
    s, _ = torch.sigmoid(hm).max(dim=1)
    peak = (s == F.max_pool2d(s[:, None], 3, 1, 1)[:, 0]) & (s >= 0.4)
    index = torch.arange(9 * 7, dtype=torch.float32).view(1, 9, 7)
    ranked = torch.where(peak, index, torch.full_like(s, -1.0))
    peak &= ranked == F.max_pool2d(ranked[:, None], 3, 1, 1)[:, 0]
    want = peak.nonzero(as_tuple=True)
    assert len(want[0]) > 10 and int((~peak & (s >= 0.4)).sum()) > 10
    assert [t.tolist() for t in (b, i, j)] == [t.tolist() for t in want]


@pytest.mark.needs_cuda
def test_decode_on_cuda_matches_cpu():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    t = encode_targets(_touching_blocks(np.random.default_rng(5), 256), height=256, width=256)
    outs = _outputs_from_targets(t)
    (cpu,) = decode(outs)
    (gpu,) = decode({k: v.cuda() for k, v in outs.items()})
    assert len(cpu) == len(gpu)
    assert np.allclose(cpu.cx, gpu.cx, atol=1e-4) and np.array_equal(cpu.kind, gpu.kind)
