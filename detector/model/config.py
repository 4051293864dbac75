"""What determines a training run: :class:`TrainConfig` (recorded in the weights' recipe).

Kept apart from :mod:`.train` so the command line can build its options without torch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .tiers import TIERS_DIRECT, TIERS_OUTPUTS

__all__ = [
    "COLOURS", "DATA_OPTIONS", "SHIPPED_DATA", "SampleFn", "TrainConfig", "describe_data",
    "recipe_data",
]  # fmt: skip

SampleFn = Callable[..., Any]  # (seed, *, size_px) -> sample (see data.Sample)


#: The synthetic data of the shipped weights (scripts/train.py, models/MODEL_CARD.md): four
#: rendering families in equal shares, the v2 layouts with hard negatives, 20 % winter.
#: ``ccount train`` samples this unless told otherwise; a fine-tune (``--init``) samples what
#: its init's recipe did (``detector.cli.train``), the last stage's setting weights included.
#: (TrainConfig's own defaults stay the plain classic/v1 generator: tests and studies set
#: what they need.)
SHIPPED_DATA: dict[str, Any] = {
    "families": {"classic": 1.0, "flat": 1.0, "photo": 1.0, "relief": 1.0},
    "layouts": "v2",
    "snow": 0.2,
}

#: Photometric jitters of ``--colour`` (:func:`detector.model.data.colour_jitter`).
COLOURS = ("tone", "chroma", "randconv")

_NOT_RECIPE = (
    "out", "sample_fn", "log_every", "save_every",
    "checkpoint", "checkpoint_every_s", "stop_after_steps", "max_minutes",
)  # fmt: skip


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (recorded in the weights' ``recipe``).

    ``sample_fn`` replaces the synthetic generator (tests); ``labels`` is a folder of label
    sets mixed in at ``label_fraction`` of each batch; ``init`` starts from a weights file
    (its architecture wins over ``arch``/``arch_kwargs``).
    """

    out: Path
    steps: int = 6000
    batch_size: int = 16
    size_px: int = 256
    lr: float = 3e-3
    weight_decay: float = 1e-2
    warmup_steps: int = 200
    seed: int = 0
    device: str = "auto"
    init: Path | None = None
    labels: Path | None = None
    label_fraction: float = 0.5
    pool_size: int = 384
    refresh_per_step: int = 3
    jitter: float = 1.0
    colour: str = "tone"  # photometric jitter: tone (gamma, gain, offset), chroma (+ hue, sat)
    # or randconv (+ random convolutions, data.random_convolution)
    snow: float = 0.0  # fraction of synthetic tiles drawn in winter (synth.weather)
    deep_snow: float = 0.0  # fraction of the winter tiles with deep snow on the tops
    families: dict[str, float] | None = None  # rendering-family mix; None: classic only
    layouts: str = "v1"  # layout generator of synth.training_sample: v1 or v2 (see SHIPPED_DATA)
    setting_weights: dict[str, float] | None = None  # v2 settings' share multipliers; None: 1
    heads: str | None = None  # train only these outputs' readout (.heads), e.g. "hull,bridge"
    loss_weights: dict[str, float] | None = None  # replace those of losses.LOSS_WEIGHTS named
    slot_negatives: float = 0.0  # extra heatmap weight of empty slots beside containers (.slots)
    ema: float = 0.0  # decay of an exponential moving average of the weights; 0: none
    amp: bool = True
    arch: str = "ccnet-v1"
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    val_samples: int = 64
    save_every: int = 500
    log_every: int = 50
    threads: int | None = 1
    gen_workers: int | None = None  # sample-rendering processes; None: 0 on CPU, more on CUDA
    tiers_output: str = TIERS_DIRECT
    sample_fn: SampleFn | None = None
    # chunks (not in the recipe: they cannot change the weights), see .checkpoint
    checkpoint: Path | None = None  # default: the file resumed from, else <out>.ckpt
    checkpoint_every_s: float = 300.0
    stop_after_steps: int | None = None  # end this chunk after so many steps (checkpointed)
    max_minutes: float | None = None  # end this chunk after the step that passes this

    def __post_init__(self) -> None:
        if not 0.0 <= self.snow <= 1.0:
            raise ConfigError(f"--snow {self.snow}: expected a fraction 0..1")
        if not 0.0 <= self.deep_snow <= 1.0:
            raise ConfigError(f"--deep-snow {self.deep_snow}: expected a fraction 0..1")
        if self.deep_snow > 0 and self.families and self.families.get("oblique"):
            raise ConfigError("--deep-snow: the oblique family draws its own winter only")
        if self.colour not in COLOURS:
            raise ConfigError(f"--colour {self.colour}: expected tone, chroma or randconv")
        if self.layouts not in ("v1", "v2"):
            raise ConfigError(f"--layouts {self.layouts}: expected v1 or v2")
        if self.families is not None:
            from ..synth.mixes import check_mix

            object.__setattr__(self, "families", check_mix(self.families))
        if self.setting_weights is not None:
            from ..synth.mixes import check_setting_weights

            if self.layouts != "v2":
                raise ConfigError("--setting-weights: needs --layouts v2")
            object.__setattr__(
                self, "setting_weights", check_setting_weights(self.setting_weights) or None
            )
        if self.heads is not None:
            from .heads import parse_heads

            if self.init is None:
                raise ConfigError("--heads: needs --init WEIGHTS (the rest is frozen)")
            object.__setattr__(self, "heads", parse_heads(self.heads))
        if self.loss_weights is not None:
            from .losses import check_loss_weights

            object.__setattr__(self, "loss_weights", check_loss_weights(self.loss_weights) or None)
        if not (0.0 <= self.slot_negatives < float("inf")):
            raise ConfigError(f"--slot-negatives {self.slot_negatives}: expected >= 0")
        if not 0.0 <= self.ema < 1.0:
            raise ConfigError(f"--ema {self.ema}: expected a decay 0 <= d < 1 (0: off)")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"--threads {self.threads}: expected >= 1")
        if self.gen_workers is not None and self.gen_workers < 0:
            raise ConfigError(f"--gen-workers {self.gen_workers}: expected >= 0")
        if self.checkpoint_every_s < 0:
            raise ConfigError(f"--checkpoint-every {self.checkpoint_every_s}: expected >= 0 s")
        if self.stop_after_steps is not None and self.stop_after_steps < 1:
            raise ConfigError(f"--stop-after-steps {self.stop_after_steps}: expected >= 1")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise ConfigError(f"--max-minutes {self.max_minutes}: expected > 0")
        if self.tiers_output not in TIERS_OUTPUTS:
            raise ConfigError(
                f"tiers_output {self.tiers_output!r}: expected one of {TIERS_OUTPUTS}"
            )

    def loss_term_weights(self) -> dict[str, float]:
        """The weight of every loss term: :data:`~.losses.LOSS_WEIGHTS` with ``loss_weights``."""
        from .losses import LOSS_WEIGHTS

        return {**LOSS_WEIGHTS, **(self.loss_weights or {})}

    def recipe(self) -> dict[str, Any]:
        d = {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in dataclasses.asdict(self).items()
            if k not in _NOT_RECIPE
        }
        from .data import sample_seed  # synth and numpy only when a recipe is written

        d["sample_seeds"] = f"sample_seed(seed, k) = {sample_seed(0, 0)} + seed * 1e8 + k"
        # absent: the plain classic family and v1 layouts (weights and checkpoints older than
        # the fields have neither and keep matching)
        if d.get("families") is None:
            d.pop("families", None)
        if d.get("layouts") == "v1":
            d.pop("layouts", None)
        if d.get("colour") == "tone":
            d.pop("colour", None)
        if not d.get("deep_snow"):
            d.pop("deep_snow", None)
        if not d.get("slot_negatives"):
            d.pop("slot_negatives", None)
        for key in ("setting_weights", "loss_weights", "heads"):
            if d.get(key) is None:
                d.pop(key, None)
        return d


