"""The evaluation report as a plain-text table (``ccount eval``, scripts)."""

from __future__ import annotations

from .breakdown import format_recall
from .conditions import format_conditions

__all__ = ["format_table"]


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def format_table(report: dict) -> str:
    """A plain-text table of the report: one row per scene, per region, and overall."""
    cols = [
        ("precision", "P"), ("recall", "R"), ("f1", "F1"), ("pred_visible", "pred"),
        ("truth_visible", "truth"), ("count_error_pct", "count%"), ("teu_error_pct", "TEU%"),
        ("kind_accuracy", "kind"), ("tier_mae", "tierMAE"), ("est_error_pct", "est%"),
    ]  # fmt: skip
    rows = [(s["scene"], s) for s in report["scenes"]]
    rows += [
        (f"[{r}]", m)
        for r, m in report["by_region"].items()
        if m["truth_visible"] or m["pred_visible"]
    ]
    rows.append(("OVERALL", report["overall"]))
    name_w = max(len(n) for n, _ in rows)
    head = f"{'scene':<{name_w}} " + " ".join(f"{h:>8}" for _, h in cols)
    lines = [head, "-" * len(head)]
    for name, m in rows:
        lines.append(f"{name:<{name_w}} " + " ".join(f"{_fmt(m[k]):>8}" for k, _ in cols))
    if report.get("recall_by"):
        lines.append(format_recall(report["recall_by"]))
    lines += format_conditions(report.get("by_condition") or {})
    c = report["coco"]
    lines.append(
        f"COCO (class-agnostic, axis-aligned boxes): AP {_fmt(c['ap'])}  AP50 {_fmt(c['ap50'])}"
        f"  AP75 {_fmt(c['ap75'])}   match radius {report['match_radius_m']} m"
    )
    if report["unpaired"]:
        lines.append(f"no truth for: {', '.join(report['unpaired'])}")
    missing = report.get("no_predictions") or []
    if missing:
        n = len(missing)
        lines.append(
            f"no predictions for: {', '.join(missing)} ({n} truth scene{'s' if n > 1 else ''} "
            "not scored)"
        )
    return "\n".join(lines)
