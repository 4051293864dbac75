"""Batch runs over a folder of scenes (detect + reconcile + report, resumable) and the demo.

Public names are loaded on first use (``lazy_loader``), so importing the package is
cheap; each module's own ``__all__`` says what it offers."""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submodules=["batch", "demo", "state"],
    submod_attrs={
        "batch": [
            "RunConfig",
            "RunSummary",
            "SCENE_SUFFIXES",
            "detect_settings",
            "find_scenes",
            "reconcile_run",
            "run",
        ],
        "demo": ["DEMO_FIRST", "DEMO_SEED", "DemoResult", "demo"],
        "state": [
            "FAILED_DIR",
            "GONE_DIR",
            "RUN_FILES",
            "SCENE_OUTPUTS",
            "append_run_json",
            "clean_partials",
            "drop_aside",
            "run_lock",
            "set_aside",
        ],
    },
)
