"""structlog JSON logs with ``service`` bound; handlers bind ``incident_id`` and ``event_id``, and a
line written while a trace span is active carries its ``trace_id`` and ``span_id``.

A service calls :func:`start_logging` once its settings are known to be good: every run then starts
with one ``run.started`` line (pid, version, settings with secrets hidden), so that runs appended to
one file can be told apart, and with ``MAJOROPS_LOG_FILE`` the log goes to a size-rotated file
(:class:`RotatingLogFile`) instead of stderr.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import platform
import socket
import sys
import threading
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TextIO, cast

import structlog
from structlog.typing import Processor

from majorops.shared.private_files import PRIVATE_FILE_MODE
from majorops.shared.settings_display import redact_url, settings_summary
from majorops.shared.tracing import add_trace_context, configure_tracing

if TYPE_CHECKING:
    from majorops.shared.settings import CommonSettings

RUN_STARTED = "run.started"
"""The event of the first line of every run of a service."""
LOG_FILE_MODE = PRIVATE_FILE_MODE
"""Log files hold incident ids, people's names and request details: their owner's only."""


class _WriteFailures:
    """How many log writes this process dropped because the write failed (a full disk: ENOSPC, an
    I/O error: EIO, a closed pipe…): ``majorops_log_write_failures_total`` on every service's
    ``/metrics`` (:mod:`majorops.shared.telemetry`). Process-wide, as the log is."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0

    def add(self) -> None:
        with self._lock:
            self._count += 1

    @property
    def count(self) -> int:
        return self._count


WRITE_FAILURES = _WriteFailures()


def log_write_failures() -> int:
    """Log writes dropped so far by this process (see :data:`WRITE_FAILURES`)."""
    return WRITE_FAILURES.count


def open_private_log(path: Path) -> BinaryIO:
    """``path`` opened for appending, created (or narrowed to) :data:`LOG_FILE_MODE`: where a
    supervisor sends a child's stdout and stderr."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, LOG_FILE_MODE)
    with contextlib.suppress(OSError):
        os.fchmod(fd, LOG_FILE_MODE)
    return os.fdopen(fd, "ab")


class NeverRaising:
    """A text stream whose writes never raise: a failed write is counted in :data:`WRITE_FAILURES`
    and dropped. What every logger writes to, so that a full log volume never stops a service (a
    ``log.info`` raising ``OSError`` would end whatever loop called it)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except (OSError, ValueError):  # ValueError: the stream was closed
            WRITE_FAILURES.add()
            return len(text)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except (OSError, ValueError):
            WRITE_FAILURES.add()

    def isatty(self) -> bool:
        return False


