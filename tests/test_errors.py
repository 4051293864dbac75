"""Each bad scene raises the right error class with a one-line message naming the file."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.io import netcdf_file

from detector.errors import ConfigError, CountError, SceneFormatError, SceneReadError
from detector.imagery.raster import SceneReader, open_scene


def _check(excinfo, path, *words):
    err = excinfo.value
    assert isinstance(err, CountError)
    msg = str(err)
    assert "\n" not in msg
    assert msg.startswith(str(path))
    for w in words:
        assert w in msg


def test_missing_file(tmp_path):
    p = tmp_path / "nope.tif"
    with pytest.raises(SceneReadError) as ei:
        open_scene(p)
    assert isinstance(ei.value, OSError)
    _check(ei, p, "not found")


def test_directory(tmp_path):
    with pytest.raises(SceneReadError) as ei:
        open_scene(tmp_path)
    _check(ei, tmp_path, "directory")


def test_text_file_named_tif(tmp_path):
    p = tmp_path / "fake.tif"
    p.write_text("this is not a GeoTIFF\n")
    with pytest.raises(SceneReadError) as ei:
        open_scene(p)
    _check(ei, p, "not a readable raster")


def test_truncated_tiled_geotiff(make_geotiff):
    p = make_geotiff("cut.tif", shape=(3, 600, 600), compress=None)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(SceneReadError) as ei:
        open_scene(p)
    _check(ei, p, "truncated")


def test_truncated_striped_geotiff(make_geotiff):
    p = make_geotiff("cut_strips.tif", shape=(3, 600, 600), tiled=False)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(SceneReadError) as ei:
        open_scene(p)
    _check(ei, p, "truncated")


def test_no_crs_needs_gsd(make_geotiff):
    p = make_geotiff("nocrs.tif", crs=None)
    with pytest.raises(SceneFormatError) as ei:
        open_scene(p)
    _check(ei, p, "no CRS", "--gsd")
    assert isinstance(ei.value, ValueError)


def test_no_crs_with_gsd_reads_local_metres(make_geotiff):
    p = make_geotiff("nocrs.tif", crs=None, shape=(3, 300, 200))
    scene = open_scene(p, gsd_m=0.5)
    assert scene.crs is None and scene.epsg is None and scene.port is None
    assert scene.gsd_m == 0.5 and scene.footprint.is_empty
    with SceneReader(scene) as r:
        assert (r.grid.height, r.grid.width) == (375, 250)
        assert r.grid.crs is None and r.grid.transform.a == pytest.approx(0.4)
        tile = r.read(_win(0, 0, 64, 64))
        assert tile.valid.all()


def _win(r, c, h, w):
    from detector.imagery.tiling import Window

    return Window(r, c, h, w)


def test_bad_gsd_value(make_geotiff):
    p = make_geotiff("nocrs.tif", crs=None)
    with pytest.raises(ConfigError):
        open_scene(p, gsd_m=-1.0)


def test_absurd_dimensions(tmp_path):
    p = tmp_path / "huge.vrt"
    p.write_text(
        '<VRTDataset rasterXSize="2000000" rasterYSize="2000000"><SRS>EPSG:32652</SRS>'
        "<GeoTransform>605000,0.5,0,4678600,0,-0.5</GeoTransform>"
        '<VRTRasterBand dataType="Byte" band="1"/></VRTDataset>'
    )
    with pytest.raises(SceneFormatError) as ei:
        open_scene(p)
    _check(ei, p, "2000000 x 2000000", "absurd")


def test_absurd_pixel_count(tmp_path):
    p = tmp_path / "long.vrt"
    p.write_text(
        '<VRTDataset rasterXSize="900000" rasterYSize="30000"><SRS>EPSG:32652</SRS>'
        "<GeoTransform>605000,0.5,0,4678600,0,-0.5</GeoTransform>"
        '<VRTRasterBand dataType="Byte" band="1"/></VRTDataset>'
    )
    with pytest.raises(SceneFormatError, match="absurd"):
        open_scene(p)


def test_all_nodata(make_geotiff):
    p = make_geotiff("empty.tif", array=np.zeros((3, 300, 300), np.uint8), nodata=0)
    with pytest.raises(SceneFormatError) as ei:
        open_scene(p)
    _check(ei, p, "nodata")


def test_all_transparent_alpha(make_geotiff):
    arr = np.full((4, 100, 100), 200, np.uint8)
    arr[3] = 0
    p = make_geotiff("clear.tif", array=arr, alpha=True)
    with pytest.raises(SceneFormatError, match="nodata or masked"):
        open_scene(p)


def test_zero_bands(tmp_path):
    p = tmp_path / "two_vars.nc"
    f = netcdf_file(p, "w")
    f.createDimension("y", 8)
    f.createDimension("x", 8)
    for name in "ab":
        f.createVariable(name, "f4", ("y", "x"))[:] = np.ones((8, 8), np.float32)
    f.close()
    with pytest.raises(SceneFormatError) as ei:
        open_scene(p)
    _check(ei, p, "no raster bands", "subdatasets")


@pytest.mark.parametrize(
    ("bands", "words"),
    [((1, 2, 5), "band 5 does not exist"), ((1, 2), "select 1 or 3"), (("x",), "not a list")],
)
def test_bad_band_selection(make_geotiff, bands, words):
    p = make_geotiff("rgb.tif")
    with pytest.raises(SceneFormatError) as ei:
        open_scene(p, bands=bands)
    _check(ei, p, words)


def test_reader_bad_target_gsd(make_geotiff):
    scene = open_scene(make_geotiff())
    with pytest.raises(ConfigError):
        SceneReader(scene, target_gsd_m=0.0)
