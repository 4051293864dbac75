"""``ccount review select``: pick the review units of a detect run and write a review round.

Review units are squares of ``unit_px`` model-frame pixels on a grid per scene, each with its
candidates, their doubt and the unit's priority (:mod:`.doubt`).

A unit's priority is its summed doubt over the square root of its number of candidates
(doubt per decision, not punishing a busy unit too hard). The budget counts candidate
decisions: a unit costs its candidates (at least 1, marking it complete); units are taken in
order while they fit. Hold-out units come first and at random: a random order's first
units until their cost reaches ``holdout_share`` of the budget (the last may overrun it, up
to twice the share), so a unit's own cost does not decide whether it is held out (unless it
costs more than the share); the same ones for every strategy with the same seed, so the
gain measured on them is unbiased; then the train units by strategy: ``uncertain`` by
priority; ``random`` uniformly; ``mix`` by priority taken in turn from each scene (spread over scenes, ports and
GSD), with :data:`CONTROL_SHARE` of the train budget spent on random control units.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..detections import KINDS
from ..errors import ConfigError, ReviewError
from .doubt import NEAR, UnitPick, score_units
from .passes import ReviewModel, load_review_model, run_passes
from .round import Candidate, Chip, Manifest, Round, Unit

__all__ = [
    "CONTROL_SHARE",
    "NEAR",  # re-exported from .doubt
    "STRATEGIES",
    "SelectConfig",
    "UnitPick",
    "detect_run_scenes",
    "pick_units",
    "score_units",
    "select_round",
]

STRATEGIES = ("mix", "uncertain", "random")
CONTROL_SHARE = 0.2  # of mix's train budget: random control units
CHIP_MARGIN_PX = 32


@dataclass(frozen=True)
class SelectConfig:
    budget: int
    strategy: str = "mix"
    holdout_share: float = 0.2
    seed: int = 0
    unit_px: int = 256
    model: Path | None = None
    scenes_dir: Path | None = None
    device: str = "auto"
    verifier: Path | None = None  # a --verify run's verifier, when not where the run had it

    def check(self) -> None:
        if self.budget < 1:
            raise ConfigError(f"--budget {self.budget}: expected >= 1 decision")
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"--strategy {self.strategy!r}: expected one of {STRATEGIES}")
        if not 0.0 <= self.holdout_share < 1.0:
            raise ConfigError(f"--holdout-share {self.holdout_share}: expected 0 <= share < 1")
        if self.unit_px < 32:
            raise ConfigError(f"--unit-px {self.unit_px}: expected >= 32")


def detect_run_scenes(detect_dir: Path, scenes_dir: Path | None) -> list[tuple[str, Path, dict]]:
    """(scene id, scene file, counts dict) of every ``*.counts.json`` under ``detect_dir``
    (a ``ccount detect`` or ``ccount run`` folder); the file is the one the counts record,
    or ``<scene>.tif`` under ``scenes_dir``."""
    detect_dir = Path(detect_dir)
    if not detect_dir.is_dir():
        raise ConfigError(f"{detect_dir}: not a folder (expected a ccount detect or run output)")
    out = []
    for p in sorted(detect_dir.rglob("*.counts.json")):
        try:
            counts = json.loads(p.read_text())
            scene_id, file = str(counts["scene"]), counts.get("file")
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ReviewError(f"{p}: not a readable counts file ({e})") from None
        path = None
        if scenes_dir is not None:
            hits = [q for s in (".tif", ".tiff") for q in Path(scenes_dir).rglob(scene_id + s)]
            path = hits[0] if hits else None
        if path is None and file and Path(file).is_file():
            path = Path(file)
        if path is None:
            where = f"under {scenes_dir}" if scenes_dir else "(give --scenes DIR)"
            raise ReviewError(f"{p}: scene file {file or scene_id} not found {where}")
        out.append((scene_id, path, counts))
    if not out:
        raise ReviewError(f"{detect_dir}: no *.counts.json (not a ccount detect or run output)")
    return out


def _fill(order: Sequence[UnitPick], budget: int, taken: set) -> list[UnitPick]:
    out, left = [], budget
    for u in order:
        if left <= 0:
            break
        key = (u.scene, u.index)
        if key in taken or u.cost > left:
            continue
        out.append(u)
        taken.add(key)
        left -= u.cost
    return out


def _prefix(order: Sequence[UnitPick], share: int, budget: int, taken: set) -> list[UnitPick]:
    """The first units of ``order`` until their cost reaches ``share``; the last may overrun
    it, up to twice the share (and never ``budget``), so the train units keep at least the
    rest. Only a unit dearer than what is left of that is passed over. Skipping every unit
    that no longer fitted ``share`` (:func:`_fill`) held dense units out several times less
    often than sparse ones, and a small hold-out budget kept only open water."""
    out, cost, cap = [], 0, min(2 * share, budget)
    for u in order:
        if cost >= share:
            break
        if cost + u.cost > cap:
            continue
        out.append(u)
        taken.add((u.scene, u.index))
        cost += u.cost
    return out


def _spread(units: Sequence[UnitPick]) -> list[UnitPick]:
    """Units by priority, taken in turn from each stratum (the most doubtful stratum first)."""
    groups: dict[tuple, list[UnitPick]] = {}
    for u in sorted(units, key=lambda u: -u.priority):
        groups.setdefault(u.stratum, []).append(u)
    lists = sorted(groups.values(), key=lambda g: -g[0].priority)
    out = []
    for k in range(max((len(g) for g in lists), default=0)):
        out += [g[k] for g in lists if k < len(g)]
    return out


def pick_units(
    units: Sequence[UnitPick], config: SelectConfig
) -> tuple[list[UnitPick], list[UnitPick]]:
    """(train units, hold-out units) within the budget; see the module docstring."""
    rng = np.random.default_rng(config.seed)
    taken: set = set()
    perm = [units[k] for k in rng.permutation(len(units))]
    hold_budget = int(round(config.budget * config.holdout_share))
    holdout = _prefix(perm, hold_budget, config.budget, taken) if hold_budget else []
    holdout = [replace(u, reason="random") for u in holdout]
    left = config.budget - sum(u.cost for u in holdout)
    rest = [u for u in units if (u.scene, u.index) not in taken]
    perm_rest = [rest[k] for k in rng.permutation(len(rest))]
    if config.strategy == "random":
        return [replace(u, reason="random") for u in _fill(perm_rest, left, taken)], holdout
    if config.strategy == "uncertain":
        order = sorted(rest, key=lambda u: -u.priority)
        return _fill(order, left, taken), holdout
    control = int(round(left * CONTROL_SHARE))
    train = _fill(_spread(rest), left - control, taken)
    left -= sum(u.cost for u in train)
    train += [replace(u, reason="random") for u in _fill(perm_rest, left, taken)]
    return train, holdout


def select_round(detect_dir, out, config: SelectConfig, *, model: ReviewModel | None = None,
                 log=None) -> Round:  # fmt: skip
    """Run ``ccount review select``: score the units of every scene of ``detect_dir``, pick
    them, write the round folder ``out`` and return it open."""
    from .._io import check_output_dir
    from ..imagery.raster import open_scene

    config.check()
    if (Path(out) / "manifest.json").exists():
        raise ReviewError(f"{out}: already holds a review round; choose a new --out")
    check_output_dir(out)
    scenes = detect_run_scenes(Path(detect_dir), config.scenes_dir)
    counts0 = scenes[0][2]
    thr = float((counts0.get("settings") or {}).get("score_thresh", 0.42))
    model_path = config.model or (counts0.get("model") or {}).get("path")
    if config.model is None and model_path and not Path(model_path).is_file():
        raise ReviewError(f"{detect_dir}: the run's model {model_path} is missing; give --model")
    verify = (counts0.get("settings") or {}).get("verify") or {}
    q = float(verify["verify_thresh"]) if verify else None
    if verify:
        verify = {**verify, "verifier": _run_verifier(detect_dir, verify, config.verifier)}
    elif config.verifier is not None:
        raise ConfigError(f"--verifier {config.verifier}: {detect_dir} was not made with --verify")
    model = model or load_review_model(model_path, device=config.device,
                                       verifier=verify.get("verifier"), verify_from=thr)  # fmt: skip
    if q is not None and model.verifier is None:
        raise ReviewError(f"{detect_dir}: the run used --verify; its review needs the verifier")
    units: list[UnitPick] = []
    info: dict[str, tuple] = {}
    for scene_id, path, counts in scenes:
        scene = open_scene(path)
        passes = run_passes(model, scene)
        gsd_bin = round(float(scene.gsd_m), 1)
        units += score_units(scene_id, passes, thr, config.unit_px,
                             (counts.get("port") or scene.port, gsd_bin, scene_id), q)  # fmt: skip
        info[scene_id] = (scene, passes.grid)
        if log:
            log(f"{scene_id}: {len(passes.plain)} peaks, {len(passes.mirrored)} mirrored")
    train, holdout = pick_units(units, config)
    if not train and not holdout:
        raise ReviewError(f"{detect_dir}: no review unit fits a budget of {config.budget}")
    return _write_round(Path(out), config, model, thr, detect_dir, info, train, holdout,
                        verify)  # fmt: skip


def _run_verifier(detect_dir, verify: dict, given: Path | None) -> str:
    """The verifier file of a ``--verify`` run (its counts' ``settings.verify``), or
    ``given`` in its place, checked to be the same file the run used."""
    from ..model.weights import file_sha256

    path = Path(given) if given is not None else Path(str(verify.get("verifier", "")))
    if not path.is_file():
        hint = "" if given is not None else "; give --verifier PATH"
        raise ReviewError(f"{path}: the verifier of the run {detect_dir} is missing{hint}")
    if verify.get("verifier_sha256") and file_sha256(path) != verify["verifier_sha256"]:
        raise ReviewError(f"{path}: not the verifier the run {detect_dir} used (another sha256)")
    return str(path.resolve())  # the manifest's: review gain reads it from anywhere


def _to_crs(transform, xy: np.ndarray) -> np.ndarray:
    t = transform
    return np.stack([t.a * xy[..., 0] + t.b * xy[..., 1] + t.c,
                     t.d * xy[..., 0] + t.e * xy[..., 1] + t.f], axis=-1)  # fmt: skip


def _write_round(out: Path, config, model, thr, detect_dir, info, train, holdout,
                 verify) -> Round:  # fmt: skip
    from ..imagery.reader import SceneReader
    from ..imagery.tiling import Window
    from .round import utc_now

    picks = [(u, "train") for u in train] + [(u, "holdout") for u in holdout]
    picks.sort(key=lambda p: -p[0].priority)
    cands, units, chips = [], [], []
    readers: dict[str, SceneReader] = {}
    try:
        for uid, (u, split) in enumerate(picks):
            scene, grid = info[u.scene]
            w = u.window
            box = _to_crs(grid.transform, np.array(
                [[w.col_off, w.row_off], [w.col_off + w.width, w.row_off + w.height]], float))  # fmt: skip
            (x0, y0), (x1, y1) = box.min(axis=0), box.max(axis=0)
            units.append(Unit(uid, u.scene, split, "pending", round(u.priority, 6), u.reason,
                              (float(x0), float(y0), float(x1), float(y1))))  # fmt: skip
            corners = _to_crs(grid.transform, u.cands.corners())
            for k in range(len(u.cands)):
                reason = u.reasons[k] if u.doubt[k] > 0 else u.reason
                v = float(u.cands.verify[k])
                cands.append(Candidate(
                    len(cands), uid, u.scene, KINDS[int(u.cands.kind[k])],
                    round(float(u.cands.score[k]), 4), reason, u.source[k], "pending",
                    tuple((float(x), float(y)) for x, y in corners[k]),
                    round(v, 4) if np.isfinite(v) else None,
                ))  # fmt: skip
            if u.scene not in readers:
                readers[u.scene] = SceneReader(scene, target_gsd_m=model.gsd_m)
            m = CHIP_MARGIN_PX
            r0, c0 = max(0, w.row_off - m), max(0, w.col_off - m)
            r1 = min(grid.height, w.row_off + w.height + m)
            c1 = min(grid.width, w.col_off + w.width + m)
            img = readers[u.scene].read(Window(r0, c0, r1 - r0, c1 - c0)).image
            rgb = np.clip(np.rint(img.transpose(1, 2, 0) * 255), 0, 255).astype(np.uint8)
            t = grid.transform
            affine = (t.a, t.b, t.a * c0 + t.b * r0 + t.c, t.d, t.e, t.d * c0 + t.e * r0 + t.f)
            nat = ~scene.transform
            (nc0, nr0), (nc1, nr1) = (nat @ tuple(_to_crs(t, np.array(p, float)))
                                      for p in ((c0, r0), (c1, r1)))  # fmt: skip
            native = (
                int(round(nc0)),
                int(round(nr0)),
                int(round(nc1 - nc0)),
                int(round(nr1 - nr0)),
            )
            chips.append((Chip(uid, u.scene, native, tuple(float(v) for v in affine),
                               float(grid.gsd_m), (c1 - c0, r1 - r0)), rgb))  # fmt: skip
    finally:
        for r in readers.values():
            r.close()
    scenes = {}
    for sid, (scene, _grid) in info.items():
        if any(u.scene == sid for u in units):
            t = scene.transform
            scenes[sid] = {"path": str(Path(scene.path).resolve()), "crs": scene.crs.to_string(),
                           "gsd_m": float(scene.gsd_m), "port": scene.port,
                           "transform": [t.a, t.b, t.c, t.d, t.e, t.f]}  # fmt: skip
    manifest = Manifest(
        model=model.path, model_sha256=model.sha256, threshold=thr, strategy=config.strategy,
        seed=config.seed, budget=config.budget, holdout_share=config.holdout_share,
        detect_dir=str(Path(detect_dir).resolve()), scenes=scenes, created=utc_now(),
        verify={k: verify[k] for k in ("verifier", "verifier_sha256", "verify_thresh")
                if k in verify},
    )  # fmt: skip
    return Round.create(out, manifest, cands, units, chips)
