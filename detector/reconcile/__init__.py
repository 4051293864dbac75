"""Scene counts to shipments: matching scenes to voyages, evidence, fusion, pooling
across voyages, totals and the munitions range.

Public names are loaded on first use (``lazy_loader``), so importing the package is
cheap; each module's own ``__all__`` says what it offers."""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submodules=[
        "core",
        "evidence",
        "fuse",
        "matching",
        "measured",
        "munitions",
        "pool",
        "truth_counts",
    ],
    submod_attrs={
        "core": [
            "Reconciliation",
            "Shipment",
            "UncountedScene",
            "reconcile",
            "totals",
            "heights_basis",
            "would_match",
        ],
        "evidence": [
            "LOADING_PIER",
            "ReconcileConfig",
            "SceneObs",
            "ShipSighting",
            "deck_estimate",
            "scene_obs",
            "stock_before_estimate",
            "stock_estimate",
        ],
        "fuse": ["Estimate", "Z90", "combine", "consistent", "fuse", "total"],
        "matching": ["ARRIVAL_PORTS", "Evidence", "Unmatched", "match_evidence"],
        "measured": [
            "HEIGHTS_NET",
            "HEIGHTS_SHADOW",
            "HeightStats",
            "MeasuredConfig",
            "height_stats",
            "measured_groups",
            "scene_basis",
        ],
        "munitions": [
            "Assumptions",
            "Figure",
            "MAX_CONTAINERS",
            "RoundsRange",
            "default_assumptions_path",
            "load_assumptions",
            "munitions_summary",
            "parse_assumptions",
            "read_saved_assumptions",
            "rounds_range",
            "saved_assumptions_json",
        ],
        "pool": ["PRIOR_DOF", "SHARED_GROUPS", "between_voyage_sd", "own_sd", "pool"],
        "truth_counts": [
            "ErrorModel",
            "PRECISE_DETECTOR",
            "counts_from_truth",
            "precise_assumptions",
        ],
    },
)
