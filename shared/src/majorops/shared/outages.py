"""Failures of what a handler stands on rather than of the message: a full disk, an I/O error, a
JetStream that does not store. Retrying such a message later is right; counting the attempt towards
its last delivery (and dead-lettering it) is not — the message is fine and will be handled once the
disk has room again. :mod:`majorops.shared.consumers` holds such a batch and tries it again in
place (:func:`storage_unavailable`)."""

from __future__ import annotations

import errno
import sqlite3

from majorops.shared.outcomes import UnacknowledgedPublish

STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS})
SQLITE_STORAGE_CODES = frozenset({sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY})
SQLITE_STORAGE_TEXTS = ("database or disk is full", "disk i/o error", "attempt to write a readonly database")


def storage_unavailable(exc: BaseException | None) -> bool:
    """True when ``exc`` (or what caused it) says the storage under the handler failed, not the message."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, UnacknowledgedPublish):
            return True
        if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:
            return True
        if isinstance(exc, sqlite3.Error):
            code = getattr(exc, "sqlite_errorcode", None)
            if code is not None and code & 0xFF in SQLITE_STORAGE_CODES:
                return True
            if any(text in str(exc).lower() for text in SQLITE_STORAGE_TEXTS):
                return True
        exc = exc.__cause__ or exc.__context__
    return False
