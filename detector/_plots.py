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
    ax.set_yticklabels([f"{s} ({n} voyages)" for s, n in zip(ships, voyages, strict=True)])
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
    high: Sequence[float], imputed: Sequence[bool],
) -> bytes:  # fmt: skip
    """Per-voyage estimates with 90 % error bars; filled markers observed, hollow imputed."""
    plt = _plt()
    v, e, lo, hi = (np.asarray(a, float) for a in (voyage, est, low, high))
    imp = np.asarray(imputed, bool)
    fig, ax = plt.subplots(figsize=(12, 4.2))
    for name in dict.fromkeys(ship):
        m = np.array([s == name for s in ship])
        c = SHIP_COLOURS.get(name, "#888")
        for sel, face, lab in ((m & ~imp, c, name), (m & imp, "white", None)):
            if sel.any():
                ax.errorbar(v[sel], e[sel], yerr=_err(e[sel], lo[sel], hi[sel]), fmt="o",
                            color=c, mfc=face, ms=6, capsize=2, lw=1, label=lab)  # fmt: skip
    ax.plot([], [], "o", mfc="white", color="#555", label="imputed (hollow)")
    ax.set_xlabel("voyage")
    ax.set_ylabel("containers")
    ax.set_title("Per-voyage estimates with nominal 90 % intervals")
    ax.legend(ncol=5, fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.15))
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(alpha=0.3)
    ax.set_ylim(bottom=0)
    return _png(fig)


def quicklook_png(
    image: np.ndarray,
    polygons: Sequence[np.ndarray],
    regions: Sequence[str],
    hulls: Sequence[tuple[np.ndarray, str]],
    title: str,
    counts: Mapping[str, int] | None = None,
) -> bytes:
    """A scene overview ``image`` (uint8 [H, W, 3]) with container footprints ``polygons``
    (float [K, 2] (x, y) in the image's pixels, pixel (r, c) covering [c, c+1) x [r, r+1))
    outlined in their region's colour, and ship hulls (polygon, name) dashed white."""
    plt = _plt()
    from matplotlib.collections import PolyCollection
    from matplotlib.lines import Line2D

    h, w = image.shape[:2]
    width_in = 7.0
    fig, ax = plt.subplots(figsize=(width_in, width_in * h / max(w, 1) + 0.5))
    ax.imshow(image, extent=(0, w, h, 0), interpolation="bilinear")
    for name, colour in REGION_COLOURS.items():
        sel = [p for p, r in zip(polygons, regions, strict=True) if r == name]
        if sel:
            ax.add_collection(PolyCollection(sel, facecolors="none", edgecolors=colour,
                                             linewidths=0.9))  # fmt: skip
    for poly, name in hulls:
        ax.plot(*np.vstack([poly, poly[:1]]).T, "--", color="white", lw=1.0)
        cx, cy = poly.mean(axis=0)
        ax.text(cx, cy, name, color="white", fontsize=9, ha="center", va="center",
                bbox={"facecolor": "black", "alpha": 0.5, "pad": 1, "lw": 0})  # fmt: skip
    handles = [
        Line2D([], [], color=c, lw=2, label=f"{r} ({counts.get(r, 0)})" if counts else r)
        for r, c in REGION_COLOURS.items()
    ]
    ax.legend(handles=handles, loc="lower right", fontsize=8, framealpha=0.7)
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)
    return _png(fig)
