"""Model cards: a Markdown summary of a weights file, written from its metadata."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..detections import TIER_HEIGHT_M
from .net import build_model, count_parameters
from .tiers import TIERS_DIRECT, TIERS_LOG_SHADOW
from .weights import ModelMeta, file_sha256

__all__ = ["render_model_card"]


def _fmt_metrics(metrics: dict) -> str:
    if not metrics:
        return "_Not measured yet._\n"
    lines = []
    for name, values in metrics.items():
        lines.append(f"**{name}**\n")
        if isinstance(values, dict):
            lines.append("| metric | value |\n|---|---|")
            lines += [f"| {k} | {v} |" for k, v in values.items()]
        else:
            lines.append(str(values))
        lines.append("")
    return "\n".join(lines) + "\n"


_TIERS_MEANING = {
    TIERS_DIRECT: "stack tiers regressed directly",
    TIERS_LOG_SHADOW: "log shadow length in metres; tiers = exp(out) * tan(sun elevation) / "
    f"{TIER_HEIGHT_M}",
}


def render_model_card(path: str | os.PathLike, meta: ModelMeta, *, notes: str = "") -> str:
    """Markdown model card for the weights file ``path`` with metadata ``meta``."""
    path = Path(path)
    n_params = count_parameters(build_model(meta.arch, **meta.arch_kwargs))
    r = meta.recipe
    thresh_src = ": calibrated, stored in the file" if meta.score_thresh is not None else ""
    if r.get("score_thresh_inherited"):
        thresh_src = (": inherited from the init weights, not recalibrated since the heatmap "
                      "was trained (`scripts/calibrate_threshold.py --write` measures it)")  # fmt: skip
    if meta.score_thresh_tta is not None:
        how = "inherited" if r.get("score_thresh_tta_inherited") else "calibrated"
        thresh_src += f"; with `--tta` {meta.score_thresh_tta}, {how} the same way"
    cmd = (
        f"ccount train --out {path.name} --steps {r.get('steps')} --batch-size "
        f"{r.get('batch_size')} --size {r.get('size_px')} --seed {r.get('seed')} "
        f"--lr {r.get('lr')} --pool {r.get('pool_size')} --refresh {r.get('refresh_per_step')}"
    )
    threads = r.get("threads") or (1 if ", 1 threads" in meta.hardware else None)
    if threads:
        cmd += f" --threads {threads}"
    widths = (r.get("arch_kwargs") or {}).get("widths")
    if widths and not r.get("init"):
        cmd += " --widths " + ",".join(str(int(w)) for w in widths)
    snow = float(r.get("snow") or 0.0)
    if snow:
        cmd += f" --snow {snow:g}"
    winter = f"; winter (snow, sea ice) in {snow:.0%} of tiles" if snow else ""
    deep = float(r.get("deep_snow") or 0.0)
    if deep:
        cmd += f" --deep-snow {deep:g}"
        winter += f", deep snow on the tops in {deep:.0%} of those"
    families, layouts = r.get("families"), r.get("layouts") or "v1"
    if families:
        cmd += " --families " + ",".join(f"{k}={float(v):g}" for k, v in families.items())
    if layouts != "v1":
        cmd += f" --layouts {layouts}"
    boost = r.get("setting_weights")
    if boost:
        cmd += " --setting-weights " + ",".join(f"{k}={float(v):g}" for k, v in boost.items())
        layouts += (
            " (setting weights " + ", ".join(f"{k} {float(v):g}" for k, v in boost.items()) + ")"
        )
    jitter = "photometric jitter"
    if r.get("colour") in ("chroma", "randconv"):
        cmd += f" --colour {r['colour']}"
        jitter += " with hue and saturation"
        if r["colour"] == "randconv":
            jitter += " and random convolutions (texture)"
    heads = r.get("heads")
    heads_text = ""
    if heads:
        cmd += f" --heads {heads}"
        heads_text = (
            f" Only the readout of {heads.replace(',', ', ')} was trained (`--heads`): every "
            "other weight, and so every other output, is the init weights'."
        )
    loss_w = r.get("loss_weights")
    loss_text = ""
    if loss_w:
        cmd += " --loss-weights " + ",".join(f"{k}={float(v):g}" for k, v in loss_w.items())
        loss_text = " Loss weights " + ", ".join(f"{k} {float(v):g}" for k, v in loss_w.items())
        loss_text += " (the other terms as in `detector.model.losses.LOSS_WEIGHTS`)."
    mix = (
        ", ".join(f"{k} {float(v) / sum(families.values()):.0%}" for k, v in families.items())
        if families
        else "classic only"
    )
    done, total = r.get("steps_done"), r.get("steps")
    status = (
        f"\n> **Interim checkpoint: step {done} of {total}.** The run was still going (or was "
        "stopped) when this card was written.\n"
        if done is not None and total is not None and done < total
        else ""
    )
    return f"""# Model card: `{path.name}`
{status}
Container detector for sub-metre satellite imagery of ports (ccount). Generated from the
weights file's own metadata by `scripts/train.py` (`--card-only` rewrites it).

