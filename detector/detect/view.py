"""Shadows seen off nadir: the geometry between the sun, the satellite and a stack.

A point ``h`` metres up is seen ``h * tan(incidence)`` metres from its base, away from the
satellite (``l`` per metre of height); its shadow on the ground lies ``h * cot(elevation)``
from the base, away from the sun (``s``). Seen from the top, the shadow ends at
``h * (s - l)``: the top covers part of its shadow when the satellite is on the sun's side,
and the shaded wall under the top lengthens it when the satellite is opposite. A shadow read
along the anti-sun direction ``u`` from a top is ``h * (s - l) . u`` long, so the heights need
the elevation whose cotangent is that projection (:func:`seen_elevation_deg`), and a sun
found from the shadows (which is ``s - l``) is the sun once ``l`` is added back
(:func:`sun_from_seen`). Azimuths clockwise from north; vectors (east, north).
"""

from __future__ import annotations

import math

from ..imagery.meta import View

__all__ = ["lean_across", "seen_elevation_deg", "sun_from_seen", "view_record"]


def _unit(azimuth_deg: float) -> tuple[float, float]:
    a = math.radians(azimuth_deg)
    return math.sin(a), math.cos(a)


def _lean(view: View) -> tuple[float, float]:
    """``l``: where a top is seen from its base, metres per metre of height."""
    t = math.tan(math.radians(view.incidence_deg))
    e, n = _unit(view.azimuth_deg + 180.0)
    return t * e, t * n


def seen_elevation_deg(elevation_deg: float, azimuth_deg: float, view: View | None) -> float:
    """The elevation that turns a shadow measured from the tops seen, along the anti-sun
    direction of ``azimuth_deg``, into height (``tan(e) = h / length``); the sun's own
    elevation at nadir (``view`` None). 90 when the tops hide their shadows."""
    if view is None:
        return float(elevation_deg)
    ue, un = _unit(azimuth_deg + 180.0)
    le, ln = _lean(view)
    cot = 1.0 / math.tan(math.radians(elevation_deg)) - (le * ue + ln * un)
    return 90.0 if cot <= 1e-6 else math.degrees(math.atan2(1.0, cot))


def sun_from_seen(
    elevation_deg: float, azimuth_deg: float, view: View | None
) -> tuple[float, float]:
    """The sun (elevation, azimuth) whose shadows, seen from the tops off nadir, point along
    the anti-sun direction of ``azimuth_deg`` with ``cot(elevation_deg)`` metres per metre of
    height (what :mod:`detector.detect.sunfit` finds); unchanged at nadir."""
    if view is None or not math.isfinite(elevation_deg):
        return float(elevation_deg), float(azimuth_deg)
    cot = 1.0 / math.tan(math.radians(elevation_deg))
    ue, un = _unit(azimuth_deg + 180.0)
    le, ln = _lean(view)
    se, sn = cot * ue + le, cot * un + ln
    elev = math.degrees(math.atan2(1.0, math.hypot(se, sn)))
    return elev, (math.degrees(math.atan2(se, sn)) + 180.0) % 360.0


def lean_across(view: View | None, sun_azimuth_deg: float | None) -> float:
    """How far a top is seen beside its own shadow, metres per metre of height: the part of
    ``l`` across the anti-sun direction (0 at nadir or with the sun unknown)."""
    if view is None or sun_azimuth_deg is None:
        return 0.0
    ue, un = _unit(sun_azimuth_deg + 180.0)
    le, ln = _lean(view)
    return abs(le * un - ln * ue)


def view_record(view: View | None) -> dict | None:
    """counts.json's ``sun.view``: the satellite's direction used, or None (taken as nadir)."""
    return None if view is None else view.to_dict()
