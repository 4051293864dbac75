"""A second look at each detection: a small crop classifier over the detector's boxes (a study).

Usage (from the repository root; predictions at a low floor as ``scripts/eval_thresholds.py
--work W`` leaves them, ``W/<parent>_<folder>/<scene>.detections.geojson``)::

    .venv/bin/python scripts/verifier_study.py crops --truth DIR [DIR ...] --work W --out F.npz
    .venv/bin/python scripts/verifier_study.py crops --negatives DIR --pred P --out F.npz
    .venv/bin/python scripts/verifier_study.py train --crops F.npz [F2.npz] --out M.pt
        [--steps 3000] [--aug basic|strong] [--threads 2] [--seed 0]
    .venv/bin/python scripts/verifier_study.py eval --model M.pt --crops F.npz [...]
        --rules 0.39 0.33:0.40 [--grid]

``crops``: every detection of every scene (``*/<scene>.tif`` beside ``<scene>.geojson``) cut
out of the stretched scene as the network sees it: a 64 x 32 px window at the model's 0.4 m,
rotated so the box's long side lies along x (25.6 x 12.8 m: the box and its neighbours'
edges), with its detector score, and labelled a true container when a visible true one lies
within 1.25 m. ``--negatives DIR --pred P``: the scenes ``DIR/*.tif`` hold no container (the
look-alike scenes of ``scripts/eval_lookalikes.py``), their boxes in ``P`` are all false. ``train``: a small CNN (six 3x3 convolutions, the detector score as a second
input) with binary cross-entropy, AdamW and a one-cycle schedule; ``--aug strong`` adds
channel permutations, grey crops, gamma and noise (appearance the detector's families do not
share). ``eval``: a rule ``T`` keeps detections scoring at least T (the detector alone); ``T:Q``
also needs the verifier's probability >= Q; on a ``--negatives`` set it prints the false
containers a scene each rule keeps. Scored per scene with ``ccount eval``'s matching
(:func:`detector.labels.evaluate.evaluate_scene`), pooled, with 90 % bootstrap intervals
over the scenes and each rule's paired F1 difference from the first rule
(:mod:`detector.labels.spread`). ``--grid`` also prints the best of a grid of (T, Q) by F1, so
the rule can be chosen on a validation set and then scored once on the test sets.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

CROP_HW = (32, 64)  # rows (across the box) x columns (along it)
CROP_GSD_M = 0.4  # the model's canonical frame
MATCH_M = 1.25


def _pred_dir(work: Path, folder: Path) -> Path:
    return work / f"{folder.parent.name}_{folder.name}"


def _long_axis(corners: np.ndarray) -> np.ndarray:
    """[N] angle (radians, map frame, x east / y north) of each footprint's long side."""
    e1 = corners[:, 1] - corners[:, 0]
    e2 = corners[:, 2] - corners[:, 1]
    longer = np.where((np.hypot(*e1.T) >= np.hypot(*e2.T))[:, None], e1, e2)
    return np.arctan2(longer[:, 1], longer[:, 0])


