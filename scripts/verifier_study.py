"""Train and measure the crop verifier of ``ccount detect --verify`` on the detector's boxes.

Usage (from the repository root; predictions at a low floor as ``scripts/eval_thresholds.py
--work W`` leaves them, ``W/<parent>_<folder>/<scene>.detections.geojson``)::

    .venv/bin/python scripts/verifier_study.py crops --truth DIR [DIR ...] --work W --out F.npz
    .venv/bin/python scripts/verifier_study.py crops --negatives DIR --pred P --out F.npz
        [--families classic flat ...]
    .venv/bin/python scripts/verifier_study.py train --crops F.npz [F2.npz ...] --out V.pt
        [--steps 3000] [--batch 128] [--threads 2] [--seed 0] [--rule T:Q]
    .venv/bin/python scripts/verifier_study.py eval --model V.pt --crops F.npz [...]
        --rules 0.39 0.36:0.45 [--grid] [--pool]
    .venv/bin/python scripts/verifier_study.py set-rule --model V.pt --rule T:Q --note TEXT

``crops``: every detection of every scene (``*/<scene>.tif`` beside ``<scene>.geojson``) cut
out of the scene's model frame (:class:`detector.imagery.raster.SceneReader`: stretched,
0.4 m) by the function ``--verify`` cuts its tiles with
(:func:`detector.detect.verify.cut_crops`): 64 x 32 px turned so the box's long side lies
along x (25.6 x 12.8 m: the box and its neighbours' edges), with its detector score, and
labelled a true container when a visible true one lies within 1.25 m. ``--negatives DIR
--pred P``: the scenes ``DIR/*.tif`` hold no container (the look-alike scenes of
``scripts/eval_lookalikes.py``), their boxes in ``P`` are all false. ``train``:
:func:`detector.model.verifier.train_verifier`, written as a verifier file with the rule
``--rule`` and its provenance (the crop sets, the detector's state hash). ``eval``: a rule
``T`` keeps detections scoring at least T (the detector alone); ``T:Q`` also needs the
verifier's probability >= Q; ``T:Q:H`` trusts a box scoring >= H without a look (a faster
run: the verifier sees only the boxes under H); on a ``--negatives`` set it prints the false containers a
scene each rule keeps. Scored per scene with ``ccount eval``'s matching
(:func:`detector.labels.evaluate.evaluate_scene`), pooled, with 90 % bootstrap intervals
over the scenes and each rule's paired F1 difference from the first rule
(:mod:`detector.labels.spread`). ``--pool`` scores the port sets' scenes as one set (e.g. two validation seeds).
``--grid`` also prints, of a grid of (T, Q), the best by F1
and, of those within 0.003 of it, the one whose count is nearest the truth: choose the rule
on a validation set, store it with ``set-rule``, then score the test sets once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

MATCH_M = 1.25
GRID_F1_SLACK = 0.003  # --grid: F1 this close to the best counts as as good


def _pred_dir(work: Path, folder: Path) -> Path:
    return work / f"{folder.parent.name}_{folder.name}"


def scene_crops(
    tif: Path, x_m: np.ndarray, y_m: np.ndarray, corners: np.ndarray, crs
) -> np.ndarray:
    """uint8 [N, 3, 32, 64] crops of the boxes (centres ``x_m``, ``y_m`` and ``corners``
    [N, 4, 2] in ``crs``) cut from the scene's model frame as ``ccount detect --verify`` cuts
    them from its tiles (:func:`detector.detect.verify.cut_crops`)."""
    from pyproj import CRS, Transformer

    from detector.detect.verify import cut_crops
    from detector.imagery.raster import SceneReader, open_scene
    from detector.imagery.tiling import Window
    from detector.model.weights import canonical_gsd_m

    scene = open_scene(tif)
    with SceneReader(scene, target_gsd_m=canonical_gsd_m()) as reader:
        g = reader.grid
        if len(x_m) and CRS.from_user_input(crs) != CRS.from_user_input(g.crs):
            tr = Transformer.from_crs(crs, g.crs, always_xy=True)
            x_m, y_m = (np.asarray(v) for v in tr.transform(x_m, y_m))
            cx_, cy_ = tr.transform(corners[..., 0], corners[..., 1])
            corners = np.stack([np.asarray(cx_), np.asarray(cy_)], axis=-1)
        if not len(x_m):
            return np.zeros((0, 3, 32, 64), np.uint8)
        img = reader.read(Window(0, 0, g.height, g.width)).image
    inv = ~g.transform

    def to_px(x, y):
        return inv.a * x + inv.b * y + inv.c, inv.d * x + inv.e * y + inv.f

    col, row = to_px(np.asarray(x_m), np.asarray(y_m))
    pc, pr = to_px(corners[..., 0], corners[..., 1])
    e1 = np.stack([pc[:, 1] - pc[:, 0], pr[:, 1] - pr[:, 0]], 1)
    e2 = np.stack([pc[:, 2] - pc[:, 1], pr[:, 2] - pr[:, 1]], 1)
    longer = np.where((np.hypot(*e1.T) >= np.hypot(*e2.T))[:, None], e1, e2)
    angle = np.arctan2(longer[:, 1], longer[:, 0])
    hwc = np.ascontiguousarray(img.transpose(1, 2, 0))
    return cut_crops(hwc, np.asarray(col), np.asarray(row), angle)


def _negative_crops(args) -> int:
    from detector.labels.io import read_containers

    parts = {k: [] for k in ("x", "score", "label", "scene")}
    names = sorted(t for t in args.negatives.glob("*.tif")
                   if not args.families or t.stem.rsplit("_", 1)[-1] in args.families)  # fmt: skip
    for k, tif in enumerate(names):
        raw = read_containers(args.pred / f"{tif.stem}.detections.geojson")
        parts["x"].append(scene_crops(tif, raw.x_m, raw.y_m, raw.corners_m, raw.crs))
        parts["score"].append(np.asarray(raw.score, np.float32))
        parts["label"].append(np.zeros(len(raw), bool))
        parts["scene"].append(np.full(len(raw), k, np.int32))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **{k: np.concatenate(v) for k, v in parts.items()},
                        names=np.array([t.stem for t in names]), work="")  # fmt: skip
    print(f"wrote {args.out}: {sum(map(len, parts['label']))} false boxes of {len(names)} scenes")
    return 0


def cmd_crops(args) -> int:
    from eval_thresholds import scenes_of

    from detector.labels.evaluate import load_containers
    from detector.labels.io import read_containers
    from detector.labels.match import match_centres

    if args.negatives is not None:
        return _negative_crops(args)
    parts = {k: [] for k in ("x", "score", "label", "scene")}
    names = []
    for folder in args.truth:
        pred = _pred_dir(args.work, folder)
        for tif in scenes_of(folder):
            truth = load_containers(tif.with_suffix(".geojson"), truth=True)
            raw = read_containers(pred / f"{tif.stem}.detections.geojson")
            pred_m = load_containers(pred / f"{tif.stem}.detections.geojson", truth=False,
                                     crs=truth.crs)  # fmt: skip
            label = np.zeros(len(raw), bool)
            vis = truth.visible
            if len(raw) and vis.any():
                pi, _, _ = match_centres(np.stack([pred_m.x_m, pred_m.y_m], 1),
                                         np.stack([truth.x_m[vis], truth.y_m[vis]], 1),
                                         max_dist=MATCH_M)  # fmt: skip
                label[pi] = True
            parts["x"].append(scene_crops(tif, raw.x_m, raw.y_m, raw.corners_m, raw.crs))
            parts["score"].append(np.asarray(raw.score, np.float32))
            parts["label"].append(label)
            parts["scene"].append(np.full(len(raw), len(names), np.int32))
            names.append(f"{folder}|{tif}")
            print(f"{tif.stem}: {len(raw)} detections, {int(label.sum())} true", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **{k: np.concatenate(v) for k, v in parts.items()},
                        names=np.array(names), work=str(args.work))  # fmt: skip
    n = sum(map(len, parts["label"]))
    print(f"wrote {args.out}: {n} crops of {len(names)} scenes")
    return 0


def cmd_train(args) -> int:
    import torch

    from detector.model.verifier import VerifierMeta, save_verifier, train_verifier
    from detector.model.weights import read_meta

    torch.set_num_threads(args.threads)
    data = [np.load(p) for p in args.crops]
    x = np.concatenate([d["x"] for d in data])
    score = np.concatenate([d["score"] for d in data]).astype(np.float32)
    label = np.concatenate([d["label"] for d in data])
    widths = tuple(int(w) for w in args.widths.split(","))
    net = train_verifier(x, score, label, steps=args.steps, batch=args.batch, seed=args.seed,
                         widths=widths,
                         log=lambda m: print(m, flush=True))  # fmt: skip
    t, q, h = _rule(args.rule)
    training = {
        "crops": [{"file": Path(p).name, "boxes": len(d["label"]), "true": int(d["label"].sum()),
                   "scenes": len(d["names"])} for p, d in zip(args.crops, data, strict=True)],
        "steps": args.steps, "batch": args.batch, "lr": 2e-3, "seed": args.seed,
        "augmentation": "mirrors along/across, brightness x0.8-1.2, offset +-0.08",
        "recipe": "scripts/train_verifier.py; docs/training.md, 'A second look at each box'",
        **({"rule_chosen_on": args.note} if args.note else {}),
    }  # fmt: skip
    detector_sha = read_meta(args.detector).state_sha256 or ""
    meta = VerifierMeta(score_thresh=t, verify_thresh=q, detector_sha256=detector_sha,
                        training=training, widths=widths,
                        trust_above=None if np.isinf(h) else h)  # fmt: skip
    save_verifier(args.out, net, meta)
    print(f"wrote {args.out}: {len(x)} crops, {int(label.sum())} true")
    return 0


def verifier_probs(model: Path, x: np.ndarray, score: np.ndarray) -> np.ndarray:
    from detector.detect.verify import load_crop_verifier

    return load_crop_verifier(model, "cpu").probs(x, score)


def _rule(rule: str) -> tuple[float, float, float]:
    """``T``, ``T:Q`` or ``T:Q:H`` -> (T, Q, H): keep a box scoring >= T whose verifier
    probability is >= Q or whose score is >= H (no look; default: every box is looked at)."""
    t, q, h = ([*rule.split(":"), "", ""])[:3]
    return float(t), float(q) if q else 0.0, float(h) if h else np.inf


def _keep(score: np.ndarray, prob: np.ndarray, t: float, q: float, h: float) -> np.ndarray:
    return (score >= t) & ((prob >= q) | (score >= h))


def _tallies(scenes: list, t: float, q: float, h: float = np.inf) -> list:
    """Per-scene tallies of the boxes rule (``t``, ``q``, ``h``) keeps (:func:`_rule`)."""
    from dataclasses import replace

    from detector.labels.evaluate import evaluate_scene

    out = []
    for pred, truth, pr in scenes:
        keep = _keep(pred.score, pr, t, q, h)
        kept = replace(pred, **{f: v[keep] for f, v in vars(pred).items()
                                if isinstance(v, np.ndarray)})  # fmt: skip
        out.append(evaluate_scene(kept, truth)["all"])
    return out


def _port_scenes(path, d, prob) -> list:
    """(predictions, truth, verifier probabilities) of each scene of a port crop set."""
    from detector.labels.evaluate import load_containers

    scenes = []
    for k, name in enumerate(d["names"]):
        folder, tif = (Path(s) for s in str(name).split("|"))
        truth = load_containers(tif.with_suffix(".geojson"), truth=True)
        pred = load_containers(_pred_dir(Path(str(d["work"])), folder)
                               / f"{tif.stem}.detections.geojson", truth=False, crs=truth.crs)  # fmt: skip
        scenes.append((pred, truth, prob[d["scene"] == k]))
    return scenes


def _negatives_text(path, d, prob, rules) -> None:
    n = len(d["names"])
    print(f"{path} ({n} look-alike scenes, {len(prob)} boxes)")
    # eval_lookalikes.py names a scene <setting>_<family>
    family = np.array([str(s).rsplit("_", 1)[-1] for s in d["names"]])
    for rule in rules:
        kept = _keep(d["score"], prob, *_rule(rule))
        per = np.bincount(d["scene"][kept], minlength=n)
        by = "  ".join(f"{f} {per[family == f].mean():.2f}" for f in sorted(set(family)))
        print(f"  {rule:>10}: {per.mean():.2f} false containers a scene  ({by})")


def _ports_text(label: str, scenes: list, rules: list, grid: bool) -> None:
    from detector.labels.evaluate import Tally
    from detector.labels.spread import scenes_text

    print(f"{label} ({len(scenes)} scenes, {sum(len(s[2]) for s in scenes)} detections)")
    base = None
    rules = list(rules)
    if grid:
        grid = [(t, q) for t in (0.30, 0.33, 0.36, 0.39) for q in np.arange(0.1, 0.75, 0.05)]
        scored = {r: sum(_tallies(scenes, *r), Tally()).metrics() for r in grid}
        best = max(grid, key=lambda r: scored[r]["f1"])
        # counts matter as much as F1 downstream: of the rules within GRID_F1_SLACK of
        # the best F1, the one whose count is nearest the truth
        near = [r for r in grid if scored[r]["f1"] >= scored[best]["f1"] - GRID_F1_SLACK]
        fair = min(near, key=lambda r: abs(scored[r]["count_error_pct"]))
        rules.append(f"{fair[0]:.2f}:{fair[1]:.2f}")
        rules.append(f"{best[0]:.2f}:{best[1]:.2f}")
    base_name = f"{rules[0]}'s"
    for rule in rules:
        per = _tallies(scenes, *_rule(rule))
        m = sum(per, Tally()).metrics()
        pr = " ".join(f"{k[0].upper()} {m[k]:.3f}" if m[k] is not None else f"{k[0].upper()} -"
                      for k in ("precision", "recall"))  # fmt: skip
        print(f"  {rule:>10}: {scenes_text(per, base, base_name)}  {pr}", flush=True)
        base = per if base is None else base


def cmd_eval(args) -> int:
    pooled: list = []
    for path in args.crops:
        d = np.load(path)
        prob = verifier_probs(args.model, d["x"], d["score"].astype(np.float32))
        if not str(d["work"]):  # a --negatives set: every box is false
            _negatives_text(path, d, prob, args.rules)
        elif args.pool:
            pooled += _port_scenes(path, d, prob)
        else:
            _ports_text(str(path), _port_scenes(path, d, prob), args.rules, args.grid)
    if pooled:
        _ports_text("pooled port sets", pooled, args.rules, args.grid)
    return 0


def cmd_set_rule(args) -> int:
    from dataclasses import replace

    from detector.model.verifier import load_verifier, save_verifier

    net, meta = load_verifier(args.model)
    t, q, h = _rule(args.rule)
    training = {**meta.training, "rule_chosen_on": args.note} if args.note else meta.training
    save_verifier(args.model, net, replace(meta, score_thresh=t, verify_thresh=q,
                                           trust_above=None if np.isinf(h) else h,
                                           training=training))  # fmt: skip
    print(f"{args.model}: rule {args.rule}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("crops")
    c.add_argument("--truth", type=Path, nargs="+", default=[])
    c.add_argument("--work", type=Path, default=None)
    c.add_argument("--negatives", type=Path, default=None, help="a folder of look-alike scenes")
    c.add_argument("--pred", type=Path, default=None, help="--negatives: their predictions")
    c.add_argument("--families", nargs="+", default=None,
                   help="--negatives: only the scenes of these families (<setting>_<family>.tif)")  # fmt: skip
    c.add_argument("--out", type=Path, required=True)
    t = sub.add_parser("train")
    t.add_argument("--crops", type=Path, nargs="+", required=True)
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--steps", type=int, default=3000)
    t.add_argument("--batch", type=int, default=128)
    t.add_argument("--widths", default="24,48,96", help="the network's channels (3)")
    t.add_argument("--note", default="", help="where the rule was chosen (stored in the file)")
    t.add_argument(
        "--rule",
        default="0.36:0.45",
        help="T:Q stored in the file (choose it with "
        "eval --grid on validation crops, then `set-rule`)",
    )
    t.add_argument(
        "--detector",
        type=Path,
        default=ROOT / "models" / "ccount-centernet.pt",
        help="the detector whose boxes were cut (its state hash is recorded)",
    )
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--seed", type=int, default=0)
    e = sub.add_parser("eval")
    e.add_argument("--model", type=Path, required=True)
    e.add_argument("--crops", type=Path, nargs="+", required=True)
    e.add_argument("--rules", nargs="+", default=["0.39"])
    e.add_argument("--grid", action="store_true")
    e.add_argument(
        "--pool",
        action="store_true",
        help="score the port crop sets' scenes together (one table, one --grid)",
    )
    r = sub.add_parser("set-rule")
    r.add_argument("--model", type=Path, required=True)
    r.add_argument("--rule", required=True, help="T:Q or T:Q:H (H: trust boxes scoring H)")
    r.add_argument("--note", default="", help="where the rule was chosen (stored in the file)")
    args = p.parse_args(argv)
    cmds = {"crops": cmd_crops, "train": cmd_train, "eval": cmd_eval, "set-rule": cmd_set_rule}
    return cmds[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
