"""The annotation-review loop: pick doubtful areas of a detect run, review them (browser,
Label Studio, CVAT, QGIS or simulated from truth), turn them into a masked label set,
measure the gain of a fine-tune.

Public names are loaded on first use (``lazy_loader``), so importing the package is
cheap; each module's own ``__all__`` says what it offers."""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submodules=["round", "server", "view"],
    submod_attrs={
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
        "server": ["TOKEN_HEADER", "build_app", "is_loopback", "serve"],
        "view": ["DECISIONS", "progress", "resume_unit", "state_view", "unit_view"],
    },
)
