"""Scene metadata helpers: acquisition time, ground sample distance, lon/lat footprint.

Pure functions of tags, names, CRS and transforms; no file I/O.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import shapely
from affine import Affine
from pyproj import CRS, Geod, Transformer
from shapely.geometry import Polygon

__all__ = [
    "View",
    "acquisition_time",
    "footprint_lonlat",
    "gsd_of",
    "parse_time_tag",
    "time_from_name",
    "view_geometry",
]

log = logging.getLogger(__name__)

# tags holding the acquisition time, most specific first (TIFFTAG_DATETIME is the TIFF
# "image creation" time: used only when nothing better exists).
ACQ_TAGS = ("ACQUISITION_DATETIME", "ACQUISITION_TIME", "ACQUISITIONDATETIME", "ACQUIRED")

_NAME_PATTERNS = (
    # 20230902T0212Z, 20230902T021230, 20230902_0212
    re.compile(
        r"(?<!\d)(?P<Y>\d{4})(?P<m>\d{2})(?P<d>\d{2})[T_](?P<H>\d{2})(?P<M>\d{2})(?P<S>\d{2})?(?!\d)"
    ),
    # 2023-09-02T02-12, 2023-09-02T02:12:30, 2023-09-02_02-12
    re.compile(
        r"(?<!\d)(?P<Y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})[T_](?P<H>\d{2})[-:](?P<M>\d{2})"
        r"(?:[-:](?P<S>\d{2}))?(?!\d)"
    ),
)


def parse_time_tag(value: str) -> datetime | None:
    """A UTC-aware datetime from ``YYYY:MM:DD HH:MM:SS`` or ISO 8601 text; None if unparsable.

    Naive times are taken as UTC; aware ones are converted to UTC.
    """
    text = str(value).strip()
    if not text:
        return None
    m = re.fullmatch(r"(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})", text)
    if m:
        text = "{}-{}-{}T{}:{}:{}".format(*m.groups())
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def time_from_name(name: str) -> datetime | None:
    """Acquisition time (UTC) written in a file name, e.g. ``rajin_20230902T0212Z.tif``."""
    for pat in _NAME_PATTERNS:
        for m in pat.finditer(name):
            g = m.groupdict()
            try:
                return datetime(
                    int(g["Y"]), int(g["m"]), int(g["d"]), int(g["H"]), int(g["M"]),
                    int(g["S"] or 0), tzinfo=UTC,
                )  # fmt: skip
            except ValueError:
                continue
    return None


def acquisition_time(
    tags: Mapping[str, str], name: str, imagery: Mapping[str, str] | None = None
) -> datetime | None:
    """Acquisition time from tags (``ACQUISITION_DATETIME``/``ACQUISITION_TIME`` ISO, GDAL
    ``IMAGERY`` domain), else the file name, else ``TIFFTAG_DATETIME``; None if none parse."""
    upper = {k.upper(): v for k, v in tags.items()}
    for key in ACQ_TAGS:
        if key in upper and (dt := parse_time_tag(upper[key])) is not None:
            return dt
        if key in upper:
            log.warning("%s: cannot parse tag %s=%r as a time", name, key, upper[key])
    for v in (imagery or {}).values():
        if (dt := parse_time_tag(v)) is not None:
            return dt
    if (dt := time_from_name(name)) is not None:
        return dt
    if "TIFFTAG_DATETIME" in upper:
        return parse_time_tag(upper["TIFFTAG_DATETIME"])
    return None


@dataclass(frozen=True)
class View:
    """Where the satellite was, seen from the scene: ``incidence_deg`` the angle between the
    line of sight and the vertical at the ground (0 = straight down), ``azimuth_deg`` the
    direction from the scene to the satellite, clockwise from north; ``source`` the tags they
    came from. A point ``h`` metres up is seen ``h * tan(incidence)`` metres from its base,
    away from the satellite."""

    incidence_deg: float
    azimuth_deg: float
    source: str

    def to_dict(self) -> dict:
        """The record counts.json (``sun.view``) and ``ccount info --json`` write."""
        return {"incidence_deg": round(self.incidence_deg, 2),
                "azimuth_deg": round(self.azimuth_deg, 2), "source": self.source}  # fmt: skip


# normalised keys (upper case, letters and digits only, the last dotted part: GDAL's IMD
# domain names Maxar's ``IMAGE_1.meanSatAz``) naming the satellite's elevation seen from the
# ground (Maxar meanSatEl), the incidence at the ground (Airbus INCIDENCE_ANGLE), the
# off-nadir angle at the satellite (Maxar meanOffNadirViewAngle, Planet view_angle: a few %
# under the incidence from a 500-700 km orbit; used only when neither of the others is
# there) and the satellite's azimuth (Maxar meanSatAz, Planet satellite_azimuth)
_SAT_EL_KEYS = ("MEANSATEL", "SATELEL", "SATELLITEELEVATION", "SATELLITEELEVATIONDEG")
_INCIDENCE_KEYS = ("INCIDENCEANGLE", "MEANINCIDENCEANGLE", "INCIDENCEDEG")
_OFF_NADIR_KEYS = ("MEANOFFNADIRVIEWANGLE", "OFFNADIRVIEWANGLE", "OFFNADIR", "OFFNADIRDEG",
                   "OFFNADIRANGLE", "VIEWANGLE", "VIEWINGANGLE")  # fmt: skip
_SAT_AZ_KEYS = ("MEANSATAZ", "SATAZ", "SATELLITEAZIMUTH", "SATELLITEAZIMUTHDEG", "VIEWAZIMUTH")


def _norm_key(key: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", str(key).rsplit(".", 1)[-1].upper())


def view_geometry(
    tags: Mapping[str, str], name: str = "", more: Mapping[str, str] | None = None
) -> View | None:
    """The viewing geometry from a product's tags (and ``more``, e.g. GDAL's ``IMD`` domain);
    None unless both an angle and the satellite's azimuth are there and make sense (incidence
    0-60 deg). The incidence comes from the satellite's elevation, else the incidence angle,
    else the off-nadir view angle."""
    found: dict[str, tuple[float, str]] = {}
    for key, value in [*(more or {}).items(), *tags.items()]:  # the file's own tags win
        k = _norm_key(key)
        try:
            v = float(str(value).strip().strip('"').rstrip(";"))
        except ValueError:
            continue
        if math.isfinite(v):
            found[k] = (v, str(key))

    def first(keys):
        return next((found[k] for k in keys if k in found), None)

    az = first(_SAT_AZ_KEYS)
    angle = None
    if (el := first(_SAT_EL_KEYS)) is not None:
        angle = (90.0 - el[0], el[1])
    else:
        angle = first(_INCIDENCE_KEYS) or first(_OFF_NADIR_KEYS)
    if az is None or angle is None:
        return None
    if not 0.0 <= angle[0] <= 60.0:
        log.warning("%s: ignoring view angle %s=%.1f deg (expected 0-60 from nadir)",
                    name, angle[1], angle[0])  # fmt: skip
        return None
    return View(float(angle[0]), float(az[0]) % 360.0, f"{angle[1]}, {az[1]}")


def _ground_gsd(crs: CRS, transform: Affine, width: int, height: int) -> float:
    """The centre pixel's two sides measured on the WGS84 ellipsoid (geometric mean, m)."""
    pts = [transform @ (width / 2.0 + dx, height / 2.0 + dy) for dx, dy in ((0, 0), (1, 0), (0, 1))]
    tr = Transformer.from_crs(crs, 4326, always_xy=True)
    (lon0, lon1, lon2), (lat0, lat1, lat2) = tr.transform(*zip(*pts, strict=True))
    geod = Geod(ellps="WGS84")
    dx = geod.inv(lon0, lat0, lon1, lat1)[2]
    dy = geod.inv(lon0, lat0, lon2, lat2)[2]
    return float(math.sqrt(abs(dx * dy)))


