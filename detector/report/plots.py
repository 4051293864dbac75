"""Report figures with matplotlib (Agg backend): each function returns PNG bytes.

Inputs are plain numbers and arrays; nothing here reads files.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "REGION_COLOURS",
    "SHIP_COLOURS",
    "timeline_png",
    "per_ship_png",
    "voyages_png",
    "quicklook_png",
]

REGION_COLOURS = {"deck": "#e6194b", "quay": "#3cb4f0", "yard": "#ffe119", "rail": "#f58231"}
SHIP_COLOURS = {"Angara": "#1f77b4", "Maria": "#ff7f0e", "Maia-1": "#2ca02c", "Lady R": "#9467bd"}
_DPI = 100


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight", metadata={"Software": None})
    _plt().close(fig)
    return buf.getvalue()


def _err(est: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return np.vstack([np.maximum(est - low, 0), np.maximum(high - est, 0)])


def timeline_png(
    months: Sequence[str],
    observed: Sequence[int],
    imputed: Sequence[int],
    est: Sequence[float],
    low: Sequence[float],
    high: Sequence[float],
) -> bytes:
    """Two panels over calendar months (``YYYY-MM``, every month between the first and the
    last, zeros included): shipments per month (observed and imputed stacked), and estimated
    containers per month with their nominal 90 % intervals."""
    plt = _plt()
    x = np.arange(len(months))
    obs, imp = np.asarray(observed), np.asarray(imputed)
    e, lo, hi = (np.asarray(a, float) for a in (est, low, high))
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(12, 6.6), sharex=True,
                                   gridspec_kw={"height_ratios": [1, 1.25]})  # fmt: skip
    ax1.bar(x, obs, color="#1f4e79", label="observed on imagery")
    ax1.bar(x, imp, bottom=obs, color="#a6bddb", label="imputed (no usable imagery)")
    for xi, n in zip(x, obs + imp, strict=True):
        if n:
            ax1.text(xi, n + 0.1, str(int(n)), ha="center", va="bottom", fontsize=8)
    ax1.set_ylabel("shipments")
    ax1.set_ylim(0, max(1, int((obs + imp).max(initial=0))) * 1.25)
    ax1.legend(loc="upper right", fontsize=8, frameon=False)
    ax1.set_title("Shipments from Rajin per month (by loading date)")
    ax2.bar(x, e, color="#7a9cc6", yerr=_err(e, lo, hi), capsize=3, ecolor="#222",
            label="estimated containers, 90 % interval")  # fmt: skip
    ax2.set_ylabel("containers")
    ax2.legend(loc="upper right", fontsize=8, frameon=False)
    ax2.set_xticks(x)
    ax2.set_xticklabels(months, rotation=60, ha="right", fontsize=8)
    for ax in (ax1, ax2):
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def per_ship_png(
    ships: Sequence[str], est: Sequence[float], low: Sequence[float], high: Sequence[float],
    voyages: Sequence[int],
) -> bytes:  # fmt: skip
    """Horizontal bars: estimated containers per ship with 90 % intervals."""
    plt = _plt()
    e, lo, hi = (np.asarray(a, float) for a in (est, low, high))
    y = np.arange(len(ships))
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(ships) + 1.2))
    ax.barh(y, e, xerr=_err(e, lo, hi), capsize=4,
            color=[SHIP_COLOURS.get(s, "#888") for s in ships], ecolor="#222")  # fmt: skip
    ax.set_yticks(y)
    ax.set_yticklabels([f"{s} ({n} voyage{'s' if n != 1 else ''})"
                        for s, n in zip(ships, voyages, strict=True)])  # fmt: skip
    ax.invert_yaxis()
    for yi, v in zip(y, e, strict=True):
        ax.text(v * 0.02, yi, f"{v:,.0f}", va="center", ha="left", color="white", fontsize=9,
                fontweight="bold")  # fmt: skip
    ax.set_xlabel("containers (nominal 90 % interval)")
    ax.set_title("Containers per ship")
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def voyages_png(
    voyage: Sequence[int], ship: Sequence[str], est: Sequence[float], low: Sequence[float],
    high: Sequence[float], imputed: Sequence[bool], alone: Sequence[float | None] = (),
) -> bytes:  # fmt: skip
    """Per-voyage estimates with 90 % error bars; filled markers observed, hollow imputed;
    ``alone`` (optional, None for imputed) what the imagery alone says, as grey crosses."""
    plt = _plt()
    v, e, lo, hi = (np.asarray(a, float) for a in (voyage, est, low, high))
    imp = np.asarray(imputed, bool)
    fig, ax = plt.subplots(figsize=(12, 4.2))
    for name in dict.fromkeys(ship):
        m = np.array([s == name for s in ship])
        c = SHIP_COLOURS.get(name, "#888")
        ax.plot([], [], "o", color=c, label=name)
        for sel, face in ((m & ~imp, c), (m & imp, "white")):
            if sel.any():
                ax.errorbar(v[sel], e[sel], yerr=_err(e[sel], lo[sel], hi[sel]), fmt="o",
                            color=c, mfc=face, ms=6, capsize=2, lw=1)  # fmt: skip
    if alone:
        xa = [vv for vv, a in zip(v, alone, strict=True) if a is not None]
        ya = [a for a in alone if a is not None]
        ax.plot(xa, ya, "x", color="#777", ms=5, label="imagery alone")
    ax.plot([], [], "o", mfc="white", color="#555", label="imputed (hollow)")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("voyage")
    ax.set_ylabel("containers")
    ax.set_title("Per-voyage estimates with nominal 90 % intervals")
    ax.legend(ncol=5, fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.15))
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(alpha=0.3)
    ax.set_ylim(bottom=0)
    return _png(fig)


def _draw_panel(ax, image, polygons, regions, hulls, *, fill: bool) -> None:
    from matplotlib.collections import PolyCollection

    h, w = image.shape[:2]
    ax.imshow(image, extent=(0, w, h, 0), interpolation="bilinear")
    for name, colour in REGION_COLOURS.items():
        sel = [p for p, r in zip(polygons, regions, strict=True) if r == name]
        if sel:
            if fill:
                pc = PolyCollection(sel, facecolors=colour, edgecolors="none", alpha=0.85)
            else:
                pc = PolyCollection(sel, facecolors="none", edgecolors=colour, linewidths=0.6)
            ax.add_collection(pc)
    for poly, name in hulls:
        ax.plot(*np.vstack([poly, poly[:1]]).T, "--", color="white", lw=0.8, clip_on=True)
        x, y = poly[:, 0].mean(), max(poly[:, 1].min() - 2, 0.0)
        if 0 <= x <= w and y <= h:  # label only hulls in view; never outside the panel
            ax.text(x, y, name, color="white", fontsize=8, ha="center", va="bottom",
                    clip_on=True,
                    bbox={"facecolor": "black", "alpha": 0.5, "pad": 1, "lw": 0})  # fmt: skip
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.set_xticks([])
    ax.set_yticks([])


def quicklook_png(
    panels: Sequence[tuple[np.ndarray, Sequence[np.ndarray], Sequence[str], Sequence, str]],
    title: str,
    counts: Mapping[str, int] | None = None,
) -> bytes:
    """Scene overview panels side by side. Each panel: (``image`` uint8 [H, W, 3],
    container footprints ``polygons`` (float [K, 2] (x, y) in that image's pixels, pixel
    (r, c) covering [c, c+1) x [r, r+1)), their ``regions``, ship ``hulls`` as (polygon,
    name), a caption). The first panel fills footprints (they are tiny there), the others
    outline them; a legend with per-region ``counts`` sits below."""
    plt = _plt()
    from matplotlib.lines import Line2D

    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 5.4), squeeze=False)
    for k, (ax, (image, polys, regions, hulls, caption)) in enumerate(
        zip(axes[0], panels, strict=True)
    ):
        _draw_panel(ax, image, polys, regions, hulls, fill=k == 0 and len(panels) > 1)
        ax.set_title(caption, fontsize=8)
    handles = [
        Line2D([], [], color=c, lw=3, label=f"{r} ({counts.get(r, 0)})" if counts else r)
        for r, c in REGION_COLOURS.items()
    ]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=9)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.88, bottom=0.08, wspace=0.04)
    return _png(fig)
