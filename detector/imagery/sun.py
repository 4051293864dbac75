"""Sun position from time and place.

The Astronomical Almanac's low-precision solar coordinates (as published by the US Naval
Observatory; cf. Michalsky 1988): mean anomaly and mean longitude -> ecliptic longitude ->
right ascension and declination; Greenwich mean sidereal time -> hour angle -> elevation and
azimuth. Good to about 0.01 deg in declination for 1950-2050 (the Spencer/NOAA fractional-year
series is off by up to ~0.3 deg in some years). No atmospheric refraction is applied.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

__all__ = ["sun_position", "solar_declination_deg", "scene_sun"]

_J2000_JD = 2451545.0
_UNIX_EPOCH_JD = 2440587.5


def _days_since_j2000(when_utc: datetime) -> float:
    if when_utc.tzinfo is None:
        when_utc = when_utc.replace(tzinfo=UTC)
    return when_utc.timestamp() / 86400.0 + _UNIX_EPOCH_JD - _J2000_JD


def _ra_dec(d: float) -> tuple[float, float]:
    """Right ascension and declination (radians) ``d`` days after J2000.0."""
    g = math.radians(357.529 + 0.98560028 * d)  # mean anomaly
    q = 280.459 + 0.98564736 * d  # mean longitude, deg
    lam = math.radians(q + 1.915 * math.sin(g) + 0.020 * math.sin(2.0 * g))
    eps = math.radians(23.439 - 0.00000036 * d)  # obliquity of the ecliptic
    ra = math.atan2(math.cos(eps) * math.sin(lam), math.cos(lam))
    dec = math.asin(math.sin(eps) * math.sin(lam))
    return ra, dec


def solar_declination_deg(when_utc: datetime) -> float:
    """The sun's declination in degrees (naive datetimes are taken as UTC)."""
    return math.degrees(_ra_dec(_days_since_j2000(when_utc))[1])


def sun_position(when_utc: datetime, lon: float, lat: float) -> tuple[float, float]:
    """``(elevation_deg, azimuth_deg)`` of the sun seen from (``lon``, ``lat``) degrees.

    ``when_utc``: an aware datetime (any zone) or a naive one taken as UTC. Elevation above
    the horizon (negative at night); azimuth clockwise from north in ``[0, 360)``
    (90 = east, 180 = south).
    """
    if not (-90.0 <= lat <= 90.0 and math.isfinite(lon)):
        raise ValueError(f"lat must be within [-90, 90] and lon finite, got lat={lat}, lon={lon}")
    d = _days_since_j2000(when_utc)
    ra, dec = _ra_dec(d)
    gmst_deg = (18.697374558 + 24.06570982441908 * d) * 15.0
    ha = math.radians((gmst_deg + lon) % 360.0) - ra  # local hour angle
    phi = math.radians(lat)
    sin_el = math.sin(phi) * math.sin(dec) + math.cos(phi) * math.cos(dec) * math.cos(ha)
    elevation = math.degrees(math.asin(max(-1.0, min(1.0, sin_el))))
    az = math.atan2(-math.sin(ha), math.tan(dec) * math.cos(phi) - math.sin(phi) * math.cos(ha))
    return float(elevation), float(math.degrees(az) % 360.0)


def scene_sun(scene) -> tuple[float, float] | None:
    """``(elevation_deg, azimuth_deg)`` over the centre of a scene's footprint at its
    acquisition time (``scene.acquired``, ``scene.footprint`` lon/lat); None if either is
    unknown."""
    if scene.acquired is None or scene.footprint is None or scene.footprint.is_empty:
        return None
    c = scene.footprint.centroid
    return sun_position(scene.acquired, c.x, c.y)
