"""A small review round built directly with ``Round.create`` (no model): the page and the
server tests open it."""

from __future__ import annotations

import numpy as np
import pytest

PAGE_CRS = "EPSG:32652"
PAGE_GSD = 0.5
X0, Y0 = 605000.0, 4678600.0  # upper-left corner of the scene (UTM 52N)
UNIT_M = 64.0  # each unit is a 64 m square: 128 px at 0.5 m
MARGIN_PX = 16  # chips show this much around their unit


def box(cx, cy, length_m=6.06, width_m=2.44, angle_deg=0.0):
    """The 4 CRS corners of a rotated box centred on (cx, cy)."""
    a = np.deg2rad(angle_deg)
    u = np.array([np.cos(a), np.sin(a)])
    v = np.array([-u[1], u[0]])
    c = np.array([cx, cy])
    hl, hw = u * length_m / 2, v * width_m / 2
    pts = [c - hl - hw, c + hl - hw, c + hl + hw, c - hl + hw]
    return tuple((float(x), float(y)) for x, y in pts)


def _chip_image(rnd_units, unit_id, size_px, seed):
    rng = np.random.default_rng(seed)
    img = np.full((size_px, size_px, 3), 70, dtype=np.uint8)
    img += rng.integers(0, 20, size=img.shape, dtype=np.uint8)
    return img


@pytest.fixture
def page_round(tmp_path):
    """The round of :func:`build_page_round` in ``tmp_path/round``."""
    return build_page_round(tmp_path / "round")


def build_page_round(path):
    """A round of 3 units side by side along x (priorities 0.9, 0.5, 0.1; unit 2 is
    hold-out) of a run made with ``--verify`` (threshold 0.36) with candidates: unit 0 holds a
    20 ft model box (id 0), a 40 ft model box at 30 degrees (id 1, verifier probability 0.47)
    and a below-threshold peak (id 2); unit 1 holds a model box near its
    west edge (id 3, a neighbour seen on unit 0's chip); unit 2 holds one model box (id 4)."""
    from detector.review.round import Candidate, Chip, Manifest, Round, Unit

    manifest = Manifest(
        model="models/ccount-centernet.pt", model_sha256="ab" * 32, threshold=0.35,
        strategy="mix", seed=1, budget=6, holdout_share=0.3, detect_dir="det",
        scenes={"port<1>": {"path": "port.tif", "crs": PAGE_CRS, "gsd_m": PAGE_GSD,
                            "transform": [PAGE_GSD, 0, X0, 0, -PAGE_GSD, Y0]}},
        verify={"verifier": "v.pt", "verifier_sha256": "cd" * 32, "verify_thresh": 0.36},
    )  # fmt: skip
    side = int(UNIT_M / PAGE_GSD) + 2 * MARGIN_PX
    units, chips = [], []
    for i, (prio, split) in enumerate([(0.9, "train"), (0.5, "train"), (0.1, "holdout")]):
        ux0 = X0 + UNIT_M * i
        uy1 = Y0 - 10.0
        units.append(Unit(i, "port<1>", split, "pending", prio, "near_threshold",
                          (ux0, uy1 - UNIT_M, ux0 + UNIT_M, uy1)))  # fmt: skip
        cx0 = ux0 - MARGIN_PX * PAGE_GSD
        cy0 = uy1 + MARGIN_PX * PAGE_GSD
        col_off = int(round((cx0 - X0) / PAGE_GSD))
        row_off = int(round((Y0 - cy0) / PAGE_GSD))
        chip = Chip(i, "port<1>", (col_off, row_off, side, side),
                    (PAGE_GSD, 0.0, cx0, 0.0, -PAGE_GSD, cy0), PAGE_GSD, (side, side))  # fmt: skip
        chips.append((chip, _chip_image(units, i, side, i)))
    yc = Y0 - 10.0 - UNIT_M / 2
    cands = [
        Candidate(0, 0, "port<1>", "20ft", 0.55, "near_threshold", "model", "pending",
                  box(X0 + 16, yc + 12)),
        Candidate(1, 0, "port<1>", "40ft", 0.41, "kind_margin", "model", "pending",
                  box(X0 + 40, yc - 10, 12.19, angle_deg=30.0), verify=0.47),
        Candidate(2, 0, "port<1>", "20ft", 0.22, "below_peak", "peak", "pending",
                  box(X0 + 20, yc - 20)),
        Candidate(3, 1, "port<1>", "20ft", 0.61, "near_threshold", "model", "pending",
                  box(X0 + UNIT_M + 4, yc)),
        Candidate(4, 2, "port<1>", "20ft", 0.8, "random", "model", "pending",
                  box(X0 + 2 * UNIT_M + 30, yc)),
    ]  # fmt: skip
    return Round.create(path, manifest, cands, units, chips)


def start_server(round_path, *args: str):
    """Start ``python -m detector review serve ROUND ARGS`` in a subprocess; return the
    process and the URL it printed."""
    import subprocess
    import sys
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "detector", "review", "serve", str(round_path), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("http://"):
            return proc, line.strip()
    proc.kill()
    raise AssertionError(f"no URL printed; stderr: {proc.stderr.read()}")


def stop_server(proc) -> tuple[int, str]:
    """Ctrl-C the server; its exit code and stderr."""
    import signal
    import subprocess

    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return proc.returncode, err


@pytest.fixture(scope="module")
def read_only_server(tmp_path_factory):
    """One server of a fresh :func:`build_page_round` shared by a module's tests that do
    not change the round: (round, url with token, process)."""
    rnd = build_page_round(tmp_path_factory.mktemp("served") / "round")
    proc, url = start_server(rnd.path)
    yield rnd, url, proc
    stop_server(proc)


@pytest.fixture
def page_server(page_round):
    """``page_round`` served by a real ``ccount review serve`` subprocess:
    (round, url with token, process); stopped with Ctrl-C afterwards."""
    proc, url = start_server(page_round.path)
    yield page_round, url, proc
    stop_server(proc)
