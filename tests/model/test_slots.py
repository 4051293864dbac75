"""Empty slots beside containers weigh more in the heatmap loss (--slot-negatives)."""

from __future__ import annotations

import numpy as np
import torch

from detector.detections import Detections
from detector.model.data import LabelSample, make_batch
from detector.model.losses import focal_loss
from detector.model.slots import ACROSS_PITCH, empty_slots, slot_weight_map
from detector.model.targets import encode_targets

W, L = 8.0, 20.0  # container width and length in pixels


def _row(xs, y=40.0, angle=0.0, visible=None):
    """Containers side by side: long axis at ``angle``, centres at ``xs`` along x."""
    n = len(xs)
    vis = np.ones(n, bool) if visible is None else np.asarray(visible)
    return Detections(np.array(xs, float), np.full(n, y), np.full(n, L), np.full(n, W),
                      np.full(n, angle), np.zeros(n, np.int8), np.ones(n), np.ones(n),
                      vis)  # fmt: skip


def test_slots_are_the_gaps_and_borders_of_a_row():
    p = ACROSS_PITCH * W
    # a block of five slots across (long axis vertical, so "across" is x) with the middle empty
    d = _row([20 + k * p for k in (0, 1, 3, 4)], angle=np.pi / 2)
    slots = empty_slots(d, d)
    xs = sorted(np.round(slots[:, 0], 6))
    # the hole (reached from both sides), and one slot past each end of the block
    assert np.allclose(xs, [20 - p, 20 + 2 * p, 20 + 2 * p, 20 + 5 * p])
    assert np.allclose(slots[:, 1], 40.0)


def test_an_unseen_container_still_takes_its_slot():
    p = ACROSS_PITCH * W
    d = _row([20, 20 + p, 20 + 2 * p], angle=np.pi / 2, visible=[True, False, True])
    seen = d.select(d.visible)
    xs = np.sort(empty_slots(d, seen)[:, 0])
    assert np.allclose(xs, [20 - p, 20 + 3 * p])  # not the occluded middle one


def test_weight_map_peaks_at_the_hole_only():
    p = ACROSS_PITCH * W
    d = _row([20 + k * p for k in (0, 1, 3, 4)], angle=np.pi / 2)
    m = slot_weight_map(d, d, h=40, w=40, stride=2, extra=4.0)
    hole_cell = (int(40 / 2), int((20 + 2 * p) / 2))
    assert m[hole_cell] > 4.0  # 1 + 4 * a Gaussian close to 1
    assert m.min() == 1.0
    # the centre cells of the containers themselves carry no extra weight
    for x in (20, 20 + p, 20 + 3 * p):
        assert m[20, int(x / 2)] < 1.01
    assert np.array_equal(slot_weight_map(d, d, h=40, w=40, stride=2, extra=0.0), np.ones((40, 40)))


def test_focal_loss_weighs_negatives_only():
    torch.manual_seed(0)
    d = _row([20.0], angle=np.pi / 2)
    t = encode_targets(d, height=64, width=64)
    gt = torch.from_numpy(t.heatmap)[None]
    logits = torch.randn(1, 2, 32, 32)
    ones = torch.ones(1, 32, 32)
    assert torch.allclose(focal_loss(logits, gt, None, ones), focal_loss(logits, gt))
    # doubling every cell's weight doubles the negatives' share and leaves the positive's
    pos = gt >= 1
    assert pos.sum() == 1
    p = torch.sigmoid(logits)
    pos_part = -(torch.nn.functional.logsigmoid(logits) * (1 - p) ** 2)[pos].sum()
    plain = focal_loss(logits, gt)
    doubled = focal_loss(logits, gt, None, 2 * ones)
    assert torch.allclose(doubled - plain, plain - pos_part, atol=1e-5)
    assert float(plain - pos_part) > 0


def test_batches_carry_the_weights_when_asked():
    p = ACROSS_PITCH * W
    d = _row([20 + k * p for k in (0, 1, 3, 4)], angle=np.pi / 2)
    s = LabelSample(image=np.zeros((3, 64, 64), np.float32), containers=d)
    rng, gen = np.random.default_rng(0), torch.Generator().manual_seed(0)
    _, plain = make_batch([s], rng, gen, augment=False)
    assert plain.neg_weight is None
    _, tb = make_batch([s], rng, gen, augment=False, slot_negatives=4.0)
    assert tb.neg_weight.shape == (1, 32, 32)
    assert float(tb.neg_weight.max()) > 4.0
