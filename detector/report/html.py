"""``report.html``: one self-contained page (no external files, scripts or styles; figures as
base64 PNG) summarising a run: totals and munitions range, a monthly timeline, containers
per ship, per-voyage estimates, quicklooks of scenes with their detections, one deck's stack
heights as an inline SVG (runs detected with ``--heights shadow``), the scenes with
their provenance (acquisition time, model hash, settings, what each was used for), the
unmatched scenes, the scenes that could not be counted (failed, with their one-line error,
or gone from the imagery folder) and the assumptions table. A voyage imputed because a scene
that would have matched it failed reads "imagery failed", not "yes", under "imputed".
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._io import atomic_write_text, safe_name
from ..reconcile.core import Reconciliation
from ..reconcile.core import totals as make_totals
from ..reconcile.munitions import Assumptions
from .quicklook import scene_quicklook

__all__ = ["REPORT_NAME", "month_range", "render_report", "write_report", "scene_quicklook"]

log = logging.getLogger(__name__)
REPORT_NAME = "report.html"
KIND_LABEL = {"deck_rajin": "deck at Rajin", "deck_arrival": "deck on arrival",
              "stock_drop": "Pier 2 stock drop", "stock_before": "Pier 2 stock before loading"}  # fmt: skip

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;
max-width:1280px;padding:0 24px 48px;color:#1b1b1b;line-height:1.45}
h1{margin:24px 0 4px}h2{margin-top:36px;border-bottom:2px solid #1f4e79;padding-bottom:4px}
.sub{color:#555;margin:0 0 16px}.cards{display:flex;gap:14px;flex-wrap:wrap}
.card{background:#f2f5f9;border-radius:8px;padding:12px 16px;min-width:190px}
.card b{display:block;font-size:1.5em}.card span{color:#555;font-size:.85em}
table{border-collapse:collapse;font-size:.85em;margin:8px 0}
th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f2f5f9;position:sticky;top:0}td{white-space:nowrap}td.w{white-space:normal}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.imp td{color:#666;font-style:italic}.tag{background:#ddd;border-radius:4px;padding:0 4px;
font-size:.8em}img{max-width:100%}.ql{display:grid;grid-template-columns:repeat(auto-fill,
minmax(560px,1fr));gap:16px}.ql figure{margin:0}.ql figcaption{font-size:.8em;color:#444}
code{font-size:.85em}.note{color:#555;font-size:.9em}
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _n(x: float) -> str:
    return f"{x:,.0f}"


def _rounds(x: float) -> str:
    return f"{x / 1e6:.1f} M" if x >= 1e6 else f"{x / 1e3:,.0f} k"


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def month_range(first: str, last: str) -> list[str]:
    """Every month ``YYYY-MM`` from ``first`` to ``last`` inclusive."""
    y, m = map(int, first.split("-"))
    ly, lm = map(int, last.split("-"))
    out = []
    while (y, m) <= (ly, lm):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]], numeric: Sequence[int] = (),
           row_class: Sequence[str] | None = None, wrap: Sequence[int] = (-1,)) -> str:  # fmt: skip
    """An HTML table of already-escaped cells; ``numeric`` columns right-aligned, ``wrap``
    columns (default: the last) may wrap, the others do not."""
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = []
    for i, r in enumerate(rows):
        cls = f' class="{row_class[i]}"' if row_class and row_class[i] else ""
        wr = {j % len(r) for j in wrap} if r else set()
        tds = "".join(
            f'<td class="n">{c}</td>'
            if j in numeric
            else f'<td class="w">{c}</td>'
            if j in wr
            else f"<td>{c}</td>"
            for j, c in enumerate(r)
        )
        body.append(f"<tr{cls}>{tds}</tr>")
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _plots(result: Reconciliation, totals: Mapping[str, Any]) -> dict[str, bytes]:
    from . import plots as P

    ships = result.shipments
    if not ships:
        return {}
    months = month_range(min(s.voyage.month for s in ships), max(s.voyage.month for s in ships))
    pm = totals["per_month"]
    z = {"est": 0.0, "low": 0.0, "high": 0.0}
    get = [pm.get(m, {"observed": 0, "imputed": 0, "containers": z}) for m in months]
    out = {
        "timeline": P.timeline_png(
            months,
            [g["observed"] for g in get],
            [g["imputed"] for g in get],
            *([g["containers"][k] for g in get] for k in ("est", "low", "high")),
        ),  # fmt: skip
    }
    ps = totals["per_ship"]
    names = sorted(ps, key=lambda n: -ps[n]["containers"]["est"])
    out["ships"] = P.per_ship_png(
        names, *([ps[n]["containers"][k] for n in names] for k in ("est", "low", "high")),
        [ps[n]["shipments"] for n in names],
    )  # fmt: skip
    out["voyages"] = P.voyages_png(
        [s.voyage.voyage for s in ships], [s.voyage.ship for s in ships],
        [s.containers_est for s in ships], [s.interval[0] for s in ships],
        [s.interval[1] for s in ships], [s.imputed for s in ships],
        [None if s.observed is None else s.observed.value for s in ships],
    )  # fmt: skip
    return out


def _lost_line(result: Reconciliation) -> str:
    if not result.uncounted:
        return ""
    n_failed = sum(u.state == "failed" for u in result.uncounted)
    return (f" Not counted: {n_failed} failed and {len(result.uncounted) - n_failed} gone "
            "scenes (see below).")  # fmt: skip


def _imputed(s: Any) -> str:
    if s.note.startswith("imagery failed"):
        return "imagery failed"
    return "yes" if s.imputed else ""


def _uncounted_section(result: Reconciliation, totals: Mapping[str, Any]) -> list[str]:
    """The section "Scenes not counted": each failed or gone scene with its file, one-line error and the
    voyages it would have matched; nothing when there are none."""
    if not result.uncounted:
        return []
    voyages = {d["scene"]: d.get("voyages") or [] for d in totals["scenes"].get("not_counted", [])}
    n_failed = sum(u.state == "failed" for u in result.uncounted)
    rows = [[f"<code>{_e(u.scene)}</code>", _e(u.state), f"<code>{_e(u.file)}</code>",
             _e(", ".join(map(str, voyages.get(u.scene, []))) or "–"), _e(u.error)]
            for u in result.uncounted]  # fmt: skip
    return [
        "<h2>Scenes not counted</h2>",
        f'<p class="note">{n_failed} failed (the file could not be read or processed; outputs '
        "of an earlier success are in <code>detections/.failed/</code>), "
        f"{len(result.uncounted) - n_failed} gone (no longer in the imagery folder; their "
        "outputs are in <code>detections/.gone/</code>). None of them enters an estimate; a "
        'voyage imputed for lack of a failed scene says "imagery failed".</p>',
        _table(["scene", "state", "file", "would match voyage(s)", "error"], rows,
               wrap=(2, 4)),
    ]  # fmt: skip


def _pick_quicklooks(result: Reconciliation, max_n: int) -> list[str]:
    used = [sc for s in result.shipments for sc in s.evidence]
    unused = [sc for e in result.evidence if not e.used for sc in e.scenes]
    rest = [u.scene for u in result.unmatched]
    order = list(dict.fromkeys(used + unused + rest + [o.scene for o in result.scenes]))
    return order[:max_n]


def _short(sha: str | None) -> str:
    return (sha or "?")[:12]


def render_report(
    result: Reconciliation,
    totals: Mapping[str, Any],
    assumptions: Assumptions,
    *,
    quicklooks: Mapping[str, bytes] | None = None,
    run_info: Mapping[str, Any] | None = None,
    title: str = "Containers shipped from Rajin: per-shipment estimates",
    deck: Any = None,
) -> str:
    """The report's HTML text (see the module docstring)."""
    from .. import __version__

    quicklooks = quicklooks or {}
    run_info = run_info or {}
    plots = _plots(result, totals)
    obs = {o.scene: o for o in result.scenes}
    c, t, r, v = totals["containers"], totals["teu"], totals["rounds"], totals["voyages"]

    def when(sc: str) -> str:
        o = obs.get(sc)
        return o.acquired.strftime("%Y-%m-%d %H:%MZ") if o and o.acquired else "?"

    parts = [
        f"<h1>{_e(title)}</h1>",
        f'<p class="sub">{v["total"]} voyages in the log: {v["observed"]} estimated from '
        f"{len(totals['scenes']['used'])} scenes, {v['imputed']} imputed. Intervals are nominal "
        f"90 %.{_lost_line(result)}</p>",
        '<div class="cards">',
        f'<div class="card"><span>containers</span><b>{_n(c["est"])}</b>'
        f"<span>{_n(c['low'])} – {_n(c['high'])}</span></div>",
        f'<div class="card"><span>TEU</span><b>{_n(t["est"])}</b>'
        f"<span>{_n(t['low'])} – {_n(t['high'])}</span></div>",
        f'<div class="card"><span>rounds of munitions (at the estimate)</span>'
        f"<b>{_rounds(r['low'])} – {_rounds(r['high'])}</b><span>"
        f"{r['rounds_per_container_low']:.0f}–{r['rounds_per_container_high']:.0f} a container; "
        f"with the count interval {_rounds(r['low_with_count_interval'])} – "
        f"{_rounds(r['high_with_count_interval'])}</span></div>",
        f'<div class="card"><span>observed voyages only</span>'
        f"<b>{_n(totals['observed_only']['est'])}</b><span>containers in {v['observed']} "
        "voyages</span></div>",
        "</div>",
    ]
    if "timeline" in plots:
        parts += ["<h2>Timeline</h2>", _img(plots["timeline"], "shipments per month")]
        parts += ["<h2>Containers per ship</h2>", _img(plots["ships"], "containers per ship")]
        ps = totals["per_ship"]
        parts.append(_table(
            ["ship", "voyages", "observed", "imputed", "containers", "90 % interval", "TEU"],
            [[_e(n), d["shipments"], d["observed"], d["imputed"], _n(d["containers"]["est"]),
              f'{_n(d["containers"]["low"])} – {_n(d["containers"]["high"])}', _n(d["teu"]["est"])]
             for n, d in ps.items()], numeric=(1, 2, 3, 4, 5, 6)))  # fmt: skip
        parts += ["<h2>Per-voyage estimates</h2>", _img(plots["voyages"], "per-voyage estimates")]
    ev_by_voyage: dict[int, list] = {}
    for e in result.evidence:
        ev_by_voyage.setdefault(e.voyage, []).append(e)
    rows, classes = [], []
    for s in result.shipments:
        lo, hi = s.interval
        items = []
        for e in ev_by_voyage.get(s.voyage.voyage, []):
            val = (
                f": {_n(e.estimate.value)} ± {_n(1.645 * e.estimate.total_sd)}"
                if e.estimate
                else ""
            )
            scenes = " → ".join(f"<code>{_e(sc)}</code> ({_e(when(sc))})" for sc in e.scenes)
            state = "" if e.used else f' <span class="tag">unused: {_e(e.reason)}</span>'
            if e.note:
                state += f' <span class="tag">{_e(e.note)}</span>'
            items.append(f"{_e(KIND_LABEL.get(e.kind, e.kind))} {scenes}{_e(val)}{state}")
        if s.note:
            items.append(f'<span class="tag">{_e(s.note)}</span>')
        if s.imputed:
            items.append(f"imputed from {_e(s.voyage.ship)}'s observed voyages and the prior")
        alone = "" if s.observed is None else (
            f"{_n(s.observed.value)} ± {_n(1.645 * s.observed.total_sd)}")  # fmt: skip
        rows.append([s.voyage.voyage, _e(s.voyage.ship), s.voyage.rajin_date.isoformat(),
                     _n(s.containers_est), f"{_n(lo)} – {_n(hi)}", _n(s.teu.value),
                     _imputed(s), alone, "<br>".join(items)])  # fmt: skip
        classes.append("imp" if s.imputed else "")
    parts.append(
        f'<p class="note">Each voyage\'s observations are fused ("imagery alone"), then pooled '
        f"with its ship's other voyages: an estimate leans on the ship's mean as much as its "
        f"imagery is uncertain. Voyage-to-voyage spread of true loads (estimated): "
        f"{_n(result.between_voyage_sd)} containers (sd). Voyages without usable imagery get "
        "the ship's mean and that spread.</p>")  # fmt: skip
    parts.append(_table(["voyage", "ship", "Rajin date", "containers", "90 % interval", "TEU",
                         "imputed", "imagery alone ± 90 %",
                         "evidence (scene, acquired UTC, value ± 90 %)"], rows,
                        numeric=(0, 3, 4, 5, 7), row_class=classes))  # fmt: skip
    if quicklooks:
        parts += ["<h2>Scenes with detections</h2>",
                  f'<p class="note">{len(quicklooks)} of {len(result.scenes)} scenes; container '
                  "outlines coloured by region, ship hulls dashed.</p>", '<div class="ql">']  # fmt: skip
        for sc, png in quicklooks.items():
            o = obs.get(sc)
            cap = f"<code>{_e(sc)}</code> · {_e(o.port if o else '?')} · {_e(when(sc))}"
            parts.append(f"<figure>{_img(png, sc)}<figcaption>{cap}</figcaption></figure>")
        parts.append("</div>")
    if deck is not None:  # a run with --heights shadow: one deck's stack heights
        parts += ["<h2>Stack heights on one deck</h2>",
                  f'<p class="note">{_e(deck.ship)} in <code>{_e(deck.scene)}</code>: '
                  f"{deck.stacks} stacks, each filled by its estimated tiers and labelled with "
                  "its 90 % interval (heights from the scene's shadows, else a prior: hover a "
                  "stack for its source). The arrow points to the sun.</p>",
                  f'<div class="deck">{deck.svg}</div>']  # fmt: skip
    role: dict[str, list[str]] = {}
    for e in result.evidence:
        for sc in e.scenes:
            tag = f"voyage {e.voyage}: {KIND_LABEL.get(e.kind, e.kind)}"
            role.setdefault(sc, []).append(tag + ("" if e.used else f" (unused: {e.reason})"))
    for u in result.unmatched:
        role.setdefault(u.scene, []).append(f"unmatched: {u.reason}")
    parts.append("<h2>Scenes and provenance</h2>")
    parts.append(_table(
        ["scene", "port", "acquired (UTC)", "ships (name: visible / est, model counts)",
         "Pier 2 stock (model count)",
         "model sha256", "settings", "used for"],
        [[f"<code>{_e(o.scene)}</code>", _e(o.port or "?"), _e(when(o.scene)),
          _e("; ".join(f"{s.name}: {s.visible:.0f} / {s.est:.0f}" for s in o.ships) or "–"),
          "" if o.stock_est is None else _n(o.stock_est), f"<code>{_e(_short(o.model_sha256))}</code>",
          f"<code>{_e(', '.join(f'{k}={v}' for k, v in sorted(o.settings.items())))}</code>",
          "<br>".join(_e(x) for x in role.get(o.scene, []))] for o in result.scenes],
        numeric=(4,), wrap=(3, 6, 7)))  # fmt: skip
    if result.unmatched:
        parts += ["<h2>Unmatched scenes</h2>", _table(
            ["scene", "reason"], [[f"<code>{_e(u.scene)}</code>", _e(u.reason)]
                                  for u in result.unmatched])]  # fmt: skip
    parts += _uncounted_section(result, totals)
    parts.append("<h2>Assumptions</h2>")
    parts.append(f'<p class="note">From <code>{_e(assumptions.path)}</code>; edit a copy and pass '
                 "<code>--assumptions FILE</code>.</p>")  # fmt: skip
    if totals.get("heights"):  # measured stack heights: the fitted figures do not apply
        skipped = ", ".join(totals["heights"].get("not_applied", []))
        parts.append('<p class="note">Stack heights measured from shadows (<code>--heights '
                     f"shadow</code>): containers taken as counted; not applied: {_e(skipped)}."
                     "</p>")  # fmt: skip

    def fmt(row: Mapping[str, Any]) -> str:
        val = row["value"]
        if isinstance(val, Mapping):
            return ", ".join(f"{k}: {x:g}" for k, x in val.items())
        rng = f" ({row['low']:g} – {row['high']:g})" if row["low"] is not None else ""
        return f"{val:g}{rng}"

    parts.append(_table(["section", "figure", "value", "unit", "source"],
                        [[_e(a["section"]), _e(a["name"]), _e(fmt(a)), _e(a["unit"]), _e(a["source"])]
                         for a in assumptions.table()], wrap=(3, 4)))  # fmt: skip
    info = {
        "models (sha256)": ", ".join(totals.get("models") or []) or "?",
        **{k: v for k, v in run_info.items()},
        "ccount version": __version__,
        "generated (UTC)": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
    }
    parts += ["<h2>Run</h2>", _table(["item", "value"],  # provenance of the whole run
                                     [[_e(k), f"<code>{_e(v)}</code>"] for k, v in info.items()])]  # fmt: skip
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>\n{body}\n</body></html>\n")  # fmt: skip


