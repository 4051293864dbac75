"""``--verify``: the crop verifier's second look at each detection, during inference.

Each tile's owned detections are cut out of the tile image the detector saw (the model
frame, stretched, 0..1) by :func:`cut_crops`, the same function that cuts the verifier's
training crops (``scripts/verifier_study.py crops``), so training and inference see the
same pixels. The probabilities land in :attr:`detector.detections.Detections.verify`; the
run keeps a box when its probability reaches the file's ``verify_thresh``
(:func:`detector.detect.finish.finish_scene`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from ..detections import Detections
from ..model.verifier import CROP_HW, VerifierMeta, load_verifier

__all__ = ["CropVerifier", "cut_crops", "load_crop_verifier", "verifier_rule"]

CROP_BATCH = 512


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
    detections in tile pixels). ``seconds`` adds up the time spent (crops and network)."""

    def __init__(self, net: torch.nn.Module, meta: VerifierMeta, *, device: str, path: str,
                 sha256: str) -> None:  # fmt: skip
        from ..model.net import fuse_batchnorm

        self.device = torch.device(device)
        self.meta = meta
        self.path, self.sha256 = path, sha256
        self.net = (fuse_batchnorm(net) if self.device.type == "cpu" else net).to(self.device)
        self.seconds = 0.0

    @property
    def verify_thresh(self) -> float:
        return float(self.meta.verify_thresh)

    @property
    def reach_px(self) -> int:
        """Pixels around a box's centre its crop can reach (half the crop's diagonal): the
        tiles' margin must hold it, or a crop would be cut from the tile's edge."""
        h, w = self.meta.crop_hw
        return math.ceil(math.hypot(h, w) / 2) + 1

    def probs(self, crops: np.ndarray, score: np.ndarray) -> np.ndarray:
        """float32 [N] probabilities of uint8 ``crops`` [N, 3, h, w] with detector ``score``."""
        out = []
        with torch.inference_mode():
            for k in range(0, len(crops), CROP_BATCH):
                x = torch.from_numpy(crops[k : k + CROP_BATCH]).to(self.device).float() / 255.0
                s = torch.from_numpy(np.asarray(score[k : k + CROP_BATCH], np.float32))
                out.append(torch.sigmoid(self.net(x, s.to(self.device))).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def __call__(self, images: np.ndarray, parts: Sequence[tuple[int, Detections]]) -> list:
        t0 = time.perf_counter()
        crops, scores = [], []
        for k, dets in parts:
            if len(dets):
                tile = np.ascontiguousarray(np.asarray(images[k], np.float32).transpose(1, 2, 0))
                crops.append(cut_crops(tile, dets.cx, dets.cy, dets.angle_rad, self.meta.crop_hw))
                scores.append(dets.score)
        prob = self.probs(np.concatenate(crops), np.concatenate(scores)) if crops else None
        out, at = [], 0
        for _, dets in parts:
            out.append(prob[at : at + len(dets)] if len(dets) else np.zeros(0, np.float32))
            at += len(dets)
        self.seconds += time.perf_counter() - t0
        return out


def load_crop_verifier(path: str | Path, device: str) -> CropVerifier:
    """The verifier file at ``path`` ready to run on ``device``."""
    from ..model.weights import file_sha256

    net, meta = load_verifier(path)
    return CropVerifier(net, meta, device=device, path=str(path), sha256=file_sha256(path))


def verifier_rule(config) -> tuple[float, float, str]:
    """(detection threshold, verifier threshold, file SHA-256) of a ``--verify`` run with
    ``config`` (:class:`~detector.detect.plan.DetectConfig`): the file's rule unless the
    run gives its own."""
    from ..model.weights import file_sha256
    from ..paths import default_verifier_path

    path = config.verifier_path or default_verifier_path()
    meta = load_verifier(path)[1]
    t = meta.score_thresh if config.score_thresh is None else config.score_thresh
    q = meta.verify_thresh if config.verify_thresh is None else config.verify_thresh
    return float(t), float(q), file_sha256(path)
