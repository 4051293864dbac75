"""Every measurement a candidate's weights need before they may replace the shipped ones.

Usage (from the repository root)::

    .venv/bin/python scripts/eval_candidate.py --model CAND.pt --out DIR
        [--parts dev test look ships unseen shadow] [--lookalike-seeds 0 1 2 5]
        [--worlds W1 W11 W21] [--shadow-worlds W21-relief]

Parts (each a subprocess of the script that measures it, its result kept in ``DIR``; a part
whose result is there is not run again, so a call interrupted or cut short by ``--max-minutes``
continues where it stopped, e.g. across sessions in the background):

- ``dev``: ``scripts/eval_detector.py --seeds 7009`` in every family, summer and winter
  (``--snow 0.5``): F1 and count error (the scenes candidates are chosen on);
- ``test``: the same on the test seeds 7001 (measure once, after the choice);
- ``look``: ``scripts/eval_lookalikes.py --seed S``: false containers per look-alike scene
  (in the three trained families);
- ``ships``: ``ccount run W/scenes --voyages labels/voyages.csv`` on each world folder of
  ``scripts/family_world.py`` / ``ccount synth world``, then ``scripts/eval_ships.py``:
  hulls named right;
- ``unseen``: ``scripts/eval_families.py --families U`` (its test patches) and
  ``scripts/eval_detector.py --seeds 7001 --family U`` (its 12 test scenes) for the family
  ``--unseen U`` (default ``oblique``, designed apart from the others and in no recipe:
  :data:`detector.synth.families.registry.HELD_OUT`; the closest this project has to
  imagery nobody here made; ``relief`` was that family before the four-family recipes);
- ``shadow``: issue 17's shipments with no fitted factor: on each ``--shadow-worlds`` folder
  (e.g. ``scripts/family_world.py --seed 21 --first 16 --family relief``), ``ccount run
  W/scenes --voyages <its voyages> --heights shadow`` then ``scripts/eval_reconcile.py W --run
  R --targets 17 --json --exit-zero``: median |error|, share inside the 90 % intervals, total error (the
  voyages are the world's own, written from its world.json).

Then one JSON (``DIR/summary.json``) and one markdown row per part, printed, in the form of the
candidate tables in docs/training.md. The threshold used is the one stored in the weights: calibrate
first (``scripts/calibrate_threshold.py --model CAND.pt --write``).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from detector._io import atomic_write_text  # noqa: E402
from detector.synth.families.registry import HELD_OUT  # noqa: E402

FAMILIES = ("classic", "flat", "photo")
SEEDS = {"dev": 7009, "test": 7001}
PARTS = ("dev", "test", "look", "ships", "unseen", "shadow")
UNSEEN = HELD_OUT[0]  # the family no recipe trains on; --unseen picks another
_HULLS = re.compile(r"(\d+) true hulls: (\d+) named right")


def jobs(args) -> list[tuple[str, Path, list[list[str]]]]:
    """(name, result file, commands) of every measurement asked for, in order."""
    py, out, model = sys.executable, args.out, str(args.model)
    todo = []
    for part in ("dev", "test"):
        if part not in args.parts:
            continue
        for fam in FAMILIES:
            for snow in ("0", "0.5"):
                name = f"{part}-{fam}" + ("-winter" if snow != "0" else "")
                d = out / name
                cmd = [py, "scripts/eval_detector.py", "--seeds", str(SEEDS[part]), "--family",
                       fam, "--snow", snow, "--out", str(d), "--model", model]  # fmt: skip
                todo.append((name, d / "eval.json", [cmd]))
    if "look" in args.parts:
        for s in args.lookalike_seeds:
            res = out / f"look{s}.json"
            cmd = [py, "scripts/eval_lookalikes.py", "--seed", str(s), "--out",
                   str(out / f"look{s}"), "--model", model, "--json", str(res),
                   "--families", *FAMILIES]  # fmt: skip
            todo.append((f"look{s}", res, [cmd]))
    if "ships" in args.parts:
        for w in args.worlds:
            run = out / f"run-{w.name}"
            res = out / f"ships-{w.name}.txt"
            detect = [py, "-m", "detector", "run", str(w / "scenes"), "--voyages",
                      str(ROOT / "labels" / "voyages.csv"), "--out", str(run), "--model", model,
                      "--no-progress"]  # fmt: skip
            ships = [py, "scripts/eval_ships.py", str(w), "--run", str(run)]
            todo.append((f"ships-{w.name}", res, [detect, ships]))
    if "shadow" in args.parts:
        for w in args.shadow_worlds:
            run, res = out / f"run-shadow-{w.name}", out / f"shadow-{w.name}.txt"
            voyages = out / f"voyages-{w.name}.csv"
            detect = [py, "-m", "detector", "run", str(w / "scenes"), "--voyages", str(voyages),
                      "--out", str(run), "--model", model, "--heights", "shadow",
                      "--no-progress"]  # fmt: skip
            rec = [py, "scripts/eval_reconcile.py", str(w), "--run", str(run), "--targets", "17",
                   "--json", "--exit-zero"]  # fmt: skip
            todo.append((f"shadow-{w.name}", res, [_voyages_of(w, voyages), detect, rec]))
    if "unseen" in args.parts:
        res = out / "unseen.json"
        cmd = [py, "scripts/eval_families.py", "--model", model, "--families", args.unseen,
               "--json", str(res)]  # fmt: skip
        todo.append(("unseen", res, [cmd]))
        d = out / "unseen-scenes"
        cmd = [py, "scripts/eval_detector.py", "--seeds", str(SEEDS["test"]), "--family",
               args.unseen, "--snow", "0", "--out", str(d), "--model", model]  # fmt: skip
        todo.append(("unseen-scenes", d / "eval.json", [cmd]))
    return todo


def _voyages_of(world: Path, csv_path: Path) -> list[str]:
    """The command that writes ``world``'s own voyage log (its world.json) to ``csv_path``."""
    code = ("import csv, json, sys; v = json.load(open(sys.argv[1]))['voyages']; "
            "w = csv.writer(open(sys.argv[2], 'w', newline='')); "
            "w.writerow(['voyage', 'ship', 'rajin_date']); "
            "w.writerows([x['voyage'], x['ship'], x['rajin_date']] for x in v)")  # fmt: skip
    return [sys.executable, "-c", code, str(world / "world.json"), str(csv_path)]


