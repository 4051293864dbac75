"""From counts documents to observations and their error budgets (pure; used by reconcile).

A counts document (``<scene>.counts.json``, docs/contracts.md) becomes a :class:`SceneObs`:
port, acquisition time, ship sightings (name, berth, visible and estimated containers on
deck) and, at Rajin, the stock on Pier 2. :func:`deck_estimate` and :func:`stock_estimate`
turn them into :class:`detector.reconcile.fuse.Estimate` values of one voyage's load, with error groups:

- ``scene:<id>:count`` counting noise, ``count_noise_rel_90 / z`` of the scene's estimate;
- ``model:bias`` the model's count bias shared by all scenes, ``count_bias_rel_90 / z``;
- ``scene:<id>:tier`` hidden-tier error: per stack ``1.2533 * tier_mae`` (sd of a normal with
  that mean absolute error), independent over the ``visible`` stacks, plus a scene-wide
  ``tier_bias_per_scene`` on every stack;
- ``ship_bias:<ship>`` (deck evidence) a count bias shared by every view of one ship;
- ``stock:<voyage>:flow`` containers moved on or off the pier for other reasons.

Scenes counted with measured heights (``--heights shadow``) take their containers as counted,
with no factor, and the height groups of :mod:`detector.reconcile.measured` instead of the
tier figures (:meth:`ReconcileConfig.for_basis`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import LabelError
from .config import ReconcileConfig
from .fuse import Z90, Estimate
from .measured import (
    HEIGHTS_NET,
    HEIGHTS_SHADOW,
    HeightStats,
    height_stats,
    measured_groups,
    scene_basis,
)

__all__ = [
    "LOADING_PIER",
    "ReconcileConfig",
    "ShipSighting",
    "SceneObs",
    "scene_obs",
    "deck_estimate",
    "stock_estimate",
    "stock_before_estimate",
]

LOADING_PIER = "Pier 2"  # Rajin's loading pier (DOMAIN.md); its berths start with this name
_MAE_TO_SD = math.sqrt(math.pi / 2.0)


@dataclass(frozen=True)
class ShipSighting:
    """One ship seen in one scene: containers on its deck (``est`` includes hidden tiers)."""

    scene: str
    name: str
    berth: str | None
    visible: float
    est: float
    teu_ratio: float = 1.0  # TEU per container on this deck
    heights: HeightStats | None = None  # measured stack heights (--heights shadow)

    @property
    def at_loading_pier(self) -> bool:
        return bool(self.berth) and str(self.berth).startswith(LOADING_PIER)


@dataclass(frozen=True)
class SceneObs:
    """What reconcile needs from one counts document. ``acquired`` is UTC-aware or None;
    ``stock_est``/``stock_visible`` the containers on Rajin Pier 2 off any deck (None when the
    scene is not at Rajin or does not cover the pier); ``stock_teu_ratio`` TEU per container
    of that stock (the pier's own figure when the counts give one, else the quay region's);
    ``unobserved_berths`` the port's berths the scene does not cover (``by_aoi`` ``observed``
    false: counts from ``ccount detect`` that recorded coverage), where no ship being seen
    says nothing: the berth is not observed, not empty. The Pier 2 stock is None too when
    the pier or one of its berths is not observed (a loaded ship could be beside it)."""

    scene: str
    port: str | None
    acquired: dt.datetime | None
    ships: tuple[ShipSighting, ...]
    stock_est: float | None
    stock_visible: float | None
    stock_teu_ratio: float
    model_sha256: str | None
    settings: Mapping[str, Any]
    unobserved_berths: tuple[str, ...] = ()
    heights: str = HEIGHTS_NET  # settings.heights: "net" | "shadow"
    stock_heights: HeightStats | None = None  # Pier 2's measured stack heights (shadow)

    @property
    def date(self) -> dt.date | None:
        return self.acquired.date() if self.acquired else None

    def loaded_ship_at_pier(self, empty_deck: float) -> bool:
        return any(s.at_loading_pier and s.est >= empty_deck for s in self.ships)


def _num(x: Any, where: str) -> float:
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        raise LabelError(f"{where}: expected a number, got {x!r}")
    return float(x)


def _time(value: Any, where: str) -> dt.datetime | None:
    if value in (None, ""):
        return None
    try:
        t = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise LabelError(f"{where}: acquired {value!r} is not an ISO time") from None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def _ratio(d: Any) -> float | None:
    """TEU per container of a counts block with ``est`` and ``teu_est``; None if unknown."""
    if not isinstance(d, Mapping):
        return None
    est, teu = d.get("est"), d.get("teu_est")
    if isinstance(est, int | float) and isinstance(teu, int | float) and est > 0 and teu > 0:
        return float(teu) / float(est)
    return None


def scene_obs(counts: Mapping[str, Any]) -> SceneObs:
    """Parse one counts document; raises LabelError naming the scene on a malformed one."""
    scene = counts.get("scene") if isinstance(counts, Mapping) else None
    if not scene:
        raise LabelError(
            f"{counts.get('file', '<counts>') if isinstance(counts, Mapping) else '<counts>'}: counts without a 'scene' id"
        )
    where = f"{scene}.counts.json"
    basis = scene_basis(counts)
    shadow = basis == HEIGHTS_SHADOW
    try:
        regions = counts.get("by_region") or {}
        deck_ratio = _ratio(regions.get("deck")) or 1.0
        ships = tuple(
            ShipSighting(
                scene=str(scene),
                name=str(s.get("name") or "unknown"),
                berth=s.get("berth"),
                visible=_num(s.get("visible", 0), f"{where}: ships[{i}].visible"),
                est=_num(s.get("est", 0), f"{where}: ships[{i}].est"),
                teu_ratio=_ratio(s) or deck_ratio,
                heights=height_stats(s, counts, f"{where}: ships[{i}]") if shadow else None,
            )
            for i, s in enumerate(counts.get("ships") or [])
        )
        port = counts.get("port")
        port = str(port).lower() if port else None
        stock_est = stock_vis = stock_heights = None
        by_aoi = counts.get("by_aoi") or {}
        unobserved = tuple(
            str(name) for name, d in by_aoi.items()
            if isinstance(d, Mapping) and d.get("observed") is False
            and (d.get("kind") == "berth" or ("kind" not in d and "berth" in str(name).lower()))
        )  # fmt: skip
        pier = by_aoi.get(LOADING_PIER)
        pier_seen = (
            pier is not None
            and pier.get("observed") is not False
            and not any(n.startswith(LOADING_PIER) for n in unobserved)
        )
        if port == "rajin" and pier_seen:
            stock_est = _num(pier.get("est", 0), f"{where}: by_aoi.{LOADING_PIER}.est")
            stock_vis = _num(pier.get("visible", 0), f"{where}: by_aoi.{LOADING_PIER}.visible")
            # containers on a deck inside the pier polygon are not stock (optional keys)
            stock_est -= float(pier.get("deck_est", 0) or 0)
            stock_vis -= float(pier.get("deck_visible", 0) or 0)
            if shadow:
                stock_heights = height_stats(pier, counts, f"{where}: by_aoi.{LOADING_PIER}")
        stock_ratio = _ratio(pier) or _ratio(regions.get("quay")) or 1.0
        model = counts.get("model") or {}
    except AttributeError:
        raise LabelError(f"{where}: malformed counts document") from None
    return SceneObs(
        scene=str(scene),
        port=port,
        acquired=_time(counts.get("acquired"), where),
        ships=ships,
        stock_est=stock_est,
        stock_visible=stock_vis,
        stock_teu_ratio=stock_ratio,
        model_sha256=model.get("sha256") if isinstance(model, Mapping) else None,
        settings=dict(counts.get("settings") or {}),
        unobserved_berths=unobserved,
        heights=basis,
        stock_heights=stock_heights,
    )


def _count_groups(scene: str, est: float, visible: float, cfg: ReconcileConfig) -> list:
    tier_sd = math.sqrt(
        max(visible, 0.0) * (_MAE_TO_SD * cfg.tier_mae_per_stack) ** 2
        + (cfg.tier_bias_per_scene * max(visible, 0.0)) ** 2
    )
    return [
        (f"scene:{scene}:count", cfg.count_noise_rel_90 / Z90 * est),
        ("model:bias", cfg.count_bias_rel_90 / Z90 * est),
        (f"scene:{scene}:tier", tier_sd),
    ]


def _measured(scene, est, h, cfg: ReconcileConfig, load, shared, scale=None) -> list:
    """The tops' counting groups and the heights' (:func:`measured_groups`) of ``est``
    containers with measured heights ``h``, widened to ``scale`` (the floor of
    :func:`deck_estimate`) when that is larger."""
    scale = est if scale is None else scale
    return [
        (f"scene:{scene}:count", cfg.count_noise_rel_90 / Z90 * scale),
        ("model:bias", cfg.count_bias_rel_90 / Z90 * scale),
        *measured_groups(scene, h, cfg.measured, load=load, shared=shared, est=est, scale=scale),
    ]


def deck_estimate(
    s: ShipSighting,
    cfg: ReconcileConfig,
    floor: float = 0.0,
    ship: str | None = None,
    at_rajin: bool = True,
    voyage: int | None = None,
) -> Estimate:
    """A voyage's load from its ship's deck: ``est`` (times the calibrated scale for a view
    ``at_rajin`` or on arrival, and the calibrated factor of the voyage's ``ship``) + the
    assumed under-deck cargo.

    The counting errors scale with the load, but never from below ``floor`` (the ship's
    typical load): a deck counted far too low (a hull found only in part, a cloud) must not
    look precise because its count is small. ``ship`` (the voyage's ship) adds the group
    ``ship_bias:<ship>``: a detector may count one ship's deck layout consistently high or
    low, an error every view of that ship shares.

    A sighting with measured heights (``s.heights``, ``cfg.heights`` "shadow") is taken as
    counted (no scale) with the groups of :mod:`detector.reconcile.measured`; its prior
    stacks are the load of ``voyage`` (every view of it shares them)."""
    if s.heights is not None and cfg.heights == HEIGHTS_SHADOW:
        scale = max(s.est, floor)
        load = f"deck_prior:{voyage if voyage is not None else s.scene}"
        groups = _measured(s.scene, s.est, s.heights, cfg, load, f"ship_prior:{ship or s.name}",
                           scale)  # fmt: skip
        return Estimate(s.est + cfg.under_deck, tuple(groups),
                        cfg.under_deck_low - cfg.under_deck, cfg.under_deck_high - cfg.under_deck)  # fmt: skip
    est = s.est * (cfg.deck_scale if at_rajin else cfg.arrival_scale) * cfg.ship_scale_for(ship)
    scale = max(est, floor)
    visible = s.visible * scale / est if est > 0 else scale / 2.5
    groups = _count_groups(s.scene, scale, visible, cfg)
    if ship is not None and cfg.ship_bias_rel_90 > 0:
        groups.append((f"ship_bias:{ship}", cfg.ship_bias_rel_90 / Z90 * scale))
    return Estimate(
        est + cfg.under_deck,
        tuple(groups),
        cfg.under_deck_low - cfg.under_deck,
        cfg.under_deck_high - cfg.under_deck,
    )


def _stock_groups(o: SceneObs, est: float, cfg: ReconcileConfig) -> list:
    """Error groups of the Pier 2 stock ``est`` of scene ``o``: the tier figures, or the
    measured heights' groups when the scene has them."""
    if o.stock_heights is not None and cfg.heights == HEIGHTS_SHADOW:
        sc = f"scene:{o.scene}"
        return _measured(o.scene, est, o.stock_heights, cfg, f"{sc}:stock", f"{sc}:prior_mean")
    return _count_groups(o.scene, est, o.stock_visible or 0.0, cfg)


def stock_estimate(
    before: SceneObs, after: SceneObs, voyage: int, cfg: ReconcileConfig
) -> Estimate:
    """A voyage's load from the drop of Rajin Pier 2 stock between two scenes (all cargo,
    above and below deck, so no under-deck assumption). The model bias applies to the
    difference; each scene's own noise to its count."""
    b_est, a_est = (
        (before.stock_est or 0.0) * cfg.stock_scale,
        (after.stock_est or 0.0) * cfg.stock_scale,
    )
    drop = b_est - a_est
    gb, ga = _stock_groups(before, b_est, cfg), _stock_groups(after, a_est, cfg)
    groups = [g for g in gb + ga if g[0] != "model:bias"]
    groups.append(("model:bias", cfg.count_bias_rel_90 / Z90 * max(drop, 0.0)))
    groups.append((f"stock:{voyage}:flow", cfg.stock_flow_rel * max(drop, 0.0)))
    return Estimate(drop, tuple(groups))


def stock_before_estimate(
    before: SceneObs,
    residual: float,
    residual_sd: float,
    residual_mean_sd: float,
    voyage: int,
    cfg: ReconcileConfig,
) -> Estimate:
    """A voyage's load from the Pier 2 stock before loading when no scene shows the pier
    after it: the stock minus the ``residual`` a loading typically leaves (sd
    ``residual_sd`` per loading, plus ``residual_mean_sd`` shared by every such estimate)."""
    b_est = (before.stock_est or 0.0) * cfg.stock_scale
    groups = _stock_groups(before, b_est, cfg)
    groups.append((f"stock:{voyage}:residual", residual_sd))
    groups.append(("pier_residual:mean", residual_mean_sd))
    return Estimate(b_est - residual, tuple(groups))
