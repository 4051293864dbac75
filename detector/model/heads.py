"""Training some outputs' readout alone (``ccount train --init W --heads hull,bridge``).

The network's outputs are read from shared features by two 1x1 convolutions
(:class:`~detector.model.net.CCNet`'s ``head4``, pixel-shuffled to stride 2, and the stride-2
``skip2``). Training only the rows of those that make the named outputs, with every other
weight frozen and the BatchNorm statistics fixed (the network runs in eval mode), leaves the
other outputs bit for bit those of the init weights: the ship hull and bridge maps can be
retrained without touching a single container detection, so no container test set needs
measuring again.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError
from .net import HEAD_CHANNELS

__all__ = ["HeadOnly", "head_channels", "parse_heads"]


def parse_heads(text: str) -> str:
    """``"hull, bridge"`` -> ``"hull,bridge"`` (outputs of :data:`HEAD_CHANNELS`, in their
    order); :class:`ConfigError` naming the problem otherwise."""
    names = [n.strip() for n in str(text).split(",") if n.strip()]
    bad = [n for n in names if n not in HEAD_CHANNELS]
    if not names or bad:
        raise ConfigError(
            f"--heads {text!r}: expected some of {', '.join(HEAD_CHANNELS)}"
            + (f" (unknown: {', '.join(bad)})" if bad else "")
        )
    return ",".join(n for n in HEAD_CHANNELS if n in names)


def head_channels(heads: str) -> list[int]:
    """Output channels (in :data:`HEAD_CHANNELS` order) of the outputs named in ``heads``."""
    names, out, start = set(heads.split(",")), [], 0
    for name, n in HEAD_CHANNELS.items():
        if name in names:
            out.extend(range(start, start + n))
        start += n
    return out


class HeadOnly:
    """Freezes ``model`` but for the readout rows of ``heads``; :meth:`restore` after each
    optimiser step puts the other rows back (weight decay and momentum would move them)."""

    def __init__(self, model: nn.Module, heads: str) -> None:
        head4, skip2 = getattr(model, "head4", None), getattr(model, "skip2", None)
        if not isinstance(head4, nn.Conv2d) or not isinstance(skip2, nn.Conv2d):
            raise ConfigError(f"--heads: {type(model).__name__} has no head4/skip2 readout")
        chans = head_channels(heads)
        shuffle = head4.out_channels // skip2.out_channels  # sub-cells per output channel
        rows4 = [c * shuffle + k for c in chans for k in range(shuffle)]
        self._parts = []
        for conv, rows in ((head4, rows4), (skip2, chans)):
            frozen = torch.ones(conv.out_channels, dtype=torch.bool)
            frozen[rows] = False
            for p in (conv.weight, conv.bias):
                if p is not None:
                    self._parts.append((p, frozen.to(p.device), p.detach()[frozen].clone()))
        for p in model.parameters():
            p.requires_grad_(False)
        for conv in (head4, skip2):
            conv.requires_grad_(True)
        model.eval()

    @torch.no_grad()
    def restore(self) -> None:
        for p, frozen, saved in self._parts:
            p[frozen] = saved
