"""Where the artifact folders live: ``models/``, ``imagery/aoi/``, ``labels/``.

The package is installed from a checkout (``pip install -e .``), so the folders sit beside
``detector/``. ``CCOUNT_HOME`` points elsewhere when they were moved.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["project_root", "aoi_dir", "models_dir", "labels_dir", "default_model_path"]


def project_root() -> Path:
    env = os.environ.get("CCOUNT_HOME")
    return Path(env) if env else Path(__file__).resolve().parents[1]


def aoi_dir() -> Path:
    return project_root() / "imagery" / "aoi"


def models_dir() -> Path:
    return project_root() / "models"


def labels_dir() -> Path:
    return project_root() / "labels"


def default_model_path() -> Path:
    return models_dir() / "ccount-centernet.pt"


def default_verifier_path() -> Path:
    """The shipped crop verifier (``ccount detect --verify``)."""
    return models_dir() / "ccount-verifier.pt"