class RotatingLogFile:
    """A process's log file, rotated by size, that the process's stdout and stderr follow.

    Why the service rotates its own file rather than the supervisor piping its output into one:
    the file stays written when the supervisor is gone (a ``kill -9`` of ``majorops up`` sends the
    services SIGTERM, and their last lines — how they stopped — are the ones worth reading), a slow
    reader can never block a service on a full pipe, and a service run alone gets the same rotation
    with ``MAJOROPS_LOG_FILE``.

    The file is rotated only after a write that ends a line, so a line is never split across files
    (each log line is one write; a writer that sends a line in pieces only delays the rotation).
    File descriptors 1 and 2 are pointed (``dup2``) at the current file at every rotation, so what
    bypasses logging — an interpreter traceback at exit, a C library's message — lands in the
    current file too (and counts towards its size at the next line). A rotation that fails (a
    read-only directory) leaves the lines going to the current file, and a write that fails (a full
    disk, an I/O error) drops the rest of its line and is counted (:data:`WRITE_FAILURES`): logging
    never stops a service. The file is created readable by its owner only (:data:`LOG_FILE_MODE`),
    and a file found with wider permissions is narrowed when opened.

    Rotation: ``<file>`` → ``<file>.1`` → … → ``<file>.<backups>``, the oldest dropped; with
    ``backups=0`` the file starts over. A file already over the limit at start is rotated before the
    run's first line. One process per file: two processes rotating one file would lose lines.
    """

    def __init__(
        self, path: Path, max_bytes: int, backups: int, redirect_fds: tuple[int, ...] = (1, 2)
    ) -> None:
        if max_bytes < 1 or backups < 0:
            raise ValueError(f"max_bytes must be positive and backups not negative: {max_bytes}, {backups}")
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self.redirect_fds = redirect_fds
        self._lock = threading.Lock()
        self._fd = -1

    def open(self) -> RotatingLogFile:
        """Open the file (rotating it first if it is already over the limit) and redirect to it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            try:
                too_big = self.path.stat().st_size >= self.max_bytes
            except FileNotFoundError:
                too_big = False
            if too_big:
                self._shift()
            self._reopen()
        return self

    def write(self, text: str) -> int:
        data = text.encode("utf-8", errors="replace")
        with self._lock:
            view = memoryview(data)
            while view:
                try:
                    written = os.write(self._fd, view)
                except OSError as exc:
                    if exc.errno == errno.EINTR:
                        continue
                    # ENOSPC, EIO, EBADF…: the rest of the line is dropped, never raised.
                    WRITE_FAILURES.add()
                    return len(text)
                view = view[written:]
            # Only at the end of a line: a writer may send a line in pieces (print() does).
            with contextlib.suppress(OSError):
                if data.endswith(b"\n") and os.fstat(self._fd).st_size >= self.max_bytes:
                    self._rotate()
        return len(text)

    def flush(self) -> None:
        """Every :meth:`write` is a system call already: nothing is buffered here."""

    def isatty(self) -> bool:
        return False

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def backup(self, number: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{number}")

    def _rotate(self) -> None:
        if self.backups == 0:
            os.ftruncate(self._fd, 0)
            return
        self._shift()
        self._reopen()

    def _shift(self) -> None:
        """``<file>.N-1`` → ``<file>.N`` … ``<file>`` → ``<file>.1``; leftovers beyond N removed."""
        for old in self.path.parent.glob(f"{self.path.name}.*"):
            suffix = old.name.removeprefix(f"{self.path.name}.")
            if suffix.isdigit() and int(suffix) > self.backups:
                old.unlink(missing_ok=True)
        if self.backups == 0:
            self.path.unlink(missing_ok=True)
            return
        for number in range(self.backups - 1, 0, -1):
            if self.backup(number).exists():
                os.replace(self.backup(number), self.backup(number + 1))
        if self.path.exists():
            os.replace(self.path, self.backup(1))

    def _reopen(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, LOG_FILE_MODE)
        with contextlib.suppress(OSError):  # a file left by an older version, created 0644
            os.fchmod(fd, LOG_FILE_MODE)
        for target in self.redirect_fds:
            os.dup2(fd, target)
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = fd


def configure_logging(
    service: str, level: str = "INFO", replica: str | None = None, *, stream: TextIO | None = None
) -> None:
    """One JSON object per line on ``stream`` (stderr), for the service and the libraries under it."""
    out = NeverRaising(stream if stream is not None else sys.stderr)
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        add_trace_context,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.WriteLoggerFactory(file=cast(TextIO, out)),
        cache_logger_on_first_use=True,
    )
    # Standard-library loggers (uvicorn, faststream, nats) are rendered as JSON lines too, their
    # exceptions as the traceback text under "exception" (as structlog's own).
    handler = logging.StreamHandler(cast(TextIO, out))
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    structlog.contextvars.clear_contextvars()
    bound = {"service": service}
    if replica:
        bound["replica"] = replica
    structlog.contextvars.bind_contextvars(**bound)


def package_version(service: str) -> str:
    """The installed version of ``majorops-<service>`` (of the shared package for anything else)."""
    for name in (f"majorops-{service}", "majorops-shared"):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "unknown"


def start_logging(service: str, settings: CommonSettings) -> None:
    """Configure logging (and tracing, :func:`~majorops.shared.tracing.configure_tracing`) from the
    settings, then write the run's first line, ``run.started`` (``traces_to``: where spans are
    exported, null when exporting is off).

    With ``MAJOROPS_LOG_FILE`` the log (and whatever else the process writes on stdout and stderr)
    goes to that file, rotated at ``MAJOROPS_LOG_MAX_BYTES`` with ``MAJOROPS_LOG_BACKUPS`` kept.
    """
    stream: TextIO | None = None
    if settings.log_file is not None:
        log_file = RotatingLogFile(settings.log_file, settings.log_max_bytes, settings.log_backups).open()
        stream = cast(TextIO, log_file)  # write and flush are all a logger uses
    configure_logging(service, settings.log_level, settings.replica, stream=stream)
    # Tracing is set up with logging: both are the process's, once its settings are known good.
    traces_to = configure_tracing(service, settings.otel_exporter_otlp_endpoint)
    structlog.get_logger(__name__).info(
        RUN_STARTED,
        pid=os.getpid(),
        version=package_version(service),
        python=platform.python_version(),
        host=socket.gethostname(),
        argv=sys.argv,
        settings=settings_summary(settings),
        traces_to=redact_url(traces_to) if traces_to else None,
    )