def gsd_of(crs: CRS, transform: Affine, width: int, height: int) -> float:
    """Ground sample distance in metres: geometric mean of the pixel's two side lengths.

    Projected CRS: the pixel size times the CRS linear unit (metres, US feet...), unless the
    projection's scale at the scene centre is off by more than 2 % (e.g. Web Mercator away
    from the equator): then, as for a geographic CRS, the centre pixel's sides measured on
    the WGS84 ellipsoid.
    """
    ground = _ground_gsd(crs, transform, width, height)
    if crs.is_geographic:
        return ground
    axes = getattr(crs, "axis_info", None) or []
    unit = float(axes[0].unit_conversion_factor) if axes else 1.0
    nominal = math.sqrt(abs(transform.a * transform.e - transform.b * transform.d)) * unit
    if math.isfinite(ground) and abs(nominal - ground) > 0.02 * ground:
        log.info(
            "pixel size %.4f CRS units is %.4f m on the ground; using the latter", nominal, ground
        )
        return ground
    return float(nominal)


def footprint_lonlat(crs: CRS, transform: Affine, width: int, height: int) -> Polygon:
    """The raster's outline in lon/lat (EPSG:4326, x = lon), edges densified to 32 points."""
    corners = [transform @ xy for xy in ((0, 0), (width, 0), (width, height), (0, height))]
    poly = Polygon(corners)
    side = max(poly.length / 128.0, 1e-9)
    poly = poly.segmentize(side)
    if CRS.from_user_input(crs) == CRS.from_epsg(4326):
        return poly
    tr = Transformer.from_crs(crs, 4326, always_xy=True)
    return shapely.transform(poly, lambda x, y: tr.transform(x, y), interleaved=False)
