"""The package's shape: imports run one way between stage subpackages, and each
subpackage's ``__all__`` names resolve.

Floors, bottom to top (DESIGN.md, "Imports run one way"). A module may import its own
subpackage, the ground and any lower floor; never a higher floor, and never another
subpackage on its own floor (``detect`` and ``reconcile`` stay independent). With a strict
order between floors there can be no cycle between subpackages.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import detector

PACKAGE = Path(detector.__file__).parent
FLOORS: tuple[tuple[str, ...], ...] = (
    ("",),  # ground: errors, paths, _io, detections, ships, catalog
    ("imagery",),
    ("labels",),
    ("synth",),
    ("model",),
    ("detect", "reconcile"),
    ("report", "review"),
    ("run",),
    ("cli",),
)
FLOOR = {pkg: i for i, floor in enumerate(FLOORS) for pkg in floor}
SUBPACKAGES = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())


def imports_of(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, absolute module) for every import of a module of the package at ``root`` in
    ``path``, including imports inside functions; ``from X import name`` counts ``X.name``
    when that is a module or package, else ``X``."""
    rel = path.relative_to(root.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    package = list(parts if path.name == "__init__.py" else parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            for a in node.names:
                sub = root.parent / f"{mod}.{a.name}".replace(".", "/")
                is_module = sub.with_suffix(".py").is_file() or (sub / "__init__.py").is_file()
                found.append((node.lineno, f"{mod}.{a.name}" if is_module else mod))
    return [(n, m) for n, m in found if m.split(".")[0] == root.name]


def stage(module: str, root: Path) -> str:
    """The subpackage a module belongs to; ``""`` for the ground (``pkg.errors``, ``pkg``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and (root / parts[1] / "__init__.py").is_file() else ""


def violations(root: Path) -> list[str]:
    """Every import in the package at ``root`` that goes up a floor or sideways."""
    wrong = []
    for path in sorted(root.rglob("*.py")):
        if path.name == "__main__.py" and path.parent == root:
            continue  # `python -m detector` is the command line itself
        rel = path.relative_to(root.parent)
        src = stage(".".join(rel.with_suffix("").parts), root)
        for line, target in imports_of(path, root):
            dst = stage(target, root)
            if dst != src and FLOOR[dst] >= FLOOR[src]:
                wrong.append(f"{rel}:{line} {src or 'ground'} -> {target}")
    return wrong


def test_every_subpackage_has_a_floor():
    assert set(SUBPACKAGES) <= set(FLOOR), set(SUBPACKAGES) - set(FLOOR)
    assert {"imagery", "labels", "synth", "model", "detect", "reconcile", "report", "run",
            "cli"} <= set(SUBPACKAGES)  # fmt: skip


def test_imports_run_one_way():
    wrong = violations(PACKAGE)
    assert not wrong, "imports against the floors:\n" + "\n".join(wrong)


def test_the_check_finds_upward_and_sideways_imports(tmp_path):
    pkg = tmp_path / "detector"
    for sub in ("run", "detect", "reconcile", "imagery"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "errors.py").write_text("def late():\n    from .run import batch\n")
    (pkg / "run" / "batch.py").write_text("from ..detect import pipeline\n")
    (pkg / "detect" / "pipeline.py").write_text(
        "from ..imagery.raster import open_scene\nfrom ..errors import CountError\n"
    )
    (pkg / "imagery" / "raster.py").write_text("import detector.reconcile.core\n")
    (pkg / "reconcile" / "core.py").write_text("from detector.detect import pipeline\n")
    assert violations(pkg) == [
        "detector/errors.py:2 ground -> detector.run.batch",
        "detector/imagery/raster.py:1 imagery -> detector.reconcile.core",
        "detector/reconcile/core.py:1 reconcile -> detector.detect.pipeline",
    ]


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_public_names_resolve(name):
    pkg = importlib.import_module(f"detector.{name}")
    assert isinstance(pkg.__all__, list)
    for attr in pkg.__all__:
        assert getattr(pkg, attr) is not None, f"detector.{name}.{attr}"


def test_importing_the_stages_imports_nothing_heavy():
    code = (
        "import sys, detector.imagery, detector.model, detector.detect, detector.labels, "
        "detector.reconcile, detector.report, detector.run, detector.synth\n"
        "print(','.join(m for m in ('torch', 'rasterio', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
