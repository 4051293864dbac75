// ccount review page: one review unit at a time, boxes as SVG polygons in chip pixels.
// No libraries, no innerHTML: every string from the round goes in through textContent.
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const FT20_M = 6.06, FT40_M = 12.19, WIDTH_M = 2.44;
const TOKEN = document.querySelector('meta[name="ccount-token"]').content;
const $ = (id) => document.getElementById(id);

let units = [];          // review order, from /api/state
let unitId = null;       // the unit shown
let view = null;         // /api/unit payload of the unit shown
let selected = null;     // cand_id of the selected box
let t0 = performance.now();
let drag = null;         // {mode: move|end|side|rot|axis|width, ...}
let draft = null;        // a box being drawn: {p0, p1, kind} after the first drag
let queue = Promise.resolve();
let overview = false;    // the scene overview instead of the unit

// ---- server ---------------------------------------------------------------------------
async function api(method, path, body) {
  const opts = { method, headers: { "X-CCount-Token": TOKEN }, credentials: "same-origin" };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  let data = null;
  try { data = await resp.json(); } catch (e) { data = null; }
  if (!resp.ok) throw new Error((data && data.error) || `${method} ${path}: HTTP ${resp.status}`);
  return data;
}

function serial(fn) {   // one request at a time, in key-press order
  queue = queue.then(async () => {
    document.body.dataset.busy = "1";
    try { await fn(); message(""); } catch (e) { message(e.message); }
    finally { document.body.dataset.busy = "0"; }
  });
  return queue;
}

function message(text) { $("message").textContent = text; }

function setState(state) {
  units = state.units;
  const p = state.progress;
  const parts = [
    `reviewed ${p.reviewed}/${p.budget}`,
    `units ${p.units_complete}/${p.units} complete`,
    `changed ${(100 * p.changed_share).toFixed(0)}%`,
    p.seconds_per_decision === null ? "– s/decision" : `${p.seconds_per_decision} s/decision`,
    `added ${p.added}`,
  ];
  $("progress").textContent = parts.join(" · ");
  document.body.dataset.actions = String(p.actions);
}

async function loadState() {
  const state = await api("GET", "api/state");
  setState(state);
  return state;
}

async function showUnit(id) {
  view = await api("GET", `api/unit/${id}`);
  unitId = id;
  overview = false;
  t0 = performance.now();
  draft = null;
  const keep = view.candidates.find((c) => c.cand_id === selected);
  if (!keep) selected = null;
  pickPending();
  history.replaceState(null, "", `${location.pathname}#unit=${id}`);
  render();
}

async function act(action, extra) {
  const now = performance.now();
  const body = Object.assign({ action, unit: unitId, seconds: +((now - t0) / 1000).toFixed(2) }, extra);
  const resp = await api("POST", "api/action", body);
  t0 = now;
  setState(resp.state);
  if (resp.unit_id !== unitId) {
    await showUnit(resp.unit_id);
  } else {
    view = resp.view;
  }
  return resp;
}

// ---- geometry (chip pixels) -----------------------------------------------------------
const sub = (a, b) => [a[0] - b[0], a[1] - b[1]];
const add = (a, b) => [a[0] + b[0], a[1] + b[1]];
const mul = (a, k) => [a[0] * k, a[1] * k];
const dot = (a, b) => a[0] * b[0] + a[1] * b[1];
const norm = (a) => Math.hypot(a[0], a[1]);

function boxOf(corners) {   // centre, unit long axis u, normal v, length L, width W
  const c = mul(corners.reduce(add, [0, 0]), 0.25);
  const e0 = sub(corners[1], corners[0]), e1 = sub(corners[2], corners[1]);
  const long = norm(e0) >= norm(e1) ? e0 : e1;
  const L = Math.max(norm(e0), norm(e1)), W = Math.min(norm(e0), norm(e1));
  const u = mul(long, 1 / (norm(long) || 1));
  return { c, u, v: [-u[1], u[0]], L, W };
}

