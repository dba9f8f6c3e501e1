"""The files Frontdesk keeps on disk (the SQLite database and its -wal/-shm files, the
generated secret key, lock files, the demo password): readable by its own user only.

They hold password hashes, webhook secrets, the signing key and visitors' data. A data
directory Frontdesk creates is 0700 and a file it creates is 0600, whatever the umask
allows; an existing directory or file keeps the mode its owner gave it (a warning names
a database or key file that other users can read).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> None:
    """Create ``path`` as 0700 if it is missing (missing parents as the umask says)."""
    if path.is_dir():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=DIR_MODE)
    except FileExistsError:  # made by another process meanwhile: theirs is made the same way
        return
    os.chmod(path, DIR_MODE)  # mkdir's mode is narrowed by the umask, never widened: make it exact


def private_file(path: Path) -> bool:
    """Create ``path`` empty as 0600 if it is missing (True if this call created it). An
    existing file is left as it is, with a warning if others can read or write it."""
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        warn_if_shared(path)
        return False
    os.close(fd)
    return True


def write_private(path: Path, text: str) -> None:
    """Replace ``path``'s content with ``text``; a new file is 0600, an existing one keeps its mode."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def warn_if_shared(path: Path) -> None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return
    if mode & 0o077:
        log.warning(
            "%s can be read or written by other users of this machine (mode %03o); it holds secrets: "
            "chmod 600 it (and its -wal/-shm files) unless you meant that", path, mode,
        )
