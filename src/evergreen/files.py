"""Files evergreen writes hold data of the user's customers: owner-only (0600 files, 0700 directories).

``os.open`` with a mode (not ``chmod`` afterwards) so a file is never readable by others, not even
for an instant; directories are tightened when evergreen creates them or writes into them.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import IO

FILE_MODE = 0o600
DIR_MODE = 0o700


def utf8_name(text: str) -> str:
    """A name or path from the file system as UTF-8 text: a byte that is not UTF-8 becomes ``\\xff``
    (Python keeps it as a lone surrogate, which no database column, log line or JSON can hold)."""
    return os.fsencode(text).decode("utf-8", "backslashreplace")


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) owner-only. Directories that already exist are left as
    they are: they may be shared (``/tmp``) or not evergreen's; see :func:`tighten_dir`."""
    created = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    for p in created:
        with contextlib.suppress(OSError):
            os.chmod(p, DIR_MODE)  # parents get the umask's mode from mkdir, not ``mode``
    return path


def tighten_dir(path: Path) -> None:
    """Make a directory evergreen owns (its state dir) owner-only, if it is a real directory."""
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            os.chmod(path, DIR_MODE)


def open_private(path: Path, mode: str = "a") -> IO[str]:
    """Open a text file for writing (``"a"`` or ``"w"``), created 0600."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "a" else os.O_TRUNC)
    fd = os.open(path, flags, FILE_MODE)
    with contextlib.suppress(OSError):
        st = os.fstat(fd)
        if stat.S_ISREG(st.st_mode) and st.st_mode & 0o077:
            os.fchmod(fd, FILE_MODE)  # an older regular file created with a looser mode
    return os.fdopen(fd, mode, encoding="utf-8")


def make_private(path: Path) -> Path:
    """Tighten a regular file another library wrote (parquet, a moved file) to 0600."""
    with contextlib.suppress(OSError):
        if path.is_file() and not path.is_symlink():
            os.chmod(path, FILE_MODE)
    return path
