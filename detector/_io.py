"""File output: atomic writes, output-folder checks and safe output names.

Atomic writes go to a temporary sibling, fsync, then ``os.replace``, so an interrupted run
never leaves a half-written file under the final name. Every :class:`OSError` on the way (a
folder below a regular file, a read-only folder, a full disk) becomes one
:class:`~detector.errors.OutputError` naming the final path and the cause.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import CountError, OutputError

__all__ = [
    "SAFE_NAME_MAX",
    "atomic_path",
    "atomic_write_text",
    "atomic_write_bytes",
    "check_output_dir",
    "check_output_file",
    "output_error",
    "safe_name",
]

#: Longest name :func:`safe_name` returns: room for a suffix such as ``.detections.geojson``
#: and the temporary prefix and suffix of :func:`atomic_path` within the 255 bytes of a name.
SAFE_NAME_MAX = 160

_UNSAFE = re.compile(r"[^\w.-]")  # \w keeps letters and digits of any script


def safe_name(name: str) -> str:
    """``name`` made safe as the start of an output file name: letters, digits, ``-``, ``_``
    and ``.`` are kept, anything else (``;``, spaces, quotes, slashes, control characters)
    becomes ``_``; a leading ``.`` (hidden files, and the temporaries of :func:`atomic_path`)
    becomes ``_``; at most :data:`SAFE_NAME_MAX` UTF-8 bytes; never empty.

    ``safe_name("rajin 2023;x")`` is ``"rajin_2023_x"``; a safe name is returned unchanged.
    """
    out = _UNSAFE.sub("_", name)
    out = "_" + out[1:] if out.startswith(".") else out
    while len(out.encode("utf-8")) > SAFE_NAME_MAX:
        out = out[:-1]
    return out or "_"


def _first_file_above(path: Path) -> Path | None:
    """The nearest existing ancestor of ``path`` (or ``path`` itself) that is not a folder."""
    for p in (path, *path.parents):
        if p.exists() or p.is_symlink():
            return None if p.is_dir() else p
    return None


def _reason(folder: Path, err: OSError) -> str:
    """Why ``err`` happened while writing into ``folder``, in words."""
    reason = err.strerror or str(err) or type(err).__name__
    blocker = _first_file_above(folder)
    if blocker is not None:
        return f"{blocker} is a file, not a folder"
    if err.filename:
        name = Path(os.fsdecode(err.filename))
        if name != folder and name.parent != folder:
            return f"{name}: {reason}"
    return reason


def output_error(path: str | os.PathLike, err: OSError) -> OutputError:
    """One-line :class:`OutputError` for ``err`` raised while writing the file ``path``."""
    path = Path(path)
    return OutputError(f"{path}: cannot write ({_reason(path.parent, err)})")


def _dir_problem(path: Path) -> str | None:
    """Create the folder ``path`` if needed and probe it with a file; what is wrong, or None."""
    if path.exists() and not path.is_dir():
        return "is a file, not a folder"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return f"cannot be created ({_reason(path, e)})"
    try:
        fd, probe = tempfile.mkstemp(prefix=".ccount-probe.", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        return f"is not writable ({e.strerror or e})"
    return None


def check_output_dir(path: str | os.PathLike) -> Path:
    """Create the output folder ``path`` if needed and prove it is writable (a probe file is
    created and removed), before any long work; returns it. Raises :class:`OutputError`
    naming the folder: an existing file, below a regular file, read-only, not permitted."""
    path = Path(path)
    problem = _dir_problem(path)
    if problem is not None:
        raise OutputError(f"{path}: output folder {problem}")
    return path


def check_output_file(path: str | os.PathLike) -> Path:
    """Check that the file ``path`` can be written: not a folder, and its folder can be
    created and written (as :func:`check_output_dir`); returns it."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a folder; give a file name to write")
    problem = _dir_problem(path.parent)
    if problem is not None:
        raise OutputError(f"{path}: cannot write: {path.parent} {problem}")
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it over ``path``.

    The temporary name keeps the final suffix (GDAL picks drivers by it) and starts with
    ``.`` so globs for finished outputs do not see it. On error it is removed. An
    :class:`OSError` (creating the folder or the temporary, writing it, moving it into place)
    becomes :class:`OutputError` naming ``path``; a :class:`CountError` passes unchanged.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{path.name}.",
            suffix=suffix if suffix is not None else path.suffix,
            dir=path.parent,
        )
        os.close(fd)
    except OSError as e:
        if isinstance(e, CountError):
            raise
        raise output_error(path, e) from e
    tmp_path = Path(tmp)
    tmp_path.unlink()  # writers that refuse to overwrite (GDAL, sqlite) get a fresh name
    try:
        yield tmp_path
        if tmp_path.is_file():
            with open(tmp_path, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        if isinstance(e, OutputError) and str(e).startswith(f"{tmp_path}:"):
            # a nested atomic write of our temporary failed: name the final file instead
            raise OutputError(f"{path}{str(e)[len(str(tmp_path)) :]}") from e
        if isinstance(e, OSError) and not isinstance(e, CountError):
            raise output_error(path, e) from e
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))