## Summary
| | |
|---|---|
| file | `models/{path.name}` ({path.stat().st_size / 1e6:.1f} MB) |
| file sha256 | `{file_sha256(path)}` |
| state-dict sha256 (checked on load) | `{meta.state_sha256}` |
| architecture | `{meta.arch}` {json.dumps(meta.arch_kwargs)} ({n_params:,} parameters) |
| classes (heatmap channels) | {", ".join(meta.classes)} |
| canonical GSD | {meta.gsd_m} m/pixel (scenes are resampled to it on read) |
| output stride | {meta.output_stride} px |
| weights format | `{meta.format}` |
| code version | `{meta.code_version}` |
| created | {meta.created_utc} |

## Inputs and outputs
- Input: float32 `[B, 3, H, W]`, values 0..1: {meta.normalisation.get("scale", "")};
  bands: {meta.normalisation.get("bands", "")}; mean {meta.normalisation.get("mean")},
  std {meta.normalisation.get("std")} (no further normalisation). Any H, W (padded inside to
  a multiple of 32).
- Outputs at stride 2: centre heatmap (20ft, 40ft), log length/width, (sin 2a, cos 2a),
  sub-cell offset, tiers channel (`{meta.tiers_output}`: {_TIERS_MEANING[meta.tiers_output]}),
  hull and bridge logits. Decoding: local maxima of the
  class-max heatmap (3x3), score >= {meta.detect_thresh} (detect default{thresh_src}), no cap on detections, no NMS between neighbours;
  a peak centred inside a stronger detection's footprint is dropped (`detections.drop_contained`).

## Training
- Data: synthetic tiles generated on the fly by `detector.synth.training_sample`
  (generator `{r.get("generator")}`): native GSD 0.3-0.6 m resampled to {meta.gsd_m} m,
  yards, quays, ship decks, rail, water, land; sensor blur, noise, haze, JPEG, clouds{winter};
  look-alikes unlabelled. Rendering families: {mix}; layouts `{layouts}`. Sample seeds
  `{r.get("sample_seeds")}` (test sets should use seeds below 1,000,000); D4 flips/rotations and {jitter}.
- Recipe: {r.get("steps")} steps, batch {r.get("batch_size")}, tiles {r.get("size_px")} px,
  AdamW lr {r.get("lr")} (weight decay {r.get("weight_decay")}), {r.get("warmup_steps")}
  warm-up steps then cosine decay, pool {r.get("pool_size")} samples refreshed
  {r.get("refresh_per_step")} per step, seed {r.get("seed")}, init `{r.get("init")}`,
  labels `{r.get("labels")}`, precision {r.get("precision")}.{loss_text}{heads_text}
- Reproduce: `python scripts/train.py` (or `{cmd}`). Same seed, machine and thread count
  give the same weights.
- Training time: {meta.train_time_s / 60:.1f} min on {meta.hardware}.

## Measured metrics
{_fmt_metrics(meta.metrics)}
{notes}
## Limits
- Trained only on synthetic imagery; real scenes differ (textures, sensors, seasons).
  Review detections and fine-tune with `ccount train --init models/{path.name} --labels DIR`.
- Stack tiers: a weak estimate (see the measured tier MAE); the cue is the shadow, whose
  length also depends on the sun.
"""
