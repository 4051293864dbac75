"""The container detector network: a small anchor-free, CenterNet-style encoder-decoder.

Input: ``float32 [B, 3, H, W]`` in 0..1 (bands already stretched per scene, model frame at the
canonical GSD). Any H, W work: the input is zero-padded internally to a multiple of
:attr:`CCNet.pad_multiple` and the outputs are cropped back to ``ceil(H/2) x ceil(W/2)``.

Output: a dict of tensors at **stride 2** (cell ``(i, j)`` covers input pixels
``[2j, 2j+2) x [2i, 2i+2)``), each ``[B, C, ceil(H/2), ceil(W/2)]``:

=========  ==  ==============================================================================
key         C  meaning
=========  ==  ==============================================================================
heatmap     2  logits of container centres, class 0 = 20ft, 1 = 40ft (apply sigmoid)
size        2  log length, log width of the footprint in input pixels
angle       2  (sin 2a, cos 2a) of the long axis angle a (from +x towards +y), unnormalised
offset      2  sub-cell centre (dx, dy) in cells, 0..1: centre x = (j + dx) * 2
tiers       1  stack height estimate (regressed, about 1..4)
hull        1  logit of "ship hull" per cell
bridge      1  logit of "bridge / superstructure" per cell
=========  ==  ==============================================================================

Layout: a plain conv-BN-ReLU encoder with strides 2/4/8/16/32, an FPN-style top-down decoder
back to stride 4, and a sub-pixel (pixel-shuffle) head that brings stride-4 predictions to
stride 2, refined by a cheap 1x1 skip from the stride-2 stem features. Keeping the stride-2
work to a few channels keeps the FLOPs per input pixel low (see ``scripts/train.py`` for the
measured throughput).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError

__all__ = [
    "ARCHITECTURES",
    "HEAD_CHANNELS",
    "OUTPUT_STRIDE",
    "CCNet",
    "CCNetExport",
    "build_ccnet",
    "build_model",
    "parse_widths",
    "count_parameters",
    "fuse_batchnorm",
]

#: Output channels of each head, in the order of the tuple variant.
HEAD_CHANNELS: dict[str, int] = {
    "heatmap": 2,
    "size": 2,
    "angle": 2,
    "offset": 2,
    "tiers": 1,
    "hull": 1,
    "bridge": 1,
}
OUTPUT_STRIDE = 2
_N_OUT = sum(HEAD_CHANNELS.values())
_HEATMAP_PRIOR = 0.01  # initial centre probability, CenterNet/RetinaNet style bias init


def _cbr(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    """3x3 conv (no bias) + BatchNorm + ReLU."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


