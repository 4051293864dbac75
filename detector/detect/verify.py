"""``--verify``: the crop verifier's second look at each detection, during inference.

Each tile's owned detections are cut out of the tile image the detector saw (the model
frame, stretched, 0..1) by :func:`cut_crops`, the same function that cuts the verifier's
training crops (``scripts/verifier_study.py crops``), so training and inference see the
same pixels. The probabilities land in :attr:`detector.detections.Detections.verify`; the
run keeps a box when its probability reaches the file's ``verify_thresh``, or when its score
reaches the file's ``trust_above`` (not looked at: NaN) (:func:`detector.detect.finish.finish_scene`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from ..detections import Detections
from ..model.verifier import CROP_HW, VerifierMeta, load_verifier

__all__ = ["CropVerifier", "cut_crops", "load_crop_verifier", "verifier_rule"]

CROP_BATCH = 512
CROP_PAD = 32  # batches padded to a multiple of this


def cut_crops(
    image_hwc: np.ndarray,
    cx: np.ndarray,
    cy: np.ndarray,
    angle_rad: np.ndarray,
    crop_hw: tuple[int, int] = CROP_HW,
) -> np.ndarray:
    """uint8 [N, 3, h, w] windows of ``image_hwc`` (float32 [H, W, 3], 0..1) centred on
    (``cx``, ``cy``) (pixels, centres at +0.5) with the box's long axis (``angle_rad``, from
    +x towards +y) along the crop's columns, bilinear, zero outside the image (as a tile's
    padding is)."""
    h, w = crop_hw
    out = np.zeros((len(cx), 3, h, w), np.uint8)
    uc, vc = (w - 1) / 2.0, (h - 1) / 2.0
    for k in range(len(cx)):
        co, si = float(np.cos(angle_rad[k])), float(np.sin(angle_rad[k]))
        x0, y0 = float(cx[k]) - 0.5, float(cy[k]) - 0.5  # OpenCV's pixel centres are integers
        # crop (u, v) -> image (x, y) = centre + (u - uc) * along + (v - vc) * across
        m = np.array([[co, -si, x0 - co * uc + si * vc],
                      [si, co, y0 - si * uc - co * vc]], np.float64)  # fmt: skip
        crop = cv2.warpAffine(image_hwc, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)  # fmt: skip
        out[k] = np.clip(np.rint(crop * 255.0), 0, 255).astype(np.uint8).transpose(2, 0, 1)
    return out


class CropVerifier:
    """The verifier network on a device: ``self(images, parts)`` gives each part's
    probabilities, ``parts`` being (tile index into ``images`` [B, 3, H, W], that tile's
    detections in tile pixels); a box scoring at least the file's ``trust_above`` is not
    looked at (NaN: kept), nor one scoring under ``look_from`` (the run's detection
    threshold: it is not counted either way; NaN).

    Channels-last memory, with bfloat16 autocast where the CPU runs it natively (as
    :class:`~detector.detect.predictor.TorchPredictor`; ~4x float32's speed here) and
    float16/bfloat16 on CUDA; ``amp=False`` forces float32."""

    def __init__(self, net: torch.nn.Module, meta: VerifierMeta, *, device: str, path: str,
                 sha256: str, amp: bool = True, look_from: float = 0.0) -> None:  # fmt: skip
        from ..model.net import fuse_batchnorm
        from ..model.runtime import infer_dtype

        self.device = torch.device(device)
        self.meta = meta
        self.path, self.sha256 = path, sha256
        self.look_from = float(look_from)
        net = fuse_batchnorm(net) if self.device.type == "cpu" else net.eval()
        self.net = net.to(self.device).to(memory_format=torch.channels_last)
        self.amp_dtype = infer_dtype(self.device, amp)

    @property
    def reach_px(self) -> int:
        """Pixels around a box's centre its crop can reach (half the crop's diagonal): the
        tiles' margin must hold it, or a crop would be cut from the tile's edge."""
        h, w = self.meta.crop_hw
        return math.ceil(math.hypot(h, w) / 2) + 1

    def probs(self, crops: np.ndarray, score: np.ndarray) -> np.ndarray:
        """float32 [N] probabilities of uint8 ``crops`` [N, 3, h, w] with detector ``score``."""
        from ..model.runtime import autocast

        out = []
        with torch.inference_mode(), autocast(self.device, self.amp_dtype):
            for k in range(0, len(crops), CROP_BATCH):
                xb, sb = (
                    crops[k : k + CROP_BATCH],
                    np.asarray(score[k : k + CROP_BATCH], np.float32),
                )
                n = len(xb)
                # a few fixed batch shapes: oneDNN keeps kernels and buffers for every shape
                # it has seen, so batches of every size from 1 to 512 grow the process
                m = -(-n // CROP_PAD) * CROP_PAD
                if m != n:
                    xb = np.concatenate([xb, np.zeros((m - n, *xb.shape[1:]), np.uint8)])
                    sb = np.concatenate([sb, np.zeros(m - n, np.float32)])
                x = torch.from_numpy(xb).to(self.device).float() / 255.0
                x = x.contiguous(memory_format=torch.channels_last)
                logit = self.net(x, torch.from_numpy(sb).to(self.device)).float()
                out.append(torch.sigmoid(logit[:n]).cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def __call__(self, images: np.ndarray, parts: Sequence[tuple[int, Detections]]) -> list:
        trust = self.meta.trust_above
        crops, scores, looks = [], [], []
        for k, dets in parts:
            look = dets.score >= self.look_from
            if trust is not None:
                look &= dets.score < trust
            looks.append(look)
            if look.any():
                tile = np.ascontiguousarray(np.asarray(images[k], np.float32).transpose(1, 2, 0))
                d = dets.select(look)
                crops.append(cut_crops(tile, d.cx, d.cy, d.angle_rad, self.meta.crop_hw))
                scores.append(d.score)
        prob = self.probs(np.concatenate(crops), np.concatenate(scores)) if crops else None
        out, at = [], 0
        for look in looks:
            p = np.full(len(look), np.nan, np.float32)
            n = int(look.sum())
            if n:
                p[look] = prob[at : at + n]
            out.append(p)
            at += n
        return out


def load_crop_verifier(path: str | Path, device: str, look_from: float = 0.0) -> CropVerifier:
    """The verifier file at ``path`` ready to run on ``device``, looking at boxes scoring at
    least ``look_from``."""
    from ..model.weights import file_sha256

    net, meta = load_verifier(path)
    return CropVerifier(net, meta, device=device, path=str(path), sha256=file_sha256(path),
                        look_from=look_from)  # fmt: skip


def verifier_rule(config, verifier: CropVerifier | None = None) -> tuple[float, float, str]:
    """(detection threshold, verifier threshold, file SHA-256) of a ``--verify`` run with
    ``config`` (:class:`~detector.detect.plan.DetectConfig`): the file's rule unless the
    run gives its own. ``verifier``: the file already loaded (else it is read)."""
    if verifier is None:
        from ..model.weights import file_sha256
        from ..paths import default_verifier_path

        path = config.verifier_path or default_verifier_path()
        meta, sha = load_verifier(path)[1], file_sha256(path)
    else:
        meta, sha = verifier.meta, verifier.sha256
    t = meta.score_thresh if config.score_thresh is None else config.score_thresh
    q = meta.verify_thresh if config.verify_thresh is None else config.verify_thresh
    return float(t), float(q), sha
