"""Training data: a pool of samples refreshed gradually, cheap augmentation, batching.

Rendering a synthetic sample costs tens of milliseconds of CPU, about as much as a training
step spends on it, so the trainer keeps a pool of ``pool_size`` samples, draws each batch from
it at random, and replaces ``refresh_per_step`` of the oldest samples with fresh ones after
every step. Each drawn sample gets a random element of the dihedral group D4 (exact 90-degree
rotations and flips) and a photometric jitter, so a sample seen several times is seen in
different ways. Everything is a deterministic function of the seeds.

A *sample* is any object with ``image`` float32 [3, H, W] 0..1, ``containers``
(:class:`~detector.detections.Detections` in its pixels), ``hull_mask`` and ``bridge_mask``
(bool [H, W] or None when unlabelled), optionally ``sun_elevation_deg`` --
:class:`detector.synth.TrainingSample` or a :class:`LabelSample` cut from a labelled scene.
"""

from __future__ import annotations

import multiprocessing
import signal
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from ..detections import Detections
from ..synth.training import TRAIN_SEED_BASE, sample_seed
from .losses import TargetBatch, collate_targets
from .targets import d4_transform, encode_targets
from .tiers import TIERS_DIRECT

__all__ = [
    "Sample",
    "LabelSample",
    "SamplePool",
    "augment_sample",
    "chroma_jitter",
    "colour_jitter",
    "make_batch",
    "random_convolution",
    "TRAIN_SEED_BASE",
    "sample_seed",
]


class Sample(Protocol):
    image: np.ndarray
    containers: Detections
    hull_mask: np.ndarray | None
    bridge_mask: np.ndarray | None


@dataclass(frozen=True)
class LabelSample:
    """A crop of a labelled scene in the model frame (same fields as a synthetic sample)."""

    image: np.ndarray
    containers: Detections
    hull_mask: np.ndarray | None = None
    bridge_mask: np.ndarray | None = None
    sun_elevation_deg: float | None = None  # of the scene, from its time and place
    loss_mask: np.ndarray | None = None  # bool [H, W]: reviewed area; None = all labelled


class SamplePool:
    """Fixed-size pool of samples from ``make(k)``, oldest replaced first.

    ``make(k)`` returns the k-th sample of the stream (k = 0, 1, 2, ...). The pool is filled
    with samples 0..pool_size-1 on construction; :meth:`refresh` replaces ``n`` of them.
    ``workers`` > 0: the next samples are made ahead in that many spawned worker processes
    (``make`` must then pickle), still in stream order, so the pool holds exactly what it
    holds with ``workers=0``: for a GPU, whose steps outrun one core's rendering. Close it
    (or use it as a context manager) to stop the workers. ``wait_s``: seconds this process
    spent making samples or waiting for them; ``generated``: samples it made.

    Sample k always sits in slot ``k % pool_size``, so after ``position`` samples the pool
    holds samples ``position - pool_size .. position - 1`` and nothing else:
    ``SamplePool(make, pool_size, position=p)`` rebuilds exactly the pool that a pool at
    stream position ``p`` held (a training checkpoint stores only ``position``). Worker
    processes ignore SIGINT: Ctrl-C is the training loop's to handle.
    """

    def __init__(
        self, make: Callable[[int], Any], pool_size: int, *, workers: int = 0, position: int = 0
    ) -> None:
        if pool_size < 1:
            raise ValueError(f"pool_size must be >= 1, got {pool_size}")
        if workers < 0:
            raise ValueError(f"workers must be >= 0, got {workers}")
        self._make = make
        self._pending: deque[Future] = deque()
        self._executor = None
        if workers:
            ctx = multiprocessing.get_context("spawn")  # no fork of a process running torch
            self._executor = ProcessPoolExecutor(
                workers, mp_context=ctx, initializer=_ignore_sigint
            )
        self._ahead = 4 * workers
        self.wait_s = 0.0
        self.generated = 0
        self.position = self._submitted = max(int(position), pool_size) - pool_size
        self.samples: list[Any] = [None] * pool_size
        for _ in range(pool_size):
            slot = self.position % pool_size  # before _next() moves the position on
            self.samples[slot] = self._next()
        self._next_slot = self.position % pool_size

    def _next(self) -> Any:
        t = time.perf_counter()
        if self._executor is None:
            sample = self._make(self.position)
        else:
            while len(self._pending) < self._ahead:
                self._pending.append(self._executor.submit(self._make, self._submitted))
                self._submitted += 1
            sample = self._pending.popleft().result()
        self.generated += 1
        self.position += 1
        self.wait_s += time.perf_counter() - t
        return sample

    def __len__(self) -> int:
        return len(self.samples)

    def refresh(self, n: int) -> None:
        for _ in range(n):
            self.samples[self._next_slot] = self._next()
            self._next_slot = (self._next_slot + 1) % len(self.samples)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        self._pending.clear()

    def __enter__(self) -> SamplePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def augment_sample(
    sample: Sample, rng: np.random.Generator
) -> tuple[np.ndarray, Detections, tuple]:
    """A random D4 view of ``sample``: (image [3, H, W], containers, (hull, bridge) masks),
    plus its ``loss_mask`` as a third mask when it has one."""
    t, fx, fy = (bool(b) for b in rng.integers(0, 2, size=3))
    loss = getattr(sample, "loss_mask", None)
    return d4_transform(
        sample.image,
        sample.containers,
        (sample.hull_mask, sample.bridge_mask, *(() if loss is None else (loss,))),
        transpose=t,
        flip_x=fx,
        flip_y=fy,
    )