def _cb1(c_in: int, c_out: int) -> nn.Sequential:
    """1x1 conv (no bias) + BatchNorm: a lateral projection in the decoder."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))


class CCNet(nn.Module):
    """CenterNet-style container detector; build it with :func:`build_ccnet`.

    ``widths`` are the encoder channels at strides 2, 4, 8, 16, 32; ``depths`` the number of
    extra 3x3 convs after the strided one at each stride; ``head_ch`` the channels of the
    stride-4 head conv.
    """

    def __init__(
        self,
        *,
        widths: tuple[int, int, int, int, int] = (16, 32, 64, 96, 128),
        depths: tuple[int, int, int, int, int] = (0, 1, 2, 2, 1),
        head_ch: int = 48,
    ) -> None:
        super().__init__()
        self.pad_multiple = 32  # total stride of the encoder; inputs are padded to it
        self.always_pad = False  # set by exporters: pad (maybe by 0) without a size test
        if len(widths) != 5 or len(depths) != 5:
            raise ValueError(f"widths and depths need 5 entries, got {widths} and {depths}")
        self.widths = tuple(int(w) for w in widths)
        self.depths = tuple(int(d) for d in depths)
        self.head_ch = int(head_ch)
        stages = []
        c_prev = 3
        for w, d in zip(self.widths, self.depths, strict=True):
            layers = [_cbr(c_prev, w, stride=2)] + [_cbr(w, w) for _ in range(d)]
            stages.append(nn.Sequential(*layers))
            c_prev = w
        self.stages = nn.ModuleList(stages)
        w2, w4, w8, w16, w32 = self.widths
        # top-down: project the coarser map to the finer width, add the lateral, smooth
        self.up32 = _cb1(w32, w16)
        self.smooth16 = _cbr(w16, w16)
        self.up16 = _cb1(w16, w8)
        self.smooth8 = _cbr(w8, w8)
        self.up8 = _cb1(w8, w4)
        self.smooth4 = _cbr(w4, self.head_ch)
        # sub-pixel head: stride-4 features -> 4 sub-cells x outputs, then pixel shuffle
        self.head4 = nn.Conv2d(self.head_ch, _N_OUT * 4, 1)
        # stride-2 skip (cheap): a 1x1 from the stem features adds pixel-level detail
        self.skip2 = nn.Conv2d(w2, _N_OUT, 1)
        self._init_heads()

    def _init_heads(self) -> None:
        """Small weights; heatmap bias at the prior (CenterNet/RetinaNet init), log size ~ 1."""
        prior = float(torch.logit(torch.tensor(_HEATMAP_PRIOR)))
        b = torch.zeros(_N_OUT)
        b[0:2] = prior / 2  # the two summed branches share the prior
        b[2:4] = 1.0
        with torch.no_grad():
            for conv in (self.head4, self.skip2):
                nn.init.normal_(conv.weight, std=0.01)
            # pixel_shuffle maps input channel c * 4 + k to output channel c
            self.head4.bias.copy_(b.repeat_interleave(4))
            self.skip2.bias.copy_(b)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Raw stacked outputs ``[B, 11, ceil(H/2), ceil(W/2)]`` in :data:`HEAD_CHANNELS` order."""
        h, w = x.shape[-2], x.shape[-1]
        ph = (self.pad_multiple - h % self.pad_multiple) % self.pad_multiple
        pw = (self.pad_multiple - w % self.pad_multiple) % self.pad_multiple
        if self.always_pad or ph > 0 or pw > 0:  # always_pad: exporters keep it symbolic
            x = F.pad(x, (0, pw, 0, ph))
        f2 = self.stages[0](x)
        f4 = self.stages[1](f2)
        f8 = self.stages[2](f4)
        f16 = self.stages[3](f8)
        f32 = self.stages[4](f16)
        p = self.smooth16(f16 + F.interpolate(self.up32(f32), scale_factor=2.0, mode="nearest"))
        p = self.smooth8(f8 + F.interpolate(self.up16(p), scale_factor=2.0, mode="nearest"))
        p = self.smooth4(f4 + F.interpolate(self.up8(p), scale_factor=2.0, mode="nearest"))
        out = F.pixel_shuffle(self.head4(p), 2) + self.skip2(f2)
        oh = (h + 1) // 2
        ow = (w + 1) // 2
        return out[:, :, :oh, :ow]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``x`` float32 [B, 3, H, W] in 0..1 -> dict of stride-2 maps (see module docstring)."""
        out = self.forward_features(x)
        return {
            "heatmap": out[:, 0:2],
            "size": out[:, 2:4],
            "angle": out[:, 4:6],
            "offset": torch.sigmoid(out[:, 6:8]),
            "tiers": out[:, 8:9] + 1.0,
            "hull": out[:, 9:10],
            "bridge": out[:, 10:11],
        }


class CCNetExport(nn.Module):
    """Tuple-returning wrapper for ONNX / TorchScript export.

    Returns ``(heatmap, size, angle, offset, tiers, hull, bridge)`` in :data:`HEAD_CHANNELS`
    order, the same tensors as :meth:`CCNet.forward`'s dict.
    """

    def __init__(self, model: CCNet) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, x: torch.Tensor
    ) -> tuple[
        torch.Tensor,
        torch.Tensor,
        torch.Tensor,
        torch.Tensor,
        torch.Tensor,
        torch.Tensor,
        torch.Tensor,
    ]:
        d = self.model(x)
        return (
            d["heatmap"],
            d["size"],
            d["angle"],
            d["offset"],
            d["tiers"],
            d["hull"],
            d["bridge"],
        )


def build_ccnet(
    *,
    widths: tuple[int, ...] = (16, 32, 64, 96, 128),
    depths: tuple[int, ...] = (0, 1, 2, 2, 1),
    head_ch: int = 48,
) -> CCNet:
    """Build an untrained :class:`CCNet` (keyword-only; see the class for the arguments)."""
    return CCNet(widths=tuple(widths), depths=tuple(depths), head_ch=head_ch)  # type: ignore[arg-type]


def parse_widths(text: str) -> list[int]:
    """``"16,32,64,160,256"`` -> the five encoder widths (:class:`CCNet`); a
    :class:`~detector.errors.ConfigError` naming the option otherwise."""
    try:
        widths = [int(w) for w in text.split(",")]
    except ValueError:
        widths = []
    if len(widths) != 5 or min(widths) < 1:
        raise ConfigError(f"--widths {text}: expected five positive integers W2,W4,W8,W16,W32")
    return widths


#: Architecture names a weights file may name, with their builders.
ARCHITECTURES = {"ccnet-v1": build_ccnet}


def build_model(arch: str, **kwargs) -> nn.Module:
    """Build architecture ``arch`` (a key of :data:`ARCHITECTURES`) with its keyword args."""
    if arch not in ARCHITECTURES:
        raise KeyError(f"unknown architecture {arch!r}; known: {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[arch](**kwargs)


def fuse_batchnorm(model: nn.Module) -> nn.Module:
    """Fold every conv + BatchNorm pair of ``model`` (in eval mode) into one conv, in place.

    For inference only: about 10 % faster on CPU, same outputs to float rounding. Returns the
    model, now in eval mode; training it afterwards is not supported.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    model.eval()
    for module in model.modules():
        if not isinstance(module, nn.Sequential):
            continue
        children = list(module.children())
        for i in range(len(children) - 1):
            conv, bn = children[i], children[i + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                module[i] = fuse_conv_bn_eval(conv, bn)
                module[i + 1] = nn.Identity()
    return model


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