function cornersOf(b) {
  const hl = mul(b.u, b.L / 2), hw = mul(b.v, b.W / 2);
  return [sub(sub(b.c, hl), hw), sub(add(b.c, hl), hw), add(add(b.c, hl), hw), add(sub(b.c, hl), hw)];
}

function snapLength(px) {   // length in chip pixels -> {L, kind}, snapped to 20/40 ft
  const m = px * view.chip.gsd_m;
  const kind = Math.abs(m - FT20_M) <= Math.abs(m - FT40_M) ? "20ft" : "40ft";
  return { L: (kind === "20ft" ? FT20_M : FT40_M) / view.chip.gsd_m, kind };
}

function snapWidth(px) {
  const m = px * view.chip.gsd_m;
  return m < 0.5 || Math.abs(m - WIDTH_M) < 0.3 * WIDTH_M ? WIDTH_M / view.chip.gsd_m : px;
}

function toChip(ev) {
  const svg = $("view");
  const pt = new DOMPoint(ev.clientX, ev.clientY).matrixTransform(svg.getScreenCTM().inverse());
  return [pt.x, pt.y];
}

function pxPerChip() {
  const r = $("view").getBoundingClientRect();
  return Math.min(r.width / view.chip.size_px[0], r.height / view.chip.size_px[1]) || 1;
}

