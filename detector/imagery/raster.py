"""Scene reading: open and validate a GeoTIFF, read model-frame tiles, write GeoTIFFs.

The only module that opens raster files. :func:`open_scene` validates a file and describes it
(:class:`Scene`: CRS, GSD, bands, mask, acquisition time, port, intensity stretch).
:class:`SceneReader` reads windows of the *model frame*: the scene resampled to
``target_gsd_m`` (default :data:`CANONICAL_GSD_M`), reprojected to the local UTM zone when
the scene's CRS is geographic. Reads are windowed (``out_shape`` resampling, overviews used by
GDAL when downsampling): a whole scene is never decoded at full resolution.

Pixel convention: model-frame pixel (row r, col c) covers ``[c, c+1) x [r, r+1)``;
``grid.transform @ (x, y)`` maps pixel coordinates to map coordinates in ``grid.crs``.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
from affine import Affine
from shapely.geometry import Polygon

from ..errors import ConfigError, SceneFormatError, SceneReadError
from .aoi import port_of, resolve_port
from .geotiff import write_geotiff
from .meta import acquisition_time, footprint_lonlat, gsd_of
from .reader import SceneReader, rasterize_aoi
from .scene import (
    CANONICAL_GSD_M,
    MAX_PIXELS,
    MAX_SIDE_PX,
    Grid,
    Scene,
    SceneNoCRSError,
    TileImage,
    _colorinterp_names,
    _mask_kind,
    _quiet,
    _read_valid,
    _sample_shape,
    _select_bands,
    _short,
    utm_epsg,
)
from .stretch import Stretch, apply_stretch, compute_stretch

__all__ = [
    "CANONICAL_GSD_M",
    "MAX_SIDE_PX",
    "MAX_PIXELS",
    "Grid",
    "Scene",
    "SceneReader",
    "Stretch",
    "TileImage",
    "apply_stretch",
    "compute_stretch",
    "open_scene",
    "rasterize_aoi",
    "utm_epsg",
    "write_geotiff",
]

log = logging.getLogger(__name__)


def open_scene(path, *, bands=None, gsd_m: float | None = None) -> Scene:
    """Open, validate and describe a scene file; the file is closed again on return.

    ``bands``: 1-based band selection (1 or 3 bands); default: the bands whose colour
    interpretation is red, green, blue, else bands 1, 2, 3, else band 1 (a 1-band scene is
    repeated to 3 channels on read). ``gsd_m``: for files without a CRS, the pixel size in
    metres (the pixel grid is then local metres; footprint empty; port unknown); ignored
    (with a warning) for georeferenced files.

    Checks that the last block is readable (truncated files fail here), that some pixel is
    valid, and computes the per-band 2/98 % :class:`Stretch` once, from a sample of at most
    ~1024 px a side: ``out_shape`` nearest reads, for which GDAL uses the overview closest
    to that size when there are overviews, and otherwise decodes only the blocks/strips that
    hold sampled rows (a strided row sample for striped files).

    Raises :class:`SceneReadError` (missing, not a raster, truncated, unreadable) or
    :class:`SceneFormatError` (no CRS, zero bands, bad band selection, absurd size, all
    nodata); each message is one line starting with the file name.
    """
    import rasterio
    from rasterio.errors import RasterioError

    path = Path(path)
    if not path.exists():
        raise SceneReadError(f"{path}: file not found")
    if path.is_dir():
        raise SceneReadError(f"{path}: is a directory, not a raster file")
    with _quiet():
        try:
            ds = rasterio.open(path)
        except RasterioError as e:
            raise SceneReadError(f"{path}: not a readable raster ({_short(e)})") from None
        with ds:
            try:
                return _describe(path, ds, bands, gsd_m)
            except RasterioError as e:
                raise SceneReadError(f"{path}: unreadable or corrupt ({_short(e)})") from None


def _tagged_port(path: Path, tags) -> str | None:
    """The port named by the ``PORT`` (or ``CCOUNT_PORT``) tag, looked up by name in the AOI
    registry (case-insensitive; never used as a path); None without a tag, or with a warning
    for a name the registry lacks (the port then comes from the footprint)."""
    tag = tags.get("PORT") or tags.get("CCOUNT_PORT")
    if not tag:
        return None
    port = resolve_port(tag)
    if port is None:
        log.warning("%s: PORT tag %r is not a known port; finding it from the footprint", path,
                    " ".join(str(tag).split())[:80])  # fmt: skip
    return port


def _describe(path: Path, ds, bands, gsd_m: float | None) -> Scene:
    from pyproj import CRS as PCRS
    from rasterio.enums import Resampling
    from rasterio.errors import RasterioError
    from rasterio.windows import Window

    if ds.count < 1:
        subs = list(ds.subdatasets)
        hint = f" (it holds {len(subs)} subdatasets, e.g. {subs[0]}; open one)" if subs else ""
        raise SceneFormatError(f"{path}: has no raster bands{hint}")
    w, h = ds.width, ds.height
    if w < 1 or h < 1 or max(w, h) > MAX_SIDE_PX or float(w) * float(h) > MAX_PIXELS:
        raise SceneFormatError(
            f"{path}: declared size {w} x {h} px is absurd (limit {MAX_SIDE_PX:,} px a side, "
            f"{MAX_PIXELS:.0e} px); the header is corrupt"
        )
    sel = _select_bands(path, ds, bands)
    kind, alpha_band = _mask_kind(ds)
    tags = ds.tags()
    if ds.crs is None or not ds.crs.to_wkt():
        if gsd_m is None:
            raise SceneNoCRSError(
                f"{path}: has no CRS (not georeferenced); pass --gsd METRES to read its pixel "
                "grid as local metres"
            )
        if not (math.isfinite(gsd_m) and gsd_m > 0):
            raise ConfigError(f"{path}: --gsd must be a positive number of metres, got {gsd_m}")
        crs, epsg, transform, gsd = None, None, Affine(gsd_m, 0, 0, 0, -gsd_m, 0), float(gsd_m)
        footprint, port = Polygon(), None
    else:
        crs, transform = ds.crs, ds.transform
        epsg = crs.to_epsg()
        pcrs = PCRS.from_user_input(crs)
        gsd = gsd_of(pcrs, transform, w, h)
        if not (math.isfinite(gsd) and gsd > 0):
            raise SceneFormatError(f"{path}: pixel size {gsd} m from its transform is not positive")
        if gsd_m is not None and abs(gsd_m - gsd) > 0.01 * gsd:
            log.warning("%s: ignoring gsd_m=%s; the file's CRS gives %.3f m", path, gsd_m, gsd)
        footprint = footprint_lonlat(pcrs, transform, w, h)
        port = _tagged_port(path, tags) or port_of(footprint)
    # readable to its end: the bottom-right block of every band
    bh, bw = ds.block_shapes[0]
    last = Window(((w - 1) // bw) * bw, ((h - 1) // bh) * bh, 0, 0)
    last = Window(last.col_off, last.row_off, w - last.col_off, h - last.row_off)
    try:
        ds.read(window=last)
    except RasterioError as e:
        raise SceneReadError(
            f"{path}: truncated or corrupt (cannot read its last block: {_short(e)})"
        ) from None
    # one decimated sample for the stretch and the coarse mask
    sh, sw = _sample_shape(h, w)
    uniq = list(dict.fromkeys(sel))
    sample = ds.read(uniq, out_shape=(len(uniq), sh, sw), resampling=Resampling.nearest)
    valid = _read_valid(ds, kind, sel, out_shape=(sh, sw))
    if sample.dtype.kind == "f":
        valid &= np.isfinite(sample).all(axis=0)
    if not valid.any():
        raise SceneFormatError(
            f"{path}: every pixel is nodata or masked (judged from a {sw} x {sh} px overview)"
        )
    order = [uniq.index(b) for b in sel]
    stretch = compute_stretch(sample[order], valid)
    try:
        imagery = ds.tags(ns="IMAGERY")
    except RasterioError:
        imagery = {}
    return Scene(
        path=path.resolve(),
        id=path.stem,
        width=w,
        height=h,
        band_count=ds.count,
        bands=sel,
        dtype=ds.dtypes[0],
        crs=crs,
        epsg=epsg,
        transform=transform,
        gsd_m=gsd,
        nodata=ds.nodata,
        alpha_band=alpha_band,
        overviews=tuple(ds.overviews(1)),
        block_shape=(bh, bw),
        tiled=bool(ds.profile.get("tiled", False)),
        acquired=acquisition_time(
            tags, path.name, {k: v for k, v in imagery.items() if "DATETIME" in k.upper()}
        ),
        port=port,
        footprint=footprint,
        stretch=stretch,
        mask_kind=kind,
        colorinterp=_colorinterp_names(ds),
        coarse_native=valid,
    )
