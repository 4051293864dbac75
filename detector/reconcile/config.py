"""The reconciler's figures (the ``shipments``, ``matching`` and ``measured_heights``
sections of the assumptions file), typed: :class:`ReconcileConfig`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from .measured import HEIGHTS_NET, MeasuredConfig
from .munitions import Assumptions

__all__ = ["ReconcileConfig"]


@dataclass(frozen=True)
class ReconcileConfig:
    """The ``shipments`` and ``matching`` figures of the assumptions file, typed."""

    under_deck: float = 0.0
    under_deck_low: float = 0.0
    under_deck_high: float = 0.0
    deck_scale: float = 1.33  # at Rajin
    arrival_scale: float = 1.15  # at Vostochny or Dunai
    ship_scale: tuple[tuple[str, float], ...] = ()  # per-ship factor on deck counts; else 1
    stock_scale: float = 1.19
    count_noise_rel_90: float = 0.03
    count_bias_rel_90: float = 0.05
    ship_bias_rel_90: float = 0.21
    tier_mae_per_stack: float = 1.0
    tier_bias_per_scene: float = 0.3
    stock_flow_rel: float = 0.10
    pier_residual: float = 30.0
    pier_residual_sd: float = 17.3
    prior_per_voyage: float = 250.0
    prior_sd_per_voyage: float = 50.0
    prior_ship: tuple[tuple[str, float], ...] = (("Maia-1", 220.0),)
    prior_ship_mean_sd: float = 40.0
    empty_deck: float = 10.0
    rajin_days_before: int = 3
    rajin_days_after: int = 1
    arrival_days_min: int = 1
    arrival_days_max: int = 7
    stock_days_before: int = 6
    heights: str = HEIGHTS_NET  # the scenes' stack heights: "net" (tier head) | "shadow"
    measured: MeasuredConfig = field(default_factory=MeasuredConfig)

    @classmethod
    def from_assumptions(cls, a: Assumptions) -> ReconcileConfig:
        s, m = a.section("shipments"), a.section("matching")
        d = cls()

        def fig(name: str):
            return a.figure("shipments", name) if name in s else None

        def get(sec: dict, name: str, default: Any) -> Any:
            return sec.get(name, default)

        ud, res = fig("under_deck_containers"), fig("pier_residual_containers")
        res_sd = d.pier_residual_sd
        if res is not None and res.low is not None and res.high is not None:
            res_sd = (res.high - res.low) / math.sqrt(12.0)  # sd of a uniform over the range

        return cls(
            under_deck=float(ud.value) if ud else d.under_deck,
            under_deck_low=float(ud.low if ud and ud.low is not None else d.under_deck_low),
            under_deck_high=float(ud.high if ud and ud.high is not None else d.under_deck_high),
            deck_scale=float(get(s, "deck_count_scale_rajin", d.deck_scale)),
            arrival_scale=float(get(s, "deck_count_scale_arrival", d.arrival_scale)),
            ship_scale=tuple(
                sorted((str(k), float(v)) for k, v in get(s, "deck_count_scale_ship", {}).items())
            ),
            stock_scale=float(get(s, "stock_count_scale", d.stock_scale)),
            count_noise_rel_90=float(get(s, "count_noise_rel_90", d.count_noise_rel_90)),
            count_bias_rel_90=float(get(s, "count_bias_rel_90", d.count_bias_rel_90)),
            ship_bias_rel_90=float(get(s, "count_bias_ship_rel_90", d.ship_bias_rel_90)),
            tier_mae_per_stack=float(get(s, "tier_mae_per_stack", d.tier_mae_per_stack)),
            tier_bias_per_scene=float(get(s, "tier_bias_per_scene", d.tier_bias_per_scene)),
            stock_flow_rel=float(get(s, "stock_flow_rel", d.stock_flow_rel)),
            pier_residual=float(res.value) if res is not None else d.pier_residual,
            pier_residual_sd=float(res_sd),
            prior_per_voyage=float(get(s, "prior_containers_per_voyage", d.prior_per_voyage)),
            prior_sd_per_voyage=float(get(s, "prior_sd_per_voyage", d.prior_sd_per_voyage)),
            prior_ship=tuple(
                sorted(dict(get(s, "prior_ship_containers", dict(d.prior_ship))).items())
            ),
            prior_ship_mean_sd=float(get(s, "prior_ship_mean_sd", d.prior_ship_mean_sd)),
            empty_deck=float(get(s, "empty_deck_containers", d.empty_deck)),
            rajin_days_before=int(get(m, "rajin_days_before", d.rajin_days_before)),
            rajin_days_after=int(get(m, "rajin_days_after", d.rajin_days_after)),
            arrival_days_min=int(get(m, "arrival_days_min", d.arrival_days_min)),
            arrival_days_max=int(get(m, "arrival_days_max", d.arrival_days_max)),
            stock_days_before=int(get(m, "stock_days_before", d.stock_days_before)),
            measured=MeasuredConfig.from_section(a.section("measured_heights")),
        )

    def for_basis(self, basis: str) -> ReconcileConfig:
        """The figures for scenes whose stack heights are ``basis``: unchanged for "net";
        for "shadow" (measured heights) no count factor at all (deck, arrival, per ship,
        stock: 1), no per-ship bias fitted to the tier head, and the count bias of the
        tops alone (``top_count_bias_rel_90``)."""
        if basis == HEIGHTS_NET:
            return self
        return replace(self, heights=basis, deck_scale=1.0, arrival_scale=1.0, ship_scale=(),
                       stock_scale=1.0, ship_bias_rel_90=0.0,
                       count_bias_rel_90=self.measured.top_count_bias_rel_90)  # fmt: skip

    def prior_for(self, ship: str) -> float:
        return dict(self.prior_ship).get(ship, self.prior_per_voyage)

    def ship_scale_for(self, ship: str | None) -> float:
        return dict(self.ship_scale).get(ship, 1.0) if ship else 1.0