def scene_crops(
    tif: Path, x_m: np.ndarray, y_m: np.ndarray, corners: np.ndarray, crs
) -> np.ndarray:
    """uint8 [N, 3, 32, 64] windows of the stretched scene around each box (centres ``x_m``,
    ``y_m`` and ``corners`` [N, 4, 2] in ``crs``)."""
    import cv2
    import rasterio
    from pyproj import CRS, Transformer

    from detector.imagery.raster import open_scene
    from detector.imagery.stretch import apply_stretch

    scene = open_scene(tif)
    if len(x_m) and CRS.from_user_input(crs) != CRS.from_user_input(scene.crs):
        tr = Transformer.from_crs(crs, scene.crs, always_xy=True)
        x_m, y_m = (np.asarray(v) for v in tr.transform(x_m, y_m))
        cx, cy = tr.transform(corners[..., 0], corners[..., 1])
        corners = np.stack([np.asarray(cx), np.asarray(cy)], axis=-1)
    angle = _long_axis(corners) if len(x_m) else np.zeros(0)
    with rasterio.open(tif) as ds:
        raw = ds.read(list(scene.bands))
    img = apply_stretch(raw, scene.stretch)
    if img.shape[0] == 1:
        img = np.repeat(img, 3, axis=0)
    img = np.ascontiguousarray(np.moveaxis(img, 0, -1))  # H, W, 3 float32 0..1
    a, b, c, d, e, f = (~scene.transform)[:6]
    h, w = CROP_HW
    out = np.zeros((len(x_m), 3, h, w), np.uint8)
    step = CROP_GSD_M / scene.gsd_m  # native px per crop px
    for k in range(len(x_m)):
        col, row = a * x_m[k] + b * y_m[k] + c, d * x_m[k] + e * y_m[k] + f
        # the map's angle turns the other way in pixel rows (y down)
        co, si = np.cos(-angle[k]) * step, np.sin(-angle[k]) * step
        # crop (u, v) -> image (col, row): centre of the crop on the box's centre
        m = np.array([[co, -si, col - co * (w - 1) / 2 + si * (h - 1) / 2],
                      [si, co, row - si * (w - 1) / 2 - co * (h - 1) / 2]], np.float64)  # fmt: skip
        crop = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)  # fmt: skip
        out[k] = np.clip(np.rint(np.moveaxis(crop, -1, 0) * 255), 0, 255).astype(np.uint8)
    return out


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


def _net():
    from torch import nn

    def block(cin, cout, pool):
        layers = [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
        return layers + ([nn.MaxPool2d(2)] if pool else [])

    class Verifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                *block(3, 24, False), *block(24, 24, True), *block(24, 48, False),
                *block(48, 48, True), *block(48, 96, False), *block(96, 96, True),
                nn.AdaptiveAvgPool2d((2, 4)), nn.Flatten(),
            )  # fmt: skip
            self.head = nn.Sequential(nn.Linear(96 * 8 + 1, 64), nn.ReLU(inplace=True),
                                      nn.Linear(64, 1))  # fmt: skip

        def forward(self, x, score):
            import torch

            return self.head(torch.cat([self.features(x), score[:, None]], 1))[:, 0]

    return Verifier()


def _augment(x, rng, strong: bool):
    """x float32 [B, 3, h, w] in 0..1 (numpy); flips always, appearance with ``strong``."""
    b = len(x)
    flip_u = rng.random(b) < 0.5
    x[flip_u] = x[flip_u, :, :, ::-1]
    flip_v = rng.random(b) < 0.5
    x[flip_v] = x[flip_v, :, ::-1, :]
    x *= rng.uniform(0.8, 1.2, (b, 1, 1, 1)).astype(np.float32)
    x += rng.uniform(-0.08, 0.08, (b, 1, 1, 1)).astype(np.float32)
    if strong:
        for k in np.nonzero(rng.random(b) < 0.5)[0]:
            x[k] = x[k, rng.permutation(3)]
        grey = rng.random(b) < 0.2
        x[grey] = x[grey].mean(axis=1, keepdims=True)
        x = np.clip(x, 0, 1) ** rng.uniform(0.6, 1.6, (b, 1, 1, 1)).astype(np.float32)
        x += rng.normal(0, 1, x.shape).astype(np.float32) * rng.uniform(0, 0.04, (b, 1, 1, 1))
    return np.clip(x, 0, 1)


def cmd_train(args) -> int:
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    data = [np.load(p) for p in args.crops]
    x = np.concatenate([d["x"] for d in data])
    score = np.concatenate([d["score"] for d in data]).astype(np.float32)
    label = np.concatenate([d["label"] for d in data]).astype(np.float32)
    net = _net()
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps)
    net.train()
    for step in range(args.steps):
        idx = rng.integers(0, len(x), args.batch)
        xb = _augment(x[idx].astype(np.float32) / 255.0, rng, args.aug == "strong")
        logit = net(torch.from_numpy(np.ascontiguousarray(xb)), torch.from_numpy(score[idx]))
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            logit, torch.from_numpy(label[idx])
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 500 == 0 or step == args.steps - 1:
            print(f"step {step}: loss {float(loss):.4f}", flush=True)
    torch.save({"state": net.state_dict(), "aug": args.aug, "steps": args.steps}, args.out)
    print(f"wrote {args.out}: {len(x)} crops, {int(label.sum())} true")
    return 0