def write_report(
    run_dir: str | Path,
    *,
    result: Reconciliation | None = None,
    totals: Mapping[str, Any] | None = None,
    assumptions: Assumptions | None = None,
    max_quicklooks: int = 12,
    progress: bool = False,
) -> Path:
    """Render ``RUN_DIR/report.html`` (reconciling the run folder's counts again when
    ``result`` is not given) and return its path."""
    import json

    from ..reconcile.core import reconcile
    from .shipments_io import detections_dir, run_inputs, run_uncounted

    d = Path(run_dir)
    if result is None or assumptions is None:
        counts, voyages, assumptions = run_inputs(d)
        result = reconcile(counts, voyages, assumptions, uncounted=run_uncounted(d))
        totals = None
    if totals is None:
        totals = make_totals(result, assumptions)
    det = detections_dir(d)
    files = {}
    for p in det.glob("*.counts.json"):
        try:
            doc = json.loads(p.read_text())
            files[doc["scene"]] = doc.get("file")
        except (OSError, ValueError, KeyError):
            continue
    quick: dict[str, bytes] = {}
    picks = _pick_quicklooks(result, max_quicklooks)
    from tqdm import tqdm

    for sc in tqdm(picks, desc="quicklooks", unit="scene", disable=None if progress else True):
        path = files.get(sc)
        if not path or not Path(path).is_file():
            continue
        o = next((x for x in result.scenes if x.scene == sc), None)
        title = f"{sc} ({o.port if o else '?'})"
        png = scene_quicklook(path, det / f"{safe_name(sc)}.detections.geojson", title)
        if png:
            quick[sc] = png
    run_info: dict[str, Any] = {"run folder": str(d.resolve())}
    if (d / "run.json").is_file():
        try:
            rj = json.loads((d / "run.json").read_text())
            run_info.update({"imagery": rj.get("imagery_dir"), "voyage log": rj.get("voyages"),
                             "device": rj.get("device"), "settings": json.dumps(rj.get("settings")),
                             "model file": (rj.get("model") or {}).get("path")})  # fmt: skip
        except (OSError, ValueError):
            pass
    from .deck import deck_figure

    text = render_report(result, totals, assumptions, quicklooks=quick, run_info=run_info,
                         deck=deck_figure(det))  # fmt: skip
    out = d / REPORT_NAME
    atomic_write_text(out, text)
    return out