// ---- drawing --------------------------------------------------------------------------
function el(name, attrs, parent) {
  const e = document.createElementNS(SVGNS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (parent) parent.appendChild(e);
  return e;
}

const pts = (corners) => corners.map((p) => `${p[0]},${p[1]}`).join(" ");

function render() {
  if (overview) { renderOverview(); return; }
  const svg = $("view");
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const [w, h] = view.chip.size_px;
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  el("image", { href: view.chip.url, x: 0, y: 0, width: w, height: h, "data-role": "bg" }, svg);
  const sq = view.square;
  el("path", { class: "dim", "data-role": "bg",
    d: `M0,0H${w}V${h}H0Z M${sq.map((p) => `${p[0]},${p[1]}`).join(" L")}Z` }, svg);
  el("polygon", { class: "square", points: pts(sq), "pointer-events": "none" }, svg);
  for (const c of view.neighbours) el("polygon", { class: "neighbour", points: pts(c.corners) }, svg);
  for (const c of view.candidates) {
    const cls = ["cand", c.status, c.source, c.kind === "40ft" ? "k40" : "k20"];
    if (c.cand_id === selected) cls.push("sel");
    const poly = el("polygon", { class: cls.join(" "), points: pts(c.corners),
      "data-role": "cand", "data-cand": c.cand_id }, svg);
    const t = document.createElementNS(SVGNS, "title");
    t.textContent = `#${c.cand_id} ${c.kind} ${c.source} ${c.status} score ${c.score}` +
      `${verifyText(c, true)} (${c.reason})`;
    poly.appendChild(t);
  }
  const cur = current();
  if (cur) {
    const b = boxOf(cur.corners), r = 5 / pxPerChip();
    const off = 14 / pxPerChip();
    const end = add(b.c, mul(b.u, b.L / 2)), side = add(b.c, mul(b.v, b.W / 2));
    const rot = sub(b.c, mul(b.v, b.W / 2 + off));
    el("circle", { class: "handle end", cx: end[0], cy: end[1], r, "data-role": "end" }, svg);
    el("circle", { class: "handle side", cx: side[0], cy: side[1], r, "data-role": "side" }, svg);
    el("rect", { class: "handle rot", x: rot[0] - r, y: rot[1] - r, width: 2 * r, height: 2 * r,
      "data-role": "rot" }, svg);
  }
  if (draft) {
    el("line", { class: "draft", x1: draft.p0[0], y1: draft.p0[1], x2: draft.p1[0], y2: draft.p1[1] }, svg);
    if (draft.corners) el("polygon", { class: "draft", points: pts(draft.corners) }, svg);
  }
  renderSide();
}

function renderOverview() {
  // the unit's scene: every unit's chip at its window (scene pixels), framed by its status
  const svg = $("view");
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const same = units.filter((u) => u.scene === view.unit.scene && u.window);
  const x0 = Math.min(...same.map((u) => u.window[0])), y0 = Math.min(...same.map((u) => u.window[1]));
  const x1 = Math.max(...same.map((u) => u.window[0] + u.window[2]));
  const y1 = Math.max(...same.map((u) => u.window[1] + u.window[3]));
  svg.setAttribute("viewBox", `${x0} ${y0} ${x1 - x0} ${y1 - y0}`);
  for (const u of same) {
    const [cx, cy, cw, ch] = u.window;
    el("image", { href: `chip/${u.unit_id}.png`, x: cx, y: cy, width: cw, height: ch }, svg);
  }
  for (const u of same) {
    const [cx, cy, cw, ch] = u.window;
    const cls = ["ov", u.status, u.unit_id === unitId ? "cur" : ""].join(" ");
    const r = el("rect", { class: cls, x: cx, y: cy, width: cw, height: ch,
      "data-role": "ov", "data-unit": u.unit_id }, svg);
    const t = document.createElementNS(SVGNS, "title");
    t.textContent = `unit ${u.unit_id} · ${u.split} · ${u.status} · ${u.pending} of ${u.candidates} pending`;
    r.appendChild(t);
  }
  $("hint").textContent = `overview of scene ${view.unit.scene}: click a unit to review it (o: back)`;
}

function toggleOverview() {
  overview = !overview && view !== null;
  draft = null;
  render();
}

// The crop verifier's probability of a --verify run's box, against the threshold it
// accepts from (the box is counted when it scores the detector's threshold and this).
function verifyText(c, long) {
  if (c.verify === null || c.verify === undefined) return "";
  const q = view.verify_thresh;
  if (!long) return ` · verifier ${c.verify.toFixed(2)}`;
  return `, verifier ${c.verify.toFixed(2)}` + (q === null || q === undefined ? "" : ` (accepts from ${q})`);
}

function renderSide() {
  const u = view.unit;
  const pos = units.findIndex((x) => x.unit_id === u.unit_id);
  $("unitinfo").textContent =
    `unit ${u.unit_id} (${pos + 1} of ${units.length}) · scene ${u.scene} · ${u.split} · ` +
    `${u.status} · priority ${u.priority} · ${u.reason} · ${u.pending} of ${u.candidates} pending`;
  const list = $("cands");
  while (list.firstChild) list.removeChild(list.firstChild);
  for (const c of view.candidates) {
    const li = document.createElement("li");
    li.textContent =
      `#${c.cand_id} ${c.kind} ${c.source} ${c.status} ${c.score.toFixed(2)}${verifyText(c, false)}`;
    li.dataset.cand = String(c.cand_id);
    if (c.cand_id === selected) li.className = "sel";
    li.addEventListener("click", () => { selected = c.cand_id; render(); });
    list.appendChild(li);
  }
  $("hint").textContent = draft
    ? "now drag out the width (Esc cancels)"
    : "drag on the background to draw a box: first its long axis, then its width";
}

const current = () => (view ? view.candidates.find((c) => c.cand_id === selected) : undefined);

function pickPending() {
  if (selected !== null && current()) return;
  const next = view.candidates.find((c) => c.status === "pending" && c.source !== "peak")
    || view.candidates.find((c) => c.status === "pending");
  selected = next ? next.cand_id : null;
}

function nextPending() {
  const list = view.candidates, i = list.findIndex((c) => c.cand_id === selected);
  const after = list.slice(i + 1).concat(list.slice(0, i + 1));
  const next = after.find((c) => c.status === "pending" && c.source !== "peak");
  selected = next ? next.cand_id : selected;
}

// ---- actions --------------------------------------------------------------------------
function decide(action, extra) {
  return serial(async () => {
    if (!current()) throw new Error("no box selected: click one first");
    await act(action, Object.assign({ cand: selected }, extra));
    if (action === "accept" || action === "reject") nextPending();
    render();
  });
}

function go(step) {
  return serial(async () => {
    const i = units.findIndex((u) => u.unit_id === unitId);
    const j = Math.min(units.length - 1, Math.max(0, i + step));
    if (j !== i) { selected = null; await showUnit(units[j].unit_id); }
  });
}

function complete() {
  return serial(async () => {
    await act("complete", {});
    const i = units.findIndex((u) => u.unit_id === unitId);
    const rest = units.slice(i + 1).concat(units.slice(0, i));
    const next = rest.find((u) => u.status !== "complete");
    selected = null;
    if (next) await showUnit(next.unit_id); else render();
  });
}

function undo() {
  return serial(async () => {
    const resp = await act("undo", {});
    if (resp.cand_id !== null && resp.cand_id !== undefined) selected = resp.cand_id;
    if (!current()) { selected = null; pickPending(); }
    render();
  });
}

function commitBox(action, extra) {
  return serial(async () => {
    const resp = await act(action, extra);
    if (resp.cand_id !== null && resp.cand_id !== undefined) selected = resp.cand_id;
    render();
  });
}

// ---- pointer: select, move, resize, rotate, draw ----------------------------------------
function onDown(ev) {
  if (!view || ev.button !== 0) return;
  const role = ev.target.dataset ? ev.target.dataset.role : undefined;
  if (overview) {
    if (role === "ov") {
      const id = Number(ev.target.dataset.unit);
      overview = false;
      selected = null;
      serial(() => showUnit(id));
    }
    return;
  }
  const p = toChip(ev);
  $("view").setPointerCapture(ev.pointerId);
  if (draft) { drag = { mode: "width", start: p }; return; }
  if (role === "cand") {
    const id = Number(ev.target.dataset.cand);
    const c = view.candidates.find((x) => x.cand_id === id);
    selected = id;
    if (c.source === "peak" && c.status === "pending") { drag = null; decide("accept"); return; }
    drag = { mode: "move", start: p, orig: c.corners, corners: c.corners };
    render();
  } else if (role === "end" || role === "side" || role === "rot") {
    const c = current();
    drag = { mode: role, start: p, orig: c.corners, corners: c.corners };
  } else {
    drag = { mode: "axis", start: p };
  }
}

function onMove(ev) {
  if (!drag || !view || overview) return;
  const p = toChip(ev);
  if (drag.mode === "axis") {
    draft = null;
    drag.end = p;
    const tmp = { p0: drag.start, p1: p };
    if (norm(sub(p, drag.start)) > 2) { draft = tmp; render(); draft = null; }
    return;
  }
  if (drag.mode === "width") {
    const b = axisBox(draft), d = Math.abs(dot(sub(p, b.c), b.v));
    draft.corners = cornersOf(Object.assign(b, { W: Math.max(1, 2 * d) }));
    render();
    return;
  }
  const b = boxOf(drag.orig);
  if (drag.mode === "move") {
    const d = sub(p, drag.start);
    drag.corners = drag.orig.map((q) => add(q, d));
  } else if (drag.mode === "end") {
    const far = sub(b.c, mul(b.u, b.L / 2));
    const L = Math.max(2, dot(sub(p, far), b.u));
    drag.corners = cornersOf(Object.assign(b, { L, c: add(far, mul(b.u, L / 2)) }));
  } else if (drag.mode === "side") {
    drag.corners = cornersOf(Object.assign(b, { W: Math.max(1, 2 * Math.abs(dot(sub(p, b.c), b.v))) }));
  } else if (drag.mode === "rot") {
    const r = sub(b.c, p), n = norm(r);
    if (n > 0) {
      const v = mul(r, 1 / n);
      drag.corners = cornersOf(Object.assign(b, { v, u: [v[1], -v[0]] }));
    }
  }
  const c = current();
  if (c) { const saved = c.corners; c.corners = drag.corners; render(); c.corners = saved; }
}

function axisBox(d) {
  const dir = sub(d.p1, d.p0), u = mul(dir, 1 / (norm(dir) || 1));
  return { c: mul(add(d.p0, d.p1), 0.5), u, v: [-u[1], u[0]], L: norm(dir), W: 1 };
}

function onUp(ev) {
  if (!drag || !view || overview) return;
  const p = toChip(ev), d = drag;
  drag = null;
  const moved = norm(sub(p, d.start)) > 0.5;
  if (d.mode === "axis") {
    if (norm(sub(p, d.start)) < 3) { selected = null; render(); return; }
    const dir = sub(p, d.start), s = snapLength(norm(dir));
    const p1 = add(d.start, mul(dir, s.L / norm(dir)));
    draft = { p0: d.start, p1, kind: s.kind };
    render();
  } else if (d.mode === "width") {
    const b = axisBox(draft);
    const w = norm(sub(p, d.start)) < 3 ? 0 : 2 * Math.abs(dot(sub(p, b.c), b.v));
    b.W = snapWidth(w);
    const kind = draft.kind;
    draft = null;
    commitBox("add", { kind, chip_corners: cornersOf(b) });
  } else if (moved) {
    commitBox("move", { cand: selected, chip_corners: d.corners });
  } else {
    render();
  }
}

function onKey(ev) {
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (ev.target && (ev.target.tagName === "INPUT" || ev.target.tagName === "TEXTAREA")) return;
  const k = ev.key;
  const known = { a: () => decide("accept"), r: () => decide("reject"),
    1: () => decide("kind", { kind: "20ft" }), 2: () => decide("kind", { kind: "40ft" }),
    n: () => go(1), p: () => go(-1), u: () => undo(), c: () => complete(),
    o: () => toggleOverview(),
    Escape: () => { draft = null; drag = null; render(); },
    Delete: () => deleteDrawn(), Backspace: () => deleteDrawn() };
  if (overview && !["o", "n", "p", "u", "Escape"].includes(k)) return;
  if (k === "Escape" && overview) { toggleOverview(); return; }
  if (known[k]) { ev.preventDefault(); known[k](); }
}

function deleteDrawn() {
  const c = current();
  if (c && c.source === "reviewer") decide("delete");
}

// ---- start ----------------------------------------------------------------------------
async function start() {
  const clean = location.pathname + location.hash;
  if (location.search) history.replaceState(null, "", clean);   // the token leaves the URL bar
  const state = await loadState();
  const m = /unit=(\d+)/.exec(location.hash);
  const wanted = m ? Number(m[1]) : null;
  const id = units.some((u) => u.unit_id === wanted) ? wanted : state.resume;
  if (id === null || id === undefined) { message("this round has no review units"); return; }
  await showUnit(id);
}

window.addEventListener("DOMContentLoaded", () => {
  const svg = $("view");
  svg.addEventListener("pointerdown", onDown);
  svg.addEventListener("pointermove", onMove);
  svg.addEventListener("pointerup", onUp);
  document.addEventListener("keydown", onKey);
  $("b-prev").addEventListener("click", () => go(-1));
  $("b-next").addEventListener("click", () => go(1));
  $("b-accept").addEventListener("click", () => decide("accept"));
  $("b-reject").addEventListener("click", () => decide("reject"));
  $("b-20").addEventListener("click", () => decide("kind", { kind: "20ft" }));
  $("b-40").addEventListener("click", () => decide("kind", { kind: "40ft" }));
  $("b-undo").addEventListener("click", () => undo());
  $("b-complete").addEventListener("click", () => complete());
  $("b-overview").addEventListener("click", () => toggleOverview());
  serial(start);
});