def run_job(name: str, result: Path, commands: list[list[str]], log: Path) -> None:
    """Run ``commands`` in turn (the last one's stdout is the result when ``result`` is a
    .txt); the result file appears only when all succeeded (written atomically)."""
    with log.open("a") as fh:
        for i, cmd in enumerate(commands):
            last = i == len(commands) - 1
            capture = last and result.suffix == ".txt"
            p = subprocess.run(cmd, cwd=ROOT, text=True, stderr=fh,
                               stdout=subprocess.PIPE if capture else fh)  # fmt: skip
            if p.returncode != 0:
                raise SystemExit(
                    f"eval_candidate: {name}: {cmd[1]} failed (exit {p.returncode}, {log})"
                )
            if capture:
                atomic_write_text(result, p.stdout)


def summarise(out: Path, names: list[str], unseen: str = UNSEEN) -> dict:
    """{name: numbers} from the results in ``out`` that exist (``unseen``: its family)."""
    got: dict = {}
    for name in names:
        if name.startswith(("dev-", "test-")) or name == "unseen-scenes":
            f = out / name / "eval.json"
            if f.is_file():
                o = json.loads(f.read_text())["overall"]
                got[name] = {"f1": o["f1"], "count_error_pct": o["count_error_pct"]}
        elif name.startswith("look"):
            f = out / f"{name}.json"
            if f.is_file():
                fams = json.loads(f.read_text())["by_family"]
                got[name] = {k: v["false_per_scene"] for k, v in fams.items()}
        elif name.startswith("ships-"):
            f = out / f"{name}.txt"
            m = _HULLS.search(f.read_text()) if f.is_file() else None
            if m:
                got[name] = {"hulls": int(m.group(1)), "named_right": int(m.group(2))}
        elif name.startswith("shadow-"):
            f = out / f"{name}.txt"
            js = (
                [ln for ln in f.read_text().splitlines() if ln.startswith("{")]
                if f.is_file()
                else []
            )
            if js:
                d = json.loads(js[-1])
                a = d["pooled"]["all"]
                got[name] = {"median_abs_err_pct": round(100 * a["median_abs_err"], 1),
                             "inside_pct": round(100 * a["inside"], 1),
                             "total_err_pct": round(100 * d["total_errors"][0], 1)}  # fmt: skip
        elif name == "unseen":
            f = out / "unseen.json"
            if f.is_file():
                o = json.loads(f.read_text())["families"][unseen]["overall"]
                got[name] = {
                    "family": unseen,
                    "f1": o["f1"],
                    "count_error_pct": round(100 * o["count_error"], 1),
                }
    return got


