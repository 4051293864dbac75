"""``ccount run``: detect every scene of a folder, reconcile with the voyage log, report.

Layout of a run folder ``OUT``::

    OUT/ccount.sqlite             run catalog (detector.catalog): one row per scene
    OUT/detections/<scene>.detections.geojson|.detections.gpkg|.counts.json
    OUT/detections/.gone/, .failed/  outputs set aside (scenes gone, scenes that now fail)
    OUT/run.json                  how the run was made (imagery, settings, model) + history
    OUT/voyages.csv               copy of the voyage log used
    OUT/assumptions.json          the assumptions used (all figures, with sources)
    OUT/shipments.csv, OUT/totals.json, OUT/detections.gpkg, OUT/report.html

Resumable: a scene is skipped when its catalog row is ``done`` with the same file signature,
settings hash and model hash and its counts file exists; anything else is (re)processed. The
row is committed only after the scene's files are atomically in place, so a run killed at any
moment (even SIGKILL) and started again ends with the same outputs as an uninterrupted one.
One command at a time per ``OUT`` (an exclusive lock on ``OUT/.lock``, also taken by
``ccount reconcile`` and ``report``).

The catalog follows the imagery folder on every run (:mod:`detector.run.state`): a scene
whose file is no longer there is marked ``gone`` (its row kept for history) and its outputs
are moved to ``OUT/detections/.gone/``; a scene whose file changed is redone; a scene that
fails has the outputs of an earlier success moved to ``OUT/detections/.failed/``. A broken
symbolic link in the imagery folder is a failed scene. Failed and gone scenes are listed in
the summary, ``totals.json`` and the report; none of them feeds the reconciliation.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .._io import atomic_write_text, check_output_dir, safe_name
from ..catalog import CATALOG_NAME, Catalog, file_signature, settings_hash
from ..errors import ConfigError
from .state import (
    FAILED_DIR,
    GONE_DIR,
    append_run_json,
    clean_partials,
    drop_aside,
    run_lock,
    set_aside,
)

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
    cluster: Any = None  # detector.run.cluster.ClusterConfig; None = in this process


@dataclass(frozen=True)
class RunSummary:
    done: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()  # (scene id, one-line error)
    outputs: dict[str, Path] = field(default_factory=dict)
    gone: tuple[tuple[str, str], ...] = ()  # (scene id, why), all gone rows of the catalog

    @property
    def ok(self) -> bool:
        return not self.failed

    def lines(self) -> list[str]:
        out = [
            f"scenes: {len(self.done)} processed, {len(self.skipped)} skipped (already done), "
            f"{len(self.failed)} failed"
        ]
        out += [f"  failed {sid}: {err}" for sid, err in self.failed]
        if self.gone:
            out.append(f"gone: {len(self.gone)} (no longer in the imagery folder; not counted, "
                       f"outputs moved to {DETECTIONS_DIR}/{GONE_DIR}/)")  # fmt: skip
            out += [f"  gone {sid}: {why}" for sid, why in self.gone]
        out += [f"{name}: {path}" for name, path in self.outputs.items()]
        return out


def find_scenes(imagery_dir: str | Path) -> list[Path]:
    """GeoTIFF scenes under ``imagery_dir`` (recursive, hidden files skipped), sorted; broken
    symbolic links are included (the run lists them as failed scenes). Raises ConfigError
    when there are none or two share a scene id (file stem)."""
    d = Path(imagery_dir)
    if not d.is_dir():
        raise ConfigError(f"{d}: imagery folder not found (expected a folder of GeoTIFF scenes)")
    paths = sorted(
        p for p in d.rglob("*")
        if p.suffix.lower() in SCENE_SUFFIXES and (p.is_file() or _broken_link(p))
        and not any(part.startswith(".") for part in p.relative_to(d).parts)
    )  # fmt: skip
    if not paths:
        raise ConfigError(f"{d}: no scenes (*.tif, *.tiff) found")
    from ..detect.finish import check_output_names

    check_output_names(paths)
    return paths


def _broken_link(p: Path) -> bool:
    return p.is_symlink() and not p.exists()


def _broken_error(p: Path) -> str:
    try:
        target = p.readlink()
    except OSError:
        target = "?"
    return f"{p}: broken symbolic link (its target {target} does not exist)"


def detect_settings(config: Any) -> dict[str, Any]:
    """The detect settings that change outputs (hashed into the catalog). Batch size,
    threads and device change speed, not detections, so they are left out. The threshold
    is the one in effect (given, else the weights'), so catalogs made before weights could
    carry one stay current."""
    from ..detect.plan import score_thresh_of

    return {
        "tile": config.tile_px,
        "overlap": config.overlap_px,
        "score_thresh": score_thresh_of(config),
        "bands": list(config.bands) if config.bands else None,
        "aoi_only": config.aoi_only,
        # only when on, so catalogs made before the option stay current
        **({"tta": True, "tta_floor": config.tta_floor} if config.tta else {}),
        # a scene outside the model's GSD range fails without --force: forcing is a setting
        **({"force": True} if config.force else {}),
        # measured stack heights change every count; only when on (catalogs made before)
        **({"heights": config.heights} if getattr(config, "heights", "net") != "net" else {}),
        **({"view": "nadir"} if getattr(config, "view_source", "tags") == "nadir" else {}),
        **({"verify": _verify_setting(config)} if getattr(config, "verify", False) else {}),
    }


def _verify_setting(config: Any) -> dict[str, Any]:
    from ..detect.verify import verifier_rule

    _, q, sha = verifier_rule(config)
    return {"verify_thresh": q, "verifier_sha256": sha}


def _tile_bars(enabled: bool):
    if not enabled:
        return None, lambda: None
    from tqdm import tqdm

    bars: list = []

    def start(total: int, scene_id: str):
        for b in bars:
            b.close()
        bars.clear()
        bars.append(tqdm(total=total, desc=f"  {scene_id}", unit="tile", leave=False, disable=None))
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
    if config.cluster is not None:
        config.cluster.check()
    check_output_dir(det_dir)  # before the long part: a bad --out is one line, exit 2
    with run_lock(out), contextlib.ExitStack() as stack:
        clean_partials(out, det_dir)
        if config.cluster is None:
            detector = load_detector(config.detect)
            model = _ModelInfo(detector.model_path, detector.sha256, detector.device)
        else:
            from .cluster import open_client

            model = _model_info(config.detect)
            client = stack.enter_context(open_client(config.cluster))
            if config.progress and client.dashboard_link:
                print(f"dask dashboard: {client.dashboard_link}")
        settings = detect_settings(config.detect)  # reads the weights' threshold: once
        s_hash = settings_hash(settings)
        m_hash = model.sha256
        done, skipped, failed = [], [], []
        bar_start, bar_close = _tile_bars(config.progress and config.cluster is None)
        from tqdm import tqdm

        with Catalog(out / CATALOG_NAME) as cat:
            started = cat.now()
            gone = _retire_gone(cat, det_dir, scenes, Path(config.imagery_dir).resolve())
            todo = []
            for path in scenes:
                if _broken_link(path):
                    err = _broken_error(path)
                    set_aside(det_dir, path.stem, FAILED_DIR)
                    cat.mark_failed(path.stem, path=path.absolute(), file_sig="missing", size=0,
                                    settings_hash=s_hash, model_hash=m_hash, error=err)  # fmt: skip
                    failed.append((path.stem, err))
                    continue
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
            paths = [t[0] for t in todo]
            if config.cluster is None:
                outcomes = iter_detect(detector, paths, det_dir, config.detect, progress=bar_start)
            else:
                from .cluster import cluster_detect

                outcomes = cluster_detect(client, paths, det_dir, config.detect, config.cluster)
            by_id = {t[0].stem: t for t in todo}  # a cluster returns scenes as they finish
            t0 = cat.now()
            for outcome in tqdm(
                outcomes,
                total=len(todo),
                desc="scenes",
                unit="scene",
                disable=None if config.progress else True,
            ):
                path, sig, size = by_id[outcome.scene_id]
                common = dict(path=path.resolve(), file_sig=sig, size=size,
                              settings_hash=s_hash, model_hash=m_hash, started_at=t0)  # fmt: skip
                t0 = cat.now()  # the next scene's outcome is awaited from here
                if outcome.ok:
                    if config.cluster is not None:  # the device the workers chose
                        model = replace(model, device=outcome.counts.get("device", model.device))
                    # files are in place (detect writes them atomically): now commit
                    cat.mark_done(path.stem, counts=outcome.counts, **common)
                    drop_aside(det_dir, path.stem)
                    done.append(path.stem)
                else:
                    # an earlier success of this scene must not pass for current
                    set_aside(det_dir, path.stem, FAILED_DIR)
                    cat.mark_failed(path.stem, error=outcome.error or "unknown error", **common)
                    failed.append((path.stem, outcome.error or "unknown error"))
            bar_close()
            failed.sort()
            n = {"done": len(done), "skipped": len(skipped), "failed": len(failed),
                 "gone": len(gone)}  # fmt: skip
            _write_run_json(out, config, model, settings, started, cat.now(), n)
        _save_inputs(out, Path(config.voyages_path), assumptions)
        outputs = reconcile_run(out, voyages=voyages, assumptions=assumptions,
                                report=config.report)  # fmt: skip
    return RunSummary(tuple(done), tuple(skipped), tuple(failed), outputs, tuple(gone))


@dataclass(frozen=True)
class _ModelInfo:
    path: str
    sha256: str
    device: str  # the device asked for when the model loads on cluster workers


def _model_info(config: Any) -> _ModelInfo:
    """The model a cluster's workers will load, checked here first (a bad weights file is
    one error before any work, not one per scene)."""
    from ..model.weights import file_sha256, load_model
    from ..paths import default_model_path

    path = Path(config.model_path) if config.model_path else default_model_path()
    load_model(path, device="cpu")
    return _ModelInfo(str(path), file_sha256(path), config.device)


def _retire_gone(
    cat: Catalog, det_dir: Path, scenes: list[Path], imagery_dir: Path
) -> list[tuple[str, str]]:
    """Mark the catalog rows whose scene is no longer in the imagery folder ``gone`` and move
    their outputs to ``det_dir/.gone`` (first the files, then the row: a run killed in
    between leaves a row without its counts, which the next run marks again). Returns every
    gone row whose file is still missing as (scene id, why), by scene id."""
    here = {p.stem for p in scenes}
    for rec in cat.records():
        if rec.id in here:
            continue
        set_aside(det_dir, rec.id, GONE_DIR)
        if rec.status != "gone":
            cat.mark_gone(rec.id, reason=f"{rec.path}: no longer in the imagery folder "
                                         f"{imagery_dir}")  # fmt: skip
    return [(r.id, r.error or "gone") for r in cat.records("gone") if r.id not in here]


def _write_run_json(
    out: Path,
    config: RunConfig,
    model: _ModelInfo,
    settings: dict[str, Any],
    started: str,
    finished: str,
    n_scenes: dict[str, int],
) -> None:
    """``run.json``: this run's fields at the top level, all runs in ``history``."""
    append_run_json(out, {
        "started_at": started,
        "finished_at": finished,
        "imagery_dir": str(Path(config.imagery_dir).resolve()),
        "voyages": str(Path(config.voyages_path).resolve()),
        "assumptions": str(config.assumptions_path) if config.assumptions_path else None,
        "model": {"path": model.path, "sha256": model.sha256},
        "device": model.device,
        "settings": settings,
        "settings_hash": settings_hash(settings),
        "scenes": n_scenes,
    })  # fmt: skip


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
    run saved) and write shipments.csv, totals.json, detections.gpkg and report.html; the
    failed and gone scenes of its catalog are listed, not counted. Raises ConfigError for a
    folder with no scenes at all (rather than totals from the priors alone). The caller holds
    the run lock."""
    from ..labels.voyages import read_voyages
    from ..reconcile.core import reconcile, totals
    from ..reconcile.munitions import load_assumptions, read_saved_assumptions
    from ..report.shipments_io import (
        detections_dir,
        merge_detections,
        run_counts,
        run_uncounted,
        write_outputs,
    )

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
    uncounted = run_uncounted(out)
    if not counts and not uncounted:
        raise ConfigError(
            f"{out}: no scenes in the run folder (no counts of finished scenes, none failed); "
            f"run `ccount run IMAGERY_DIR --out {out}` first"
        )
    result = reconcile(counts, voyages, assumptions, uncounted=uncounted)
    doc = totals(result, assumptions)
    paths = write_outputs(out, result, doc)
    det_dir = detections_dir(out)
    geo = [det_dir / f"{safe_name(c['scene'])}.detections.geojson" for c in counts]
    geo = [p for p in geo if p.is_file()]
    if geo:
        merge_detections(geo, out / "detections.gpkg")
        paths["detections"] = out / "detections.gpkg"
    else:  # no counted scene left: an earlier merge must not pass for current
        (out / "detections.gpkg").unlink(missing_ok=True)
    if report:
        from ..report.html import write_report

        paths["report"] = write_report(out, result=result, totals=doc, assumptions=assumptions)
    return paths