#: The TrainConfig fields that say what the synthetic tiles look like (a recipe leaves out
#: those at their default: :meth:`TrainConfig.recipe`).
DATA_OPTIONS = ("families", "layouts", "snow", "deep_snow", "setting_weights", "colour")


def recipe_data(recipe: dict[str, Any]) -> dict[str, Any]:
    """The :data:`DATA_OPTIONS` fields a weights file's ``recipe`` trained on, for a fine-tune
    of it to draw the same; :data:`SHIPPED_DATA` for a file without a recipe."""
    if not recipe:
        return dict(SHIPPED_DATA)
    default = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    return {k: recipe.get(k, default[k]) for k in DATA_OPTIONS}


def describe_data(config: TrainConfig) -> str:
    """One line of what synthetic tiles ``config`` draws."""
    from ..synth.mixes import format_mix

    parts = [f"families {format_mix(config.families)}", f"layouts {config.layouts}",
             f"snow {config.snow:g}"]  # fmt: skip
    if config.setting_weights:
        sw = config.setting_weights
        parts.append("setting weights " + ",".join(f"{k}={v:g}" for k, v in sw.items()))
    if config.deep_snow:
        parts.append(f"deep snow {config.deep_snow:g}")
    if config.colour != "tone":
        parts.append(f"colour {config.colour}")
    return ", ".join(parts)
