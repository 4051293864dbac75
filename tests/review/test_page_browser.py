"""The review page in a real browser: Playwright driving Debian's Chromium (``.ci/run``
installs it with apt-get when missing; Playwright's own browser download is never used)
against a real ``ccount review serve`` subprocess."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest

from detector.review.round import Round

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"),
    reason="needs Debian's chromium (.ci/run installs it; under CI a missing one fails)",
)


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield b
        finally:
            b.close()


def settled(page, actions: int) -> None:
    """Wait until the page has no request in flight and the journal holds ``actions``."""
    page.wait_for_function(
        "(n) => document.body.dataset.busy === '0' && document.body.dataset.actions === n",
        arg=str(actions),
        timeout=15000,
    )


def screen(page, x: float, y: float) -> tuple[float, float]:
    """Chip pixel (x, y) -> page coordinates of the SVG."""
    return tuple(
        page.evaluate(
            "([x, y]) => { const m = document.getElementById('view').getScreenCTM();"
            " const p = new DOMPoint(x, y).matrixTransform(m); return [p.x, p.y]; }",
            [x, y],
        )
    )


def drag(page, a, b) -> None:
    page.mouse.move(*screen(page, *a))
    page.mouse.down()
    page.mouse.move(*screen(page, *b), steps=6)
    page.mouse.up()


def test_review_in_chromium(page_server, browser, tmp_path):
    rnd, url, _ = page_server
    original = dict(rnd.candidates)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    settled(page, 0)
    assert "token=" not in page.url  # the token left the address bar
    info = page.locator("#unitinfo")
    assert info.text_content().startswith("unit 0 (1 of 3) · scene port<1> · train")
    assert "port&lt;1&gt;" in info.inner_html()  # the scene id is text, not markup
    assert page.locator("polygon.cand").count() == 3
    assert page.locator("polygon.cand.peak").count() == 1
    assert page.locator("polygon.neighbour").count() == 1  # unit 1's box near the edge
    # the verifier's probability beside the box it looked at, and in its tooltip
    assert page.locator('#cands li[data-cand="1"]').text_content() == (
        "#1 40ft model pending 0.41 · verifier 0.47"
    )
    assert page.locator('#cands li[data-cand="0"]').text_content() == "#0 20ft model pending 0.55"
    assert page.locator('polygon[data-cand="1"] title').text_content() == (
        "#1 40ft model pending score 0.41, verifier 0.47 (accepts from 0.36) (kind_margin)"
    )

    page.keyboard.press("a")  # accept the selected box (0)
    settled(page, 1)
    page.keyboard.press("r")  # the selection moved on to box 1: reject it
    settled(page, 2)
    page.click('polygon[data-cand="0"]')  # select box 0 again
    page.keyboard.press("2")  # 40 ft
    settled(page, 3)
    assert page.locator('polygon[data-cand="0"]').get_attribute("class").split()[3] == "k40"
    page.keyboard.press("u")  # undo: back to 20 ft
    settled(page, 4)
    page.click('polygon[data-cand="2"]')  # a faint below-threshold peak: one click accepts
    settled(page, 5)

    # a new box in two drags: the long axis (11 m: snaps to 40 ft), then the width (2.5 m)
    drag(page, (90, 36), (112, 36))
    assert page.locator("#hint").text_content().startswith("now drag out the width")
    drag(page, (101, 36), (101, 38.5))
    settled(page, 6)
    assert page.locator("polygon.cand.added").count() == 1
    drag(page, (102, 36), (106, 36))  # move the new box 4 px (2 m) east
    settled(page, 7)
    # rotate it a quarter turn: its square handle (above the centre) dragged to the right
    rot = page.locator("rect.handle.rot").bounding_box()
    page.mouse.move(rot["x"] + rot["width"] / 2, rot["y"] + rot["height"] / 2)
    page.mouse.down()
    page.mouse.move(*screen(page, 116.19, 36), steps=6)
    page.mouse.up()
    settled(page, 8)
    # lengthen it by 4 px (2 m) with its end handle (now at the south end)
    end = page.locator("circle.handle.end").bounding_box()
    ex, ey = end["x"] + end["width"] / 2, end["y"] + end["height"] / 2
    page.mouse.move(ex, ey)
    page.mouse.down()
    page.mouse.move(ex, ey + 4 * (screen(page, 0, 1)[1] - screen(page, 0, 0)[1]), steps=6)
    page.mouse.up()
    settled(page, 9)
    page.keyboard.press("c")  # unit complete: on to the next unit
    settled(page, 10)
    assert info.text_content().startswith("unit 1 (2 of 3)")
    progress = page.locator("#progress").text_content()
    assert progress.startswith("reviewed 3/6 · units 1/3 complete · changed 75% · ")
    assert re.search(r"· \d+(\.\d+)? s/decision · added 1$", progress), progress

    # the journal: every action, by the browser, timed
    journal = rnd.journal()
    assert [(e["action"], e["cand"]) for e in journal] == [
        ("accept", 0), ("reject", 1), ("kind", 0), ("undo", 0), ("accept", 2),
        ("add", 5), ("move", 5), ("move", 5), ("move", 5), ("complete", None),
    ]  # fmt: skip
    assert {e["by"] for e in journal} == {"browser"}
    assert all(e["seconds"] is not None and e["seconds"] >= 0 for e in journal)

    # the round on disk
    back = Round.open(rnd.path)
    c = back.candidates
    assert (c[0].status, c[0].kind, c[0].corners) == ("accepted", "20ft", original[0].corners)
    assert (c[1].status, c[2].status, c[2].source) == ("rejected", "accepted", "peak")
    assert (c[5].status, c[5].source, c[5].kind, c[5].unit_id) == ("added", "reviewer", "40ft", 0)
    # drawn 12.19 m x 2.44 m (snapped: 40 ft) along x, moved 2 m east, turned to run
    # north-south about its centre, then its south end pulled 2 m further south
    drawn = [e["after"]["corners"] for e in journal if e["action"] in ("add", "move")]
    sides = np.hypot(*(np.roll(drawn[0], -1, axis=0) - np.array(drawn[0])).T)
    assert sorted(sides.round(2).tolist()) == [2.44, 2.44, 12.19, 12.19]
    gsd = back.chips[0].gsd_m
    [[ex, ey]] = back.chip_to_crs(0, (90 + 12.19 / gsd / 2 + 4, 36)).tolist()
    pts = np.array(c[5].corners)
    (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
    assert abs(x1 - x0 - 2.44) < 0.1 and abs(y1 - y0 - 14.19) < 0.3  # north-south now
    assert abs((x0 + x1) / 2 - ex) < 0.3 and abs(y1 - (ey + 12.19 / 2)) < 0.3  # north end kept
    assert [back.units[i].status for i in (0, 1, 2)] == ["complete", "pending", "pending"]
    assert c[3] == original[3] and c[4] == original[4]

    # reload: the same unit; a fresh page at the bare URL resumes where the reviewer was
    page.reload()
    settled(page, 10)
    assert info.text_content().startswith("unit 1 (2 of 3)")
    bare = f"{urlsplit(url).scheme}://{urlsplit(url).netloc}/"
    fresh = context.new_page()
    fresh.goto(bare)  # the cookie set by the first visit carries the token
    settled(fresh, 10)
    assert fresh.locator("#unitinfo").text_content().startswith("unit 1 (2 of 3)")
    fresh.keyboard.press("p")  # back to unit 0: the drawn box is there
    fresh.wait_for_function(
        "() => document.getElementById('unitinfo').textContent.startsWith('unit 0')"
    )
    assert fresh.locator("polygon.cand.added").count() == 1
    assert fresh.locator("polygon.cand.rejected").count() == 1
    # the scene overview: every unit's chip where it lies, the complete one marked
    fresh.keyboard.press("o")
    assert fresh.locator("rect.ov").count() == 3
    assert fresh.locator("rect.ov.complete").count() == 1
    assert fresh.locator("rect.ov.cur").get_attribute("data-unit") == "0"
    fresh.locator('rect.ov[data-unit="2"]').click()
    fresh.wait_for_function(
        "() => document.getElementById('unitinfo').textContent.startsWith('unit 2')"
    )
    assert fresh.locator("polygon.cand").count() == 1
    assert errors == []

    # the reviewed unit as labels: what the reviewer accepted, fixed and drew; no hold-out
    from detector.cli.main import main

    assert main(["review", "labels", str(rnd.path), "--out", str(tmp_path / "labels")]) == 0
    labels = json.loads((tmp_path / "labels" / "port_1_.geojson").read_text())  # safe_name
    got = {f["properties"]["cand"]: f["properties"]["kind"] for f in labels["features"]}
    assert got == {0: "20ft", 2: "20ft", 5: "40ft"}
    assert labels["properties"]["reviewed_units"] == [0]