def colour_jitter(
    images: torch.Tensor,
    gen: torch.Generator,
    *,
    strength: float = 1.0,
    chroma: bool = False,
    randconv: bool = False,
) -> torch.Tensor:
    """Per-image photometric jitter of ``images`` float32 [B, 3, H, W] 0..1, in place.

    ``x -> clip(x ** gamma * gain + offset)`` with gamma 0.75..1.33, gain 0.8..1.2 per image
    times +-6 % per band, offset +-0.06; ranges scaled by ``strength``. (Sensor noise, blur
    and haze are already in the synthetic samples.) ``chroma`` then also turns each image's
    colours about the grey axis (hue +-30 degrees), scales their saturation 0.4..1.6 and
    makes one image in ten grey (:func:`chroma_jitter`; its random draws come after the
    others', so the tone jitter is the same with or without it). ``randconv`` (implies
    ``chroma``) then passes half the images through :func:`random_convolution` (its draws
    come last). Returns ``images``.
    """
    b = images.shape[0]

    def u(lo: float, hi: float, *shape: int) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(*shape, generator=gen)

    s = float(strength)
    gain = (1 + s * u(-0.2, 0.2, b, 1, 1, 1)) * (1 + s * u(-0.06, 0.06, b, 3, 1, 1))
    offset = s * u(-0.06, 0.06, b, 1, 1, 1)
    gamma = torch.exp(s * u(-0.29, 0.29, b, 1, 1, 1))
    images.clamp_(0, 1).pow_(gamma).mul_(gain).add_(offset).clamp_(0.0, 1.0)
    if not (chroma or randconv):
        return images
    hue = torch.deg2rad(s * u(-30.0, 30.0, b))
    sat = (1 + s * u(-0.6, 0.6, b)) * (u(0.0, 1.0, b) >= 0.1)
    chroma_jitter(images, hue, sat)
    if randconv:
        random_convolution(images, gen)
    return images


RANDCONV_KERNELS = (1, 3, 5, 7)


