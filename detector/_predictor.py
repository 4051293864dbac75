"""The torch model as a :class:`~detector.inference.TilePredictor`: batch in, detections out.

``channels_last`` memory format on both devices (oneDNN's convolutions run ~2.5x faster in
it on CPU). CPU: float32, the module's BatchNorms folded into its convs (in place). CUDA:
autocast (bfloat16 where supported, else float16); inputs are pinned and copied
asynchronously. Always under ``torch.inference_mode``.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import nn

from .inference import TileOutput

__all__ = ["TorchPredictor"]


class TorchPredictor:
    """Runs ``module`` (a :class:`detector.model.net.CCNet`-like network returning the dict of
    stride-2 maps) on float32 ``[B, 3, H, W]`` tiles and decodes the outputs.

    ``amp``: mixed precision on CUDA (default on there; ignored on CPU).
    """

    def __init__(
        self,
        module: nn.Module,
        *,
        device: str,
        score_thresh: float,
        amp: bool = True,
        channels_last: bool = True,
    ) -> None:
        self.device = torch.device(device)
        self.score_thresh = float(score_thresh)
        cuda = self.device.type == "cuda"
        self.channels_last = bool(channels_last)
        module = module.eval()
        if not cuda:
            from .model.net import fuse_batchnorm

            module = fuse_batchnorm(module)
        module = module.to(self.device)
        if self.channels_last:
            module = module.to(memory_format=torch.channels_last)
        self.module = module
        self.amp_dtype = None
        if cuda and amp:
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
            torch.backends.cudnn.benchmark = True

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def __call__(self, images: np.ndarray) -> list[TileOutput]:
        from .model.decode import decode, decode_masks

        x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
        if self.device.type == "cuda":
            x = x.pin_memory().to(self.device, non_blocking=True)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), self._autocast():
            out = self.module(x)
        with torch.inference_mode():
            dets = decode(out, score_thresh=self.score_thresh)
            hull, bridge = decode_masks(out)
            hull_np = hull.float().cpu().numpy()
            bridge_np = bridge.float().cpu().numpy()
        return [TileOutput(d, hull_np[k], bridge_np[k]) for k, d in enumerate(dets)]
