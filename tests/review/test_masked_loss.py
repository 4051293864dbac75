"""The reviewed label set's loss mask: unreviewed cells are neither container nor background."""

from __future__ import annotations

import numpy as np
import torch

from detector.detections import Detections
from detector.model.data import LabelSample, make_batch
from detector.model.losses import collate_targets, detection_loss, focal_loss
from detector.model.targets import encode_targets


def _dets(xs, ys):
    n = len(xs)
    return Detections(np.array(xs, float), np.array(ys, float), [15.0] * n, [6.0] * n,
                      [0.0] * n, [0] * n, [1.0] * n, [1.0] * n)  # fmt: skip


def test_focal_loss_mask():
    torch.manual_seed(0)
    t = encode_targets(_dets([20.0], [20.0]), height=64, width=64)
    gt = torch.from_numpy(t.heatmap)[None]
    logits = torch.randn(1, 2, 32, 32)
    plain = focal_loss(logits, gt)
    assert torch.allclose(focal_loss(logits, gt, torch.ones(1, 32, 32)), plain)
    # nothing known but the container's own cell: only its positive term is left
    known = torch.zeros(1, 32, 32)
    known[0, 10, 10] = 1.0
    pos = gt >= 1
    assert pos[0, 0, 10, 10] and pos.sum() == 1
    p = torch.sigmoid(logits)
    pos_term = (torch.nn.functional.logsigmoid(logits) * (1 - p) ** 2)[pos].sum()
    # the other class at that cell is known background
    neg_term = torch.nn.functional.logsigmoid(-logits[0, 1, 10, 10]) * p[0, 1, 10, 10] ** 2
    expect = -(pos_term + neg_term * (1 - gt[0, 1, 10, 10]) ** 4)
    assert torch.allclose(focal_loss(logits, gt, known), expect)
    # a false peak in unknown area costs nothing; in known area it does
    hot = logits.clone()
    hot[0, 0, 25, 25] = 8.0
    assert torch.allclose(focal_loss(hot, gt, known), focal_loss(logits, gt, known))
    assert focal_loss(hot, gt) > focal_loss(logits, gt)


def test_make_batch_carries_the_mask_and_plain_sets_stay_unmasked():
    img = np.zeros((3, 64, 64), np.float32)
    mask = np.zeros((64, 64), bool)
    mask[:, :32] = True  # left half reviewed
    masked = LabelSample(img, _dets([10.0], [10.0]), loss_mask=mask)
    plain = LabelSample(img, _dets([10.0], [10.0]))
    rng, gen = np.random.default_rng(0), torch.Generator().manual_seed(0)
    _, tb = make_batch([masked, plain], rng, gen, augment=False)
    assert tb.known is not None and tb.known.shape == (2, 32, 32)
    assert tb.known[0, :, :16].eq(1).all() and tb.known[0, :, 16:].eq(0).all()
    assert tb.known[1].eq(1).all()  # an unmasked sample in a masked batch: all known
    _, tb2 = make_batch([plain, plain], np.random.default_rng(0), gen, augment=False)
    assert tb2.known is None
    # augmented: the mask turns with the image (one reviewed half stays half)
    _, tb3 = make_batch([masked] * 4, np.random.default_rng(3), gen, augment=True)
    assert torch.allclose(tb3.known.mean(dim=(1, 2)), torch.full((4,), 0.5))
    out = {
        "heatmap": torch.zeros(4, 2, 32, 32), "offset": torch.zeros(4, 2, 32, 32),
        "size": torch.zeros(4, 2, 32, 32), "angle": torch.zeros(4, 2, 32, 32),
        "tiers": torch.zeros(4, 1, 32, 32), "hull": torch.zeros(4, 1, 32, 32),
        "bridge": torch.zeros(4, 1, 32, 32),
    }  # fmt: skip
    total, parts = detection_loss(out, tb3)
    assert np.isfinite(float(total)) and parts["heatmap"] > 0
    assert collate_targets([encode_targets(_dets([], []), height=8, width=8)]).known is None
