"""TorchPredictor: mirrored test-time passes and CPU bfloat16, against plain float32."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from detector.detect.predictor import TorchPredictor
from detector.model.runtime import cpu_bf16
from detector.paths import default_model_path


class _BlobNet(nn.Module):
    """Stride-2 maps from the image alone. ``shift`` moves the heatmap one cell right, which a
    mirrored pass moves left: only the plain pass keeps it, so TTA changes the result."""

    def __init__(self, shift: bool = False) -> None:
        super().__init__()
        self.shift = shift
        self.calls = 0

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        self.calls += 1
        g = F.avg_pool2d(x.mean(dim=1, keepdim=True), 2)  # [B, 1, H/2, W/2]
        g = F.avg_pool2d(g, 3, stride=1, padding=1)
        heat = 12.0 * (g - 0.5)
        if self.shift:
            heat = torch.roll(heat, 1, dims=3)
        b, _, h, w = g.shape
        z = torch.zeros(b, 1, h, w)
        return {
            "heatmap": torch.cat([heat, heat - 5.0], 1), "size": torch.cat([z + 2.7, z + 1.8], 1),
            "angle": torch.cat([z, z + 1.0], 1), "offset": torch.cat([z + 0.5, z + 0.5], 1),
            "tiers": z + 2.0, "hull": z, "bridge": z,
        }  # fmt: skip


def _tiles(n: int = 2, size: int = 64) -> np.ndarray:
    img = np.zeros((n, 3, size, size), np.float32)
    rng = np.random.default_rng(0)
    for k in range(n):
        for _ in range(5):
            r, c = rng.integers(4, size - 8, 2)
            img[k, :, r : r + 5, c : c + 5] = 1.0
    return img


def _centres(outputs) -> list[list[tuple[float, float]]]:
    return [sorted(zip(o.dets.cx.tolist(), o.dets.cy.tolist(), strict=True)) for o in outputs]


def test_tta_runs_four_passes_and_leaves_a_mirror_symmetric_model_unchanged():
    net = _BlobNet()
    plain = TorchPredictor(net, device="cpu", score_thresh=0.5, amp=False)
    tta = TorchPredictor(net, device="cpu", score_thresh=0.5, amp=False, tta=True)
    tiles = _tiles()
    a = _centres(plain(tiles))
    calls = net.calls
    b = _centres(tta(tiles))
    assert net.calls - calls == 4  # plain + left-right + top-bottom + both
    assert sum(map(len, a)) >= 6 and a == b  # mirrors map back onto the same cells


def test_tta_averages_the_mirrored_heatmaps_and_handles_odd_sizes():
    net = _BlobNet(shift=True)
    plain = TorchPredictor(net, device="cpu", score_thresh=0.5, amp=False)
    tta = TorchPredictor(net, device="cpu", score_thresh=0.5, amp=False, tta=True)
    tiles = _tiles()
    assert _centres(plain(tiles)) != _centres(tta(tiles))  # the shift is averaged away
    symmetric = _BlobNet()
    odd = _tiles(1, 63)  # padded by one pixel for the mirrored passes, then cropped back
    a = TorchPredictor(symmetric, device="cpu", score_thresh=0.5, amp=False)(odd)
    b = TorchPredictor(symmetric, device="cpu", score_thresh=0.5, amp=False, tta=True)(odd)
    assert len(b[0].dets) >= 3 and _centres(a) == _centres(b)


def test_tta_mirrors_only_the_tiles_whose_plain_pass_reaches_the_floor():
    net = _BlobNet(shift=True)  # the plain pass alone keeps the shift: TTA moves its peaks
    tiles = _tiles(3)
    tiles[1] = 0.0
    tiles[1, :, 30:36, 30:36] = 0.2  # a faint blob: plain peak ~0.03, under the 0.05 floor
    kw = {"device": "cpu", "score_thresh": 0.01, "amp": False}
    plain = _centres(TorchPredictor(net, **kw)(tiles))
    every = TorchPredictor(net, **kw, tta=True, tta_floor=0.0)
    gated = TorchPredictor(net, **kw, tta=True, tta_floor=0.05)
    mirrored = _centres(every(tiles))
    calls = net.calls
    got = _centres(gated(tiles))
    assert net.calls - calls == 4  # plain + three mirrored passes of the two busy tiles
    assert gated.tta_tiles == [2, 3] and every.tta_tiles == [3, 3]
    assert len(plain[1]) == 1 and plain[1] != mirrored[1]  # the faint blob's peak moves...
    assert got[1] == plain[1]  # ...unless its tile is under the floor: the plain map stands
    assert got[0] == mirrored[0] != plain[0] and got[2] == mirrored[2] != plain[2]
    quiet = TorchPredictor(net, **kw, tta=True)
    assert _centres(quiet(tiles[1:2])) == [plain[1]] and quiet.tta_tiles == [0, 1]


@pytest.mark.skipif(not cpu_bf16(), reason="this CPU has no native bfloat16")
@pytest.mark.skipif(not default_model_path().is_file(), reason="needs the shipped weights")
def test_cpu_bfloat16_finds_the_same_containers_as_float32():
    from detector.model.weights import load_model
    from detector.synth.training import training_sample

    module, _ = load_model(default_model_path(), device="cpu")
    # 16 tiles, ~840 containers: on 4 (~150) a few peaks next to the threshold moved the
    # count by up to 2.7 % (3 to 4 boxes) between weights
    tiles = np.stack([training_sample(70 + k, size_px=256, out_gsd_m=0.4).image for k in range(16)])
    fast = TorchPredictor(module, device="cpu", score_thresh=0.42)
    exact = TorchPredictor(module, device="cpu", score_thresh=0.42, amp=False)
    assert fast.amp_dtype == torch.bfloat16 and exact.amp_dtype is None
    a, b = fast(tiles), exact(tiles)
    n_a, n_b = sum(len(o.dets) for o in a), sum(len(o.dets) for o in b)
    assert n_b > 50 and abs(n_a - n_b) <= 0.02 * n_b
    for oa, ob in zip(a, b, strict=True):  # the same containers, nearly the same places
        if len(ob.dets) and len(oa.dets):
            d = np.hypot(ob.dets.cx[:, None] - oa.dets.cx, ob.dets.cy[:, None] - oa.dets.cy)
            assert np.median(d.min(axis=1)) < 0.5
