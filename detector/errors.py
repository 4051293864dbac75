"""One error root for the whole package.

Every error subclasses :class:`CountError` and the builtin it resembles, so callers can catch
either (cf. rasterio ``errors.py``). Messages name the bad file or value, what was expected
and, where there is one, the fix. The CLI prints ``str(err)`` as one line and exits 2.
"""

from __future__ import annotations

__all__ = [
    "CountError",
    "SceneReadError",
    "SceneFormatError",
    "ConfigError",
    "ModelError",
    "LabelError",
    "DeviceError",
    "OutputError",
    "ReviewError",
]


class CountError(Exception):
    """Root of every error ccount raises on purpose."""


class SceneReadError(CountError, OSError):
    """A scene file is missing, unreadable, truncated or not a raster."""


class SceneFormatError(CountError, ValueError):
    """A scene opened but cannot be used: no CRS, zero bands, absurd size, all nodata."""


class ConfigError(CountError, ValueError):
    """A command-line option or configuration value is out of range or inconsistent."""


class ModelError(CountError, RuntimeError):
    """A weights file is missing, corrupt, or its metadata does not match the code."""


class LabelError(CountError, ValueError):
    """A voyage log, label set, AOI or registry file has a bad row or feature."""


class DeviceError(CountError, RuntimeError):
    """The requested compute device is not available."""


class OutputError(CountError, OSError):
    """An output file or folder cannot be created or written: a path below a regular file, a
    read-only or unwritable folder, a full disk. The message names the path and the cause."""


class ReviewError(CountError, ValueError):
    """A review round or review action is bad: unknown unit or candidate id, a bad kind, a
    box outside its unit, a folder that is not a round, nothing to undo."""
