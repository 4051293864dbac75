"""The torch model as a :class:`~detector.detect.inference.TilePredictor`: batch in, detections out.

``channels_last`` memory format on both devices (oneDNN's convolutions run ~2.5x faster in
it on CPU). CPU: the module's BatchNorms folded into its convs (in place); bfloat16 autocast
where oneDNN runs it natively (AVX512-BF16/AMX: ~1.5x faster, same test-set F1), else
float32. CUDA: autocast (bfloat16 where supported, else float16); inputs are pinned and
copied asynchronously. Always under ``torch.inference_mode``.

``tta``: test-time augmentation. The tiles also run mirrored left-right, top-bottom and both,
and the four centre heatmaps (mirrored back) are averaged as logits before peaks are found;
sizes, angles, offsets and the ship maps come from the plain pass. Four times the model work
for fewer misses and fewer ghosts (measured on the model card); the seams are unchanged, as
peaks are still decoded per tile. The mirrored passes run only on the tiles whose plain
heatmap reaches ``tta_floor`` somewhere (:data:`~detector.detect.plan.TTA_FLOOR`): open
sea costs one pass, as without ``--tta``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..model.runtime import autocast, infer_dtype
from .inference import TileOutput
from .plan import TTA_FLOOR

__all__ = ["TorchPredictor"]


class TorchPredictor:
    """Runs ``module`` (a :class:`detector.model.net.CCNet`-like network returning the dict of
    stride-2 maps) on float32 ``[B, 3, H, W]`` tiles and decodes the outputs.

    ``amp``: mixed precision (default on: float16/bfloat16 on CUDA, bfloat16 on CPUs with
    native support; ``False`` forces float32).
    """

    def __init__(
        self,
        module: nn.Module,
        *,
        device: str,
        score_thresh: float,
        amp: bool = True,
        channels_last: bool = True,
        tta: bool = False,
        tta_floor: float = TTA_FLOOR,
    ) -> None:
        self.device = torch.device(device)
        self.score_thresh = float(score_thresh)
        self.tta = bool(tta)
        self.tta_floor = float(tta_floor)
        f = self.tta_floor
        self._floor_logit = math.log(f / (1.0 - f)) if f > 0 else -math.inf
        #: tiles that ran the mirrored passes / all tiles seen (``--tta`` only)
        self.tta_tiles = [0, 0]
        cuda = self.device.type == "cuda"
        self.channels_last = bool(channels_last)
        module = module.eval()
        if not cuda:
            from ..model.net import fuse_batchnorm

            module = fuse_batchnorm(module)
        module = module.to(self.device)
        if self.channels_last:
            module = module.to(memory_format=torch.channels_last)
        self.module = module
        self.amp_dtype = infer_dtype(self.device, amp)
        if cuda and amp:
            torch.backends.cudnn.benchmark = True

    def _autocast(self):
        return autocast(self.device, self.amp_dtype)

    def _mirrored_heatmap(self, x: torch.Tensor, heatmap: torch.Tensor) -> torch.Tensor:
        """Mean heatmap logits of ``x`` and its three mirror images, mapped back.

        A stride-2 cell j of a W-pixel input mirrors to cell W/2 - 1 - j only for even sizes,
        so odd inputs are padded by one pixel (edge values) first."""
        h, w = x.shape[-2:]
        ph, pw = h % 2, w % 2
        xp = torch.nn.functional.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x
        maps = [heatmap.float()]
        for dims in ((3,), (2,), (2, 3)):
            flipped = torch.flip(xp, dims)
            if self.channels_last:
                flipped = flipped.contiguous(memory_format=torch.channels_last)
            back = torch.flip(self.module(flipped)["heatmap"].float(), dims)
            maps.append(back[..., : heatmap.shape[-2], : heatmap.shape[-1]])
        return torch.stack(maps).mean(dim=0)

    def _gated_tta(self, x: torch.Tensor, heatmap: torch.Tensor) -> torch.Tensor:
        """The heatmap logits with the mirrored passes averaged in on the tiles whose plain
        map reaches :attr:`tta_floor` (all of them at a floor of 0)."""
        busy = heatmap.flatten(1).amax(dim=1).float() >= self._floor_logit
        self.tta_tiles[0] += int(busy.sum())
        self.tta_tiles[1] += int(x.shape[0])
        if bool(busy.all()):
            return self._mirrored_heatmap(x, heatmap)
        merged = heatmap.float().clone()
        if bool(busy.any()):
            idx = busy.nonzero().flatten()
            merged[idx] = self._mirrored_heatmap(x[idx], heatmap[idx])
        return merged

    def __call__(self, images: np.ndarray) -> list[TileOutput]:
        from ..model.decode import decode, decode_masks

        # float32 as it comes (a channels-last view stays one: no copy here)
        x = torch.from_numpy(np.asarray(images, dtype=np.float32))
        if self.device.type == "cuda":
            x = x.pin_memory().to(self.device, non_blocking=True)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), self._autocast():
            out = self.module(x)
            if self.tta:
                out = {**out, "heatmap": self._gated_tta(x, out["heatmap"])}
        with torch.inference_mode():
            dets = decode(out, score_thresh=self.score_thresh)
            hull, bridge = decode_masks(out)
            hull_np = hull.float().cpu().numpy()
            bridge_np = bridge.float().cpu().numpy()
        return [TileOutput(d, hull_np[k], bridge_np[k]) for k, d in enumerate(dets)]
