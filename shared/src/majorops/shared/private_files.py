"""Files only their owner may read: the data dir (``0700``) and the SQLite stores (``0600``).

The stores hold every review and its events; readable by any local user they would bypass the
reports read token. Modes are set whatever the umask, at creation and again at every open (a file
or dir made by an older version, or widened by hand, is narrowed). A directory the process does not
own (a mount point, ``/tmp``) is left as it is: narrowing it would fail, or lock others out of it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")
"""The files SQLite keeps beside a database (WAL mode's log and shared memory, the rollback journal)."""


def private_dir(path: Path) -> Path:
    """Create ``path`` (and its parents) if missing, and make it ``0700`` when this process owns it."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    _narrow(path, PRIVATE_DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create an empty ``path`` with mode ``0600`` if missing (no moment readable by others), and
    narrow an existing one to ``0600``."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    _narrow(path, PRIVATE_FILE_MODE)
    return path


def private_sqlite(path: Path) -> Path:
    """A SQLite database file in a private dir, ``0600``, and its companions that exist ``0600``
    (SQLite creates new ones with the database's mode)."""
    private_dir(path.parent)
    private_file(path)
    for suffix in SQLITE_COMPANIONS:
        companion = path.with_name(path.name + suffix)
        with contextlib.suppress(FileNotFoundError):
            _narrow(companion, PRIVATE_FILE_MODE)
    return path


def _narrow(path: Path, mode: int) -> None:
    status = path.stat()
    if status.st_uid == os.getuid() and status.st_mode & 0o777 != mode:
        os.chmod(path, mode)