def rows(got: dict) -> list[str]:
    """Markdown rows: F1 / count % per family (summer, then winter), look-alikes, hulls."""
    lines = []
    for part in ("dev", "test"):
        cells = []
        for winter in ("", "-winter"):
            for fam in FAMILIES:
                r = got.get(f"{part}-{fam}{winter}")
                cells.append("—" if r is None else f"{r['f1']:.3f} / {r['count_error_pct']:+.1f}")
        if any(c != "—" for c in cells):
            lines.append(
                f"| {part} classic / flat / photo, then winter | " + " | ".join(cells) + " |"
            )
    looks = [v for k, r in got.items() if k.startswith("look") for v in r.values()]
    if looks:
        per = "; ".join(
            f"{k}: " + "/".join(f"{v:g}" for v in r.values())
            for k, r in got.items()
            if k.startswith("look")
        )
        lines.append(f"| look-alikes a scene, mean {sum(looks) / len(looks):.1f} | {per} |")
    ships = {k: r for k, r in got.items() if k.startswith("ships-")}
    if ships:
        named = sum(r["named_right"] for r in ships.values())
        total = sum(r["hulls"] for r in ships.values())
        each = " / ".join(f"{r['named_right']}/{r['hulls']}" for r in ships.values())
        lines.append(f"| hulls named right | {each} ({named} of {total}) |")
    for k, r in got.items():
        if k.startswith("shadow-"):
            lines.append(
                f"| shipments, --heights shadow, no factor ({k[7:]}) | median "
                f"{r['median_abs_err_pct']:.1f} %, {r['inside_pct']:.0f} % inside, total "
                f"{r['total_err_pct']:+.1f} % |"
            )
    if "unseen" in got:
        r = got["unseen"]
        lines.append(
            f"| unseen family ({r['family']} patches) | {r['f1']:.3f} / "
            f"{r['count_error_pct']:+.1f} |"
        )
    if "unseen-scenes" in got:
        r = got["unseen-scenes"]
        lines.append(
            f"| unseen family, test scenes | {r['f1']:.3f} / {r['count_error_pct']:+.1f} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--parts", nargs="+", choices=PARTS, default=["dev", "look", "ships", "unseen"])
    p.add_argument("--lookalike-seeds", type=int, nargs="+", default=[0, 1, 2, 5])
    p.add_argument("--worlds", type=Path, nargs="*", default=[])
    p.add_argument("--shadow-worlds", type=Path, nargs="*", default=[],
                   help="world folders for the shadow part (their own voyages)")  # fmt: skip
    p.add_argument("--unseen", default=UNSEEN, help=f"the unseen part's family (default {UNSEEN})")
    p.add_argument("--max-minutes", type=float, default=None, help="start no part after M min")
    args = p.parse_args(argv)
    if not args.model.is_file():
        print(f"eval_candidate: {args.model}: no such weights file", file=sys.stderr)
        return 2
    for w in [*args.worlds, *args.shadow_worlds]:
        if not (w / "scenes").is_dir():
            print(f"eval_candidate: {w}: no scenes/ folder (a world folder)", file=sys.stderr)
            return 2
    args.out.mkdir(parents=True, exist_ok=True)
    todo = jobs(args)
    t0 = time.monotonic()
    for name, result, commands in todo:
        if result.is_file():
            continue
        if args.max_minutes is not None and time.monotonic() - t0 > 60 * args.max_minutes:
            print(f"eval_candidate: stopped before {name} (--max-minutes); run again to go on")
            break
        print(f"{name} ...", flush=True)
        run_job(name, result, commands, args.out / "log.txt")
    got = summarise(args.out, [name for name, _, _ in todo], args.unseen)
    summary = {"model": str(args.model), "results": got}
    atomic_write_text(args.out / "summary.json", json.dumps(summary, indent=1) + "\n")
    print("\n".join(rows(got)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
