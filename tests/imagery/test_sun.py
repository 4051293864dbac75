"""sun_position against values fixed by geometry and an independent formula (NOAA/Spencer)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from detector.imagery.sun import solar_declination_deg, sun_position

TILT = 23.44  # obliquity of the ecliptic, degrees

# equinox and solstice instants (UTC, to the minute) from the USNO/IMCCE tables
EQUINOXES = [datetime(2023, 9, 23, 6, 50, tzinfo=UTC), datetime(2024, 3, 20, 3, 6, tzinfo=UTC)]
SOLSTICES = [(datetime(2024, 6, 20, 20, 51, tzinfo=UTC), TILT),
             (datetime(2023, 12, 22, 3, 27, tzinfo=UTC), -TILT)]  # fmt: skip


def _max_elevation_over_lon(when, lat):
    return max(sun_position(when, float(lon), lat)[0] for lon in np.arange(-180, 180, 0.05))


@pytest.mark.parametrize("when", EQUINOXES)
def test_equinox_sun_overhead_at_equator(when):
    assert solar_declination_deg(when) == pytest.approx(0.0, abs=0.02)
    assert _max_elevation_over_lon(when, 0.0) == pytest.approx(90.0, abs=0.05)
    assert _max_elevation_over_lon(when, 42.25) == pytest.approx(90.0 - 42.25, abs=0.05)


@pytest.mark.parametrize(("when", "decl"), SOLSTICES)
def test_solstice_sun_overhead_at_tropic(when, decl):
    assert solar_declination_deg(when) == pytest.approx(decl, abs=0.02)
    assert _max_elevation_over_lon(when, decl) == pytest.approx(90.0, abs=0.05)
    assert _max_elevation_over_lon(when, 0.0) == pytest.approx(90.0 - TILT, abs=0.05)


def test_noon_azimuth_south_of_rajin():
    # near solar noon at Rajin (lon 130.28 E: ~03:20 UTC) the sun is due south
    when = min(
        (datetime(2023, 9, 2, 3, tzinfo=UTC) + timedelta(minutes=m) for m in range(60)),
        key=lambda w: -sun_position(w, 130.28, 42.25)[0],
    )
    el, az = sun_position(when, 130.28, 42.25)
    assert az == pytest.approx(180.0, abs=1.0)
    assert el == pytest.approx(90.0 - 42.25 + solar_declination_deg(when), abs=0.05)


def _noaa_spencer(when: datetime, lon: float, lat: float) -> tuple[float, float]:
    """Independent reference: NOAA 'General Solar Position Calculations' (Spencer series)."""
    t = when.astimezone(UTC)
    hours = t.hour + t.minute / 60 + t.second / 3600
    days = 366 if t.year % 4 == 0 else 365
    g = 2 * math.pi / days * (t.timetuple().tm_yday - 1 + (hours - 12) / 24)
    eqt = 229.18 * (0.000075 + 0.001868 * math.cos(g) - 0.032077 * math.sin(g)
                    - 0.014615 * math.cos(2 * g) - 0.040849 * math.sin(2 * g))  # fmt: skip
    dec = (0.006918 - 0.399912 * math.cos(g) + 0.070257 * math.sin(g)
           - 0.006758 * math.cos(2 * g) + 0.000907 * math.sin(2 * g)
           - 0.002697 * math.cos(3 * g) + 0.00148 * math.sin(3 * g))  # fmt: skip
    ha = math.radians((hours * 60 + eqt + 4 * lon) / 4 - 180)
    phi = math.radians(lat)
    cz = math.sin(phi) * math.sin(dec) + math.cos(phi) * math.cos(dec) * math.cos(ha)
    el = 90 - math.degrees(math.acos(max(-1.0, min(1.0, cz))))
    az = math.atan2(math.sin(ha), math.cos(ha) * math.sin(phi) - math.tan(dec) * math.cos(phi))
    return el, (math.degrees(az) + 180) % 360


@pytest.mark.parametrize(
    ("lon", "lat"), [(130.28, 42.25), (133.07, 42.73), (0.0, 51.48), (-70.0, -33.0)]
)
def test_agrees_with_noaa_spencer_within_half_a_degree(lon, lat):
    start = datetime(2023, 9, 1, tzinfo=UTC)
    for k in range(600):
        when = start + timedelta(hours=13.37 * k)  # ~11 months, all hours of the day
        el, az = sun_position(when, lon, lat)
        ref_el, ref_az = _noaa_spencer(when, lon, lat)
        assert el == pytest.approx(ref_el, abs=0.5), when
        if 5.0 < ref_el < 80.0:
            assert (az - ref_az + 180.0) % 360.0 - 180.0 == pytest.approx(0.0, abs=1.0), when


def test_morning_east_afternoon_west_night_negative():
    day = datetime(2023, 9, 2, tzinfo=UTC)
    # Rajin is UTC+9: 08:00 local = 23:00 UTC the day before; 16:00 local = 07:00 UTC
    el_m, az_m = sun_position(day - timedelta(hours=1), 130.28, 42.25)
    el_a, az_a = sun_position(day + timedelta(hours=7), 130.28, 42.25)
    el_n, _ = sun_position(day + timedelta(hours=15), 130.28, 42.25)  # midnight local
    assert 0 < el_m < 60 and 60 < az_m < 140
    assert 0 < el_a < 60 and 220 < az_a < 300
    assert el_n < -20


def test_timezone_aware_and_naive_agree():
    kst = timezone(timedelta(hours=9))
    a = sun_position(datetime(2023, 9, 2, 11, 12, tzinfo=kst), 130.28, 42.25)
    b = sun_position(datetime(2023, 9, 2, 2, 12), 130.28, 42.25)
    assert a == pytest.approx(b)


def test_bad_latitude():
    with pytest.raises(ValueError):
        sun_position(datetime(2024, 1, 1, tzinfo=UTC), 0.0, 95.0)
