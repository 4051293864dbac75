"""``ccount run``: detect every scene of a folder, reconcile with the voyage log, report.

Layout of a run folder ``OUT``::

    OUT/ccount.sqlite             run catalog (detector.catalog): one row per scene
    OUT/detections/<scene>.detections.geojson|.detections.gpkg|.counts.json
    OUT/run.json                  how the run was made (imagery, settings, model)
    OUT/voyages.csv               copy of the voyage log used
    OUT/assumptions.json          the assumptions used (all figures, with sources)
    OUT/shipments.csv, OUT/totals.json, OUT/detections.gpkg, OUT/report.html

Resumable: a scene is skipped when its catalog row is ``done`` with the same file signature,
settings hash and model hash and its counts file exists; anything else is (re)processed. The
row is committed only after the scene's files are atomically in place, so a run killed at any
moment (even SIGKILL) and started again ends with the same outputs as an uninterrupted one.
One run at a time per ``OUT`` (an exclusive lock on ``OUT/.lock``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._io import atomic_write_text, check_output_dir, safe_name
from ..catalog import CATALOG_NAME, Catalog, file_signature, settings_hash
from ..errors import ConfigError

__all__ = [
    "SCENE_SUFFIXES",
    "RunConfig",
    "RunSummary",
    "find_scenes",
    "detect_settings",
    "run",
    "reconcile_run",
]

SCENE_SUFFIXES = (".tif", ".tiff")
DETECTIONS_DIR = "detections"


@dataclass(frozen=True)
class RunConfig:
    """A batch run: scenes under ``imagery_dir`` (recursive), the voyage log, the run folder,
    detect settings (:class:`detector.detect.pipeline.DetectConfig`) and an assumptions file (None =
    the defaults)."""

    imagery_dir: Path
    voyages_path: Path
    out_dir: Path
    detect: Any  # detector.detect.pipeline.DetectConfig (imported lazily: it pulls in torch)
    assumptions_path: Path | None = None
    progress: bool = True
    report: bool = True


@dataclass(frozen=True)
class RunSummary:
    done: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()  # (scene id, one-line error)
    outputs: dict[str, Path] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed

    def lines(self) -> list[str]:
        out = [
            f"scenes: {len(self.done)} processed, {len(self.skipped)} skipped (already done), "
            f"{len(self.failed)} failed"
        ]
        out += [f"  failed {sid}: {err}" for sid, err in self.failed]
        out += [f"{name}: {path}" for name, path in self.outputs.items()]
        return out


def find_scenes(imagery_dir: str | Path) -> list[Path]:
    """GeoTIFF scenes under ``imagery_dir`` (recursive, hidden files skipped), sorted; raises
    ConfigError when there are none or two share a scene id (file stem)."""
    d = Path(imagery_dir)
    if not d.is_dir():
        raise ConfigError(f"{d}: imagery folder not found (expected a folder of GeoTIFF scenes)")
    paths = sorted(
        p for p in d.rglob("*")
        if p.suffix.lower() in SCENE_SUFFIXES and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(d).parts)
    )  # fmt: skip
    if not paths:
        raise ConfigError(f"{d}: no scenes (*.tif, *.tiff) found")
    from ..detect.finish import check_output_names

    check_output_names(paths)
    return paths


def detect_settings(config: Any) -> dict[str, Any]:
    """The detect settings that change outputs (hashed into the catalog). Batch size,
    threads and device change speed, not detections, so they are left out."""
    return {
        "tile": config.tile_px,
        "overlap": config.overlap_px,
        "score_thresh": config.score_thresh,
        "bands": list(config.bands) if config.bands else None,
        "aoi_only": config.aoi_only,
        # only when on, so catalogs made before the option stay current
        **({"tta": True} if config.tta else {}),
    }


@contextlib.contextmanager
def _run_lock(out_dir: Path) -> Iterator[None]:
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / ".lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(f"{out_dir}: another ccount run is using this folder") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _clean_partials(det_dir: Path) -> None:
    """Remove temporaries a killed run left (``.<scene>.detections.geojson.XXXX`` etc.)."""
    if det_dir.is_dir():
        for p in det_dir.glob(".*"):
            if p.is_file() and (".counts." in p.name or ".detections." in p.name):
                p.unlink(missing_ok=True)


def _tile_bars(enabled: bool):
    if not enabled:
        return None, lambda: None
    from tqdm import tqdm

    bars: list = []

    def start(total: int, scene_id: str):
        for b in bars:
            b.close()
        bars.clear()
        bars.append(tqdm(total=total, desc=f"  {scene_id}", unit="tile", leave=False))
        return bars[0].update

    return start, lambda: [b.close() for b in bars]


def run(config: RunConfig) -> RunSummary:
    """Detect what is not done yet, then reconcile and report; see the module docstring."""
    from ..detect.pipeline import iter_detect, load_detector, output_paths
    from ..labels.voyages import read_voyages
    from ..reconcile.munitions import load_assumptions

    out = Path(config.out_dir)
    det_dir = out / DETECTIONS_DIR
    # validate everything cheap before the long part
    voyages = read_voyages(config.voyages_path)
    assumptions = load_assumptions(config.assumptions_path)
    scenes = find_scenes(config.imagery_dir)
    config.detect.check()
    check_output_dir(det_dir)  # before the long part: a bad --out is one line, exit 2
    with _run_lock(out):
        _clean_partials(det_dir)
        detector = load_detector(config.detect)
        s_hash = settings_hash(detect_settings(config.detect))
        m_hash = detector.sha256
        done, skipped, failed = [], [], []
        bar_start, bar_close = _tile_bars(config.progress)
        from tqdm import tqdm

        with Catalog(out / CATALOG_NAME) as cat:
            todo = []
            for path in scenes:
                sig, size = file_signature(path), path.stat().st_size
                rec = cat.get(path.stem)
                counts_path = output_paths(det_dir, path.stem)[2]
                if (
                    rec is not None
                    and counts_path.is_file()
                    and rec.is_current(file_sig=sig, settings_hash=s_hash, model_hash=m_hash)
                ):
                    skipped.append(path.stem)
                else:
                    todo.append((path, sig, size))
            outcomes = iter_detect(
                detector, [t[0] for t in todo], det_dir, config.detect, progress=bar_start
            )
            t0 = cat.now()
            for (path, sig, size), outcome in tqdm(
                zip(todo, outcomes, strict=True), total=len(todo), desc="scenes", unit="scene",
                disable=not config.progress,
            ):  # fmt: skip
                common = dict(path=path.resolve(), file_sig=sig, size=size,
                              settings_hash=s_hash, model_hash=m_hash, started_at=t0)  # fmt: skip
                t0 = cat.now()  # the next scene's outcome is awaited from here
                if outcome.ok:
                    # files are in place (detect writes them atomically): now commit
                    cat.mark_done(path.stem, counts=outcome.counts, **common)
                    done.append(path.stem)
                else:
                    cat.mark_failed(path.stem, error=outcome.error or "unknown error", **common)
                    failed.append((path.stem, outcome.error or "unknown error"))
            bar_close()
        _write_run_json(out, config, detector, s_hash)
        _save_inputs(out, Path(config.voyages_path), assumptions)
        outputs = reconcile_run(out, voyages=voyages, assumptions=assumptions,
                                report=config.report)  # fmt: skip
    return RunSummary(tuple(done), tuple(skipped), tuple(failed), outputs)


def _write_run_json(out: Path, config: RunConfig, detector: Any, s_hash: str) -> None:
    doc = {
        "imagery_dir": str(Path(config.imagery_dir).resolve()),
        "voyages": str(Path(config.voyages_path).resolve()),
        "assumptions": str(config.assumptions_path) if config.assumptions_path else None,
        "model": {"path": detector.model_path, "sha256": detector.sha256},
        "device": detector.device,
        "settings": detect_settings(config.detect),
        "settings_hash": s_hash,
    }
    atomic_write_text(out / "run.json", json.dumps(doc, indent=1) + "\n")


def _save_inputs(out: Path, voyages_path: Path, assumptions: Any) -> None:
    """Copy the voyage log and the assumptions used into the run folder (provenance; and
    ``ccount report``/``reconcile`` reuse them)."""
    from ..reconcile.munitions import saved_assumptions_json

    if voyages_path.resolve() != (out / "voyages.csv").resolve():
        atomic_write_text(out / "voyages.csv", voyages_path.read_text(encoding="utf-8-sig"))
    atomic_write_text(out / "assumptions.json", saved_assumptions_json(assumptions))


def reconcile_run(
    out_dir: str | Path,
    *,
    voyages: Any = None,
    assumptions: Any = None,
    report: bool = True,
) -> dict[str, Path]:
    """Reconcile a run folder's counts (``voyages``/``assumptions`` default to the copies the
    run saved) and write shipments.csv, totals.json, detections.gpkg and report.html."""
    from ..labels.voyages import read_voyages
    from ..reconcile.core import reconcile, totals
    from ..reconcile.munitions import load_assumptions, read_saved_assumptions
    from ..report.shipments_io import detections_dir, merge_detections, run_counts, write_outputs

    out = Path(out_dir)
    if not out.is_dir():
        raise ConfigError(f"{out}: run folder not found")
    if voyages is None:
        if not (out / "voyages.csv").is_file():
            raise ConfigError(f"{out}: no voyages.csv in the run folder; pass --voyages CSV")
        voyages = read_voyages(out / "voyages.csv")
    if assumptions is None:
        saved = out / "assumptions.json"
        assumptions = read_saved_assumptions(saved) if saved.is_file() else load_assumptions()
    counts = run_counts(out)
    result = reconcile(counts, voyages, assumptions)
    doc = totals(result, assumptions)
    paths = write_outputs(out, result, doc)
    det_dir = detections_dir(out)
    geo = [det_dir / f"{safe_name(c['scene'])}.detections.geojson" for c in counts]
    geo = [p for p in geo if p.is_file()]
    if geo:
        merge_detections(geo, out / "detections.gpkg")
        paths["detections"] = out / "detections.gpkg"
    if report:
        from ..report.html import write_report

        paths["report"] = write_report(out, result=result, totals=doc, assumptions=assumptions)
    return paths