def verifier_probs(model: Path, x: np.ndarray, score: np.ndarray) -> np.ndarray:
    import torch

    net = _net()
    net.load_state_dict(torch.load(model, weights_only=True)["state"])
    net.eval()
    out = []
    with torch.inference_mode():
        for k in range(0, len(x), 1024):
            xb = torch.from_numpy(x[k : k + 1024].astype(np.float32) / 255.0)
            out.append(torch.sigmoid(net(xb, torch.from_numpy(score[k : k + 1024]))).numpy())
    return np.concatenate(out) if out else np.zeros(0)


def _rule(rule: str) -> tuple[float, float]:
    t, _, q = rule.partition(":")
    return float(t), float(q) if q else 0.0


def _tallies(scenes: list, t: float, q: float) -> list:
    """Per-scene tallies of the boxes scoring >= ``t`` whose verifier probability is >= ``q``."""
    from dataclasses import replace

    from detector.labels.evaluate import evaluate_scene

    out = []
    for pred, truth, pr in scenes:
        keep = (pred.score >= t) & (pr >= q)
        kept = replace(pred, **{f: v[keep] for f, v in vars(pred).items()
                                if isinstance(v, np.ndarray)})  # fmt: skip
        out.append(evaluate_scene(kept, truth)["all"])
    return out


def cmd_eval(args) -> int:
    from detector.labels.evaluate import Tally, load_containers
    from detector.labels.spread import scenes_text

    for path in args.crops:
        d = np.load(path)
        prob = verifier_probs(args.model, d["x"], d["score"].astype(np.float32))
        if not str(d["work"]):  # a --negatives set: every box is false
            n = len(d["names"])
            print(f"{path} ({n} look-alike scenes, {len(prob)} boxes)")
            # eval_lookalikes.py names a scene <setting>_<family>
            family = np.array([str(s).rsplit("_", 1)[-1] for s in d["names"]])
            for rule in args.rules:
                t, q = _rule(rule)
                kept = (d["score"] >= t) & (prob >= q)
                per = np.bincount(d["scene"][kept], minlength=n)
                by = "  ".join(f"{f} {per[family == f].mean():.2f}" for f in sorted(set(family)))
                print(f"  {rule:>10}: {per.mean():.2f} false containers a scene  ({by})")
            continue
        scenes = []
        for k, name in enumerate(d["names"]):
            folder, tif = (Path(s) for s in str(name).split("|"))
            truth = load_containers(tif.with_suffix(".geojson"), truth=True)
            pred = load_containers(_pred_dir(Path(str(d["work"])), folder)
                                   / f"{tif.stem}.detections.geojson", truth=False, crs=truth.crs)  # fmt: skip
            sel = d["scene"] == k
            scenes.append((pred, truth, prob[sel]))

        print(f"{path} ({len(scenes)} scenes, {len(prob)} detections)")
        base = None
        rules = list(args.rules)
        if args.grid:
            grid = [(t, q) for t in (0.30, 0.33, 0.36, 0.39) for q in np.arange(0.1, 0.75, 0.05)]
            best = max(grid, key=lambda r: sum(_tallies(scenes, *r), Tally()).metrics()["f1"])
            rules.append(f"{best[0]:.2f}:{best[1]:.2f}")
        base_name = f"{rules[0]}'s"
        for rule in rules:
            per = _tallies(scenes, *_rule(rule))
            m = sum(per, Tally()).metrics()
            pr = " ".join(f"{k[0].upper()} {m[k]:.3f}" if m[k] is not None else f"{k[0].upper()} -"
                          for k in ("precision", "recall"))  # fmt: skip
            print(f"  {rule:>10}: {scenes_text(per, base, base_name)}  {pr}", flush=True)
            base = per if base is None else base
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
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--aug", choices=("basic", "strong"), default="basic")
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--seed", type=int, default=0)
    e = sub.add_parser("eval")
    e.add_argument("--model", type=Path, required=True)
    e.add_argument("--crops", type=Path, nargs="+", required=True)
    e.add_argument("--rules", nargs="+", default=["0.39"])
    e.add_argument("--grid", action="store_true")
    args = p.parse_args(argv)
    return {"crops": cmd_crops, "train": cmd_train, "eval": cmd_eval}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
