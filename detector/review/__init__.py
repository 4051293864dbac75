"""The annotation-review loop: pick doubtful areas of a detect run, review them (browser,
Label Studio, CVAT, QGIS or simulated from truth), turn them into a masked label set,
measure the gain of a fine-tune.

Public names are loaded on first use (``lazy_loader``), so importing the package is
cheap; each module's own ``__all__`` says what it offers."""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submodules=[
        "actions",
        "doubt",
        "formats",
        "gain",
        "labels",
        "passes",
        "queue_io",
        "records",
        "round",
        "select",
        "server",
        "simulate",
        "view",
    ],
    submod_attrs={
        "formats": ["EXPORT_FORMATS", "export_round", "import_reviews"],
        "gain": ["BOOT", "GAIN_NAME", "journal_cost", "round_gain", "unit_tallies"],
        "labels": ["counts_as_container", "round_labels", "unit_truth"],
        "passes": [
            "PEAK_FLOOR",
            "MirroredPredictor",
            "ReviewModel",
            "ScenePasses",
            "load_review_model",
            "mirror_x",
            "run_passes",
        ],
        "round": [
            "ACTIONS",
            "KINDS",
            "REASONS",
            "Candidate",
            "Chip",
            "Manifest",
            "Round",
            "Unit",
            "utc_now",
        ],
        "doubt": [
            "KIND_GAP_M",
            "MATCH_M",
            "MIN_VALID",
            "NEAR",
            "VERIFY_NEAR",
            "UnitPick",
            "candidate_doubts",
            "score_units",
        ],  # fmt: skip
        "select": [
            "CONTROL_SHARE",
            "STRATEGIES",
            "SelectConfig",
            "detect_run_scenes",
            "pick_units",
            "select_round",
        ],
        "simulate": [
            "MOVE_DEG",
            "MOVE_LEN_M",
            "MOVE_M",
            "SimulateSummary",
            "simulate_round",
            "truth_boxes",
        ],
        "server": ["TOKEN_HEADER", "build_app", "is_loopback", "serve"],
        "view": ["DECISIONS", "progress", "resume_unit", "state_view", "unit_view"],
    },
)
