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
from .meta import acquisition_time, footprint_lonlat, gsd_of, view_geometry
from .reader import SceneReader, rasterize_aoi
from .scene import (
    CANONICAL_GSD_M,
    MAX_PIXELS,
    MAX_SIDE_PX,
    SAMPLE_SIDE_PX,
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
from .stretch import Stretch, apply_stretch, compute_stretch, scene_stretch

__all__ = [
    "CANONICAL_GSD_M",
    "MAX_SIDE_PX",
    "MAX_PIXELS",
    "Grid",
    "Scene",
    "SceneReader",
    "Stretch",
    "TileImage",
    "aoi_stretch",
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
                scene = _describe(path, ds, bands, gsd_m)
            except RasterioError as e:
                raise SceneReadError(f"{path}: unreadable or corrupt ({_short(e)})") from None
    return _port_stretch(scene)


#: a port's AOI sets the stretch when the scene holds at least this many of its valid
#: sample pixels (else the scene's own structured pixels do)
AOI_STRETCH_MIN_PX = 4096


def _port_stretch(scene: Scene) -> Scene:
    """``scene`` with its stretch from the pixels inside its port's AOI when it lies in a
    known port (:func:`aoi_stretch`): what else the scene holds (sea, a town, cloud) then
    cannot change how the port is stretched."""
    from dataclasses import replace

    from .aoi import load_port

    if not scene.port or scene.crs is None:
        return scene
    found = aoi_stretch(scene, [load_port(scene.port).area], min_px=AOI_STRETCH_MIN_PX)
    if found is None:
        return scene
    stretch, share = found
    return replace(
        scene, stretch=stretch,
        stretch_from=f"port AOI ({scene.port}; {share:.0%} of its pixels, flat areas left out)",
    )  # fmt: skip


#: Scenes without overviews above this many pixels take their stretch sample from a grid of
#: blocks (:func:`_block_sample`); smaller ones, and all with overviews, from one decimated read
BLOCK_SAMPLE_MIN_PX = 64e6
#: blocks a side of that grid; each contributes a window of at most 64 x 64 px
BLOCK_SAMPLE_GRID = 16
#: a block sample with fewer valid pixels falls back to the decimated read
BLOCK_SAMPLE_MIN_VALID = 10_000


def _block_sample(ds, uniq, sel, kind) -> tuple[np.ndarray, np.ndarray]:
    """A stretch sample of a large scene without overviews, where a decimated read decodes
    every block (1.6 GB and ~60 s for 1 Gpx of DEFLATE): a :data:`BLOCK_SAMPLE_GRID`-square
    grid of windows of at most 64 x 64 px, each inside one block, spread evenly over the
    scene, so that only those blocks are decoded. Returns ``(sample [B, g*k, g*k], valid)``,
    the windows laid side by side (a mosaic; only the pixel values matter)."""
    from rasterio.windows import Window

    h, w = ds.height, ds.width
    bh, bw = ds.block_shapes[0]
    g = BLOCK_SAMPLE_GRID
    kh, kw = min(64, bh, h), min(64, bw, w)
    rows = sorted({min((round(v) // bh) * bh, h - kh) for v in np.linspace(0, h - 1, g)})
    cols = sorted({min((round(v) // bw) * bw, w - kw) for v in np.linspace(0, w - 1, g)})
    sample = np.zeros((len(uniq), len(rows) * kh, len(cols) * kw), ds.dtypes[0])
    valid = np.zeros((len(rows) * kh, len(cols) * kw), bool)
    for a, r in enumerate(rows):
        for b, c in enumerate(cols):
            win = Window(c, r, kw, kh)
            sl = np.s_[a * kh : (a + 1) * kh, b * kw : (b + 1) * kw]
            sample[(slice(None), *sl)] = ds.read(uniq, window=win)
            valid[sl] = _read_valid(ds, kind, sel, window=win, out_shape=(kh, kw))
    return sample, valid


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
    sample = None
    if not ds.overviews(sel[0]) and float(w) * float(h) > BLOCK_SAMPLE_MIN_PX:
        # a decimated read would decode every block: a grid of blocks instead, unless it
        # holds too few valid pixels (a sparse file: then the decimated read is cheap)
        sample, valid = _block_sample(ds, uniq, sel, kind)
        if sample.dtype.kind == "f":
            valid &= np.isfinite(sample).all(axis=0)
        if np.count_nonzero(valid) < BLOCK_SAMPLE_MIN_VALID:
            sample = None
        # the coarse mask: all valid when there is no mask, else read by the reader, only
        # where the plan needs it (SceneReader.coverage)
        coarse = np.ones((sh, sw), bool) if kind == "none" else None
        what = f"a sample of {BLOCK_SAMPLE_GRID**2} blocks"
    if sample is None:
        sample = ds.read(uniq, out_shape=(len(uniq), sh, sw), resampling=Resampling.nearest)
        valid = _read_valid(ds, kind, sel, out_shape=(sh, sw))
        coarse = valid
        what = f"a {sw} x {sh} px overview"
    if sample.dtype.kind == "f":
        valid &= np.isfinite(sample).all(axis=0)
    if not valid.any():
        raise SceneFormatError(f"{path}: every pixel is nodata or masked (judged from {what})")
    order = [uniq.index(b) for b in sel]
    # metres per sample pixel (a block sample's windows are at full resolution)
    step = 1.0 if what.startswith("a sample of") else max(w / sample.shape[2], 1.0)
    stretch, share = scene_stretch(sample[order], valid, sample_gsd_m=gsd * step)
    try:
        imagery = ds.tags(ns="IMAGERY")
        imd = ds.tags(ns="IMD")
    except RasterioError:
        imagery, imd = {}, {}
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
        coarse_native=coarse,
        stretch_from=f"scene ({share:.0%} of its pixels, flat areas left out)",
        view=view_geometry(tags, path.name, imd),
    )


def aoi_stretch(
    scene: Scene, polygons_lonlat, *, max_side: int = SAMPLE_SIDE_PX, min_px: int = 1
) -> tuple[Stretch, float] | None:
    """The 2/98 % :class:`Stretch` of the valid pixels of ``scene`` inside the lon/lat
    polygons (a port's area), flat areas left out
    (:func:`~detector.imagery.stretch.scene_stretch`), with the share of the pixels it was
    taken from; None when fewer than ``min_px`` sample pixels lie there (or the scene has
    no CRS). Read from the polygons' bounding window only, nearest-decimated to at most
    ``max_side`` px a side (GDAL decodes only that window's blocks, or uses an overview), so
    sea around the port neither sets the stretch nor costs a read; the same port pixels give
    the same stretch whatever the scene around them."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.errors import RasterioError
    from rasterio.features import rasterize
    from rasterio.windows import Window, from_bounds

    from .aoi import project

    if scene.crs is None:
        return None
    geoms = [project(p, scene.crs) for p in polygons_lonlat if not p.is_empty]
    geoms = [g for g in geoms if not g.is_empty]
    if not geoms:
        return None
    x0 = min(g.bounds[0] for g in geoms)
    y0 = min(g.bounds[1] for g in geoms)
    x1 = max(g.bounds[2] for g in geoms)
    y1 = max(g.bounds[3] for g in geoms)
    win = from_bounds(x0, y0, x1, y1, transform=scene.transform)
    c0, r0 = max(0, math.floor(win.col_off)), max(0, math.floor(win.row_off))
    c1 = min(scene.width, math.ceil(win.col_off + win.width))
    r1 = min(scene.height, math.ceil(win.row_off + win.height))
    if c1 <= c0 or r1 <= r0:
        return None
    win = Window(c0, r0, c1 - c0, r1 - r0)
    sh, sw = _sample_shape(r1 - r0, c1 - c0, max_side)
    uniq = list(dict.fromkeys(scene.bands))
    with _quiet(), rasterio.open(scene.path) as ds:
        try:
            sample = ds.read(uniq, window=win, out_shape=(len(uniq), sh, sw),
                             resampling=Resampling.nearest)  # fmt: skip
            valid = _read_valid(ds, scene.mask_kind, scene.bands, window=win, out_shape=(sh, sw))
        except RasterioError as e:
            raise SceneReadError(f"{scene.path}: read failed ({_short(e)})") from None
    wt = rasterio.windows.transform(win, scene.transform)
    inside = rasterize([(g, 1) for g in geoms], out_shape=(sh, sw), fill=0, dtype="uint8",
                       transform=wt @ Affine.scale((c1 - c0) / sw, (r1 - r0) / sh))  # fmt: skip
    valid &= inside.astype(bool)
    if sample.dtype.kind == "f":
        valid &= np.isfinite(sample).all(axis=0)
    if np.count_nonzero(valid) < max(1, min_px):
        return None
    step = scene.gsd_m * (c1 - c0) / sw
    return scene_stretch(sample[[uniq.index(b) for b in scene.bands]], valid, sample_gsd_m=step)