def random_convolution(
    images: torch.Tensor, gen: torch.Generator, *, p: float = 0.5
) -> torch.Tensor:
    """RandConv (Xu et al., ICLR 2021, "Robust and generalizable visual representation
    learning via random convolutions"), in place on ``images`` [B, 3, H, W] 0..1: each image
    with probability ``p`` is filtered by a random 3->3 convolution (kernel size from
    :data:`RANDCONV_KERNELS`, weights N(0, 1/(3 k^2)), reflect padding), the result given each
    band's mean and spread of the original, and mixed with it at a uniform random weight.
    Shapes stay, local texture, contrast and colour do not: a network trained on it leans on
    shape more than on one renderer's surfaces."""
    b = images.shape[0]
    pick = torch.rand(b, generator=gen) < p
    ks = torch.randint(0, len(RANDCONV_KERNELS), (b,), generator=gen)
    mix = torch.rand(b, generator=gen)
    for i in range(b):  # every image draws its kernel, picked or not: one stream per batch
        k = RANDCONV_KERNELS[int(ks[i])]
        w = torch.randn(3, 3, k, k, generator=gen) / (3 * k * k) ** 0.5
        if not pick[i]:
            continue
        x = images[i : i + 1]
        y = torch.nn.functional.conv2d(torch.nn.functional.pad(x, [k // 2] * 4, mode="reflect"), w)
        mu, sd = x.mean(dim=(2, 3), keepdim=True), x.std(dim=(2, 3), keepdim=True)
        y = (y - y.mean(dim=(2, 3), keepdim=True)) / (y.std(dim=(2, 3), keepdim=True) + 1e-6)
        a = float(mix[i])
        x.mul_(a).add_((1 - a) * (y * sd + mu)).clamp_(0.0, 1.0)
    return images


def chroma_jitter(images: torch.Tensor, hue_rad: torch.Tensor, sat: torch.Tensor) -> torch.Tensor:
    """``images`` [B, 3, H, W] with each image's colour turned by ``hue_rad`` about the grey
    axis and its distance from grey scaled by ``sat`` ([B] each; 0 = grey), in place.

    A rotation about (1, 1, 1) keeps every pixel's band mean, so brightness (what shadows
    and edges are made of) does not change, only colour."""
    grey = images.mean(dim=1, keepdim=True)
    c, sn = torch.cos(hue_rad), torch.sin(hue_rad)
    k = torch.full((3, 3), 1.0 / 3.0)
    # Rodrigues about the unit axis (1,1,1)/sqrt(3): cos I + sin [a]x + (1 - cos) a a^T
    cross = torch.tensor([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]]) / 3**0.5
    rot = c[:, None, None] * torch.eye(3) + sn[:, None, None] * cross + (1 - c)[:, None, None] * k
    turned = torch.einsum("bij,bjhw->bihw", rot, images - grey)
    return images.copy_(grey + sat[:, None, None, None] * turned).clamp_(0.0, 1.0)


def make_batch(
    samples: Sequence[Sample],
    rng: np.random.Generator,
    gen: torch.Generator,
    *,
    augment: bool = True,
    jitter: float = 1.0,
    chroma: bool = False,
    randconv: bool = False,
    tiers_output: str = TIERS_DIRECT,
    slot_negatives: float = 0.0,
) -> tuple[torch.Tensor, TargetBatch]:
    """Augment, encode and stack ``samples`` (equal sizes) -> (images [B,3,H,W], targets).

    ``tiers_output``: what the tiers channel learns (:mod:`.tiers`); a shadow target uses the
    sample's ``sun_elevation_deg`` (None or missing: no tiers target for that sample);
    ``jitter``/``chroma``/``randconv``: :func:`colour_jitter`'s strength and options;
    ``slot_negatives``: extra weight of the empty slots beside containers (:mod:`.slots`)."""
    images, targets = [], []
    for s in samples:
        if augment:
            img, dets, (hull, bridge, *loss) = augment_sample(s, rng)
            known = loss[0] if loss else None
        else:
            img, dets, hull, bridge = s.image, s.containers, s.hull_mask, s.bridge_mask
            known = getattr(s, "loss_mask", None)
        images.append(img)
        targets.append(
            encode_targets(
                dets,
                height=img.shape[1],
                width=img.shape[2],
                hull_mask=hull,
                bridge_mask=bridge,
                tiers_output=tiers_output,
                sun_elevation_deg=getattr(s, "sun_elevation_deg", None),
                known_mask=known,
                slot_negatives=slot_negatives,
            )  # fmt: skip
        )
    x = torch.from_numpy(np.stack(images).astype(np.float32, copy=False))
    if augment and jitter > 0:
        x = colour_jitter(x, gen, strength=jitter, chroma=chroma, randconv=randconv)
    return x, collate_targets(targets)
