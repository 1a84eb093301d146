"""``majorops up``: the embedded nats-server and the four services as separate processes.

The supervisor restarts a service that dies (a crash, an OOM kill, ``kill -9``) with back-off, and
stops everything on SIGTERM/SIGINT: services first (they drain their NATS connections), the broker
last. Children get ``PR_SET_PDEATHSIG`` so that even a ``kill -9`` of the supervisor leaves no
orphan behind.

Logs: each service writes ``<data-dir>/logs/<service>.log`` itself (``MAJOROPS_LOG_FILE``), rotated
at ``MAJOROPS_LOG_MAX_BYTES`` with ``MAJOROPS_LOG_BACKUPS`` kept (see
:class:`majorops.shared.logging.RotatingLogFile` for why the service and not the supervisor owns
the file); nats-server rotates ``nats-server.log`` with its own ``logfile_size_limit``. The
supervisor appends each child's stdout and stderr to the same file, so that what a child says
before its logging is set up (a refused setting) is there too.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from majorops.cli.credentials import ISSUED, Credentials, load_or_generate
from majorops.cli.natsserver import NatsCluster, NatsServer, die_with_parent, free_port, port_open
from majorops.shared import nats_access
from majorops.shared.settings import (
    DEFAULT_LOG_BACKUPS,
    DEFAULT_LOG_MAX_BYTES,
    ENV_PREFIX,
    EX_CONFIG,
    LogBackups,
    LogMaxBytes,
    redact_url,
)

SERVICES = ("ingest", "policy", "reminders", "reports")
PROBE_PORTS = {"policy": 8082, "reminders": 8083}
"""Default ports of the probes (/healthz, /readyz, /metrics) of the services without an HTTP API."""
READY_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 15.0
MAX_RESTART_DELAY_SECONDS = 30.0
MIB = 1024 * 1024


class UpSettings(BaseSettings):
    """What ``majorops up`` itself reads from the environment (a flag, where there is one, wins).

    Every other ``MAJOROPS_*`` variable is passed on to the services unchanged.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    data_dir: Path = Field(
        default=Path(".majorops"),
        description="Where JetStream, the SQLite stores and the logs live (--data-dir)",
    )
    nats_port: int = Field(
        default=4222, ge=1, le=65535, description="Port of the embedded nats-server (--nats-port)"
    )
    ingest_port: int = Field(default=8080, ge=1, le=65535, description="Ingest's HTTP port (--ingest-port)")
    reports_port: int = Field(default=8081, ge=1, le=65535, description="Reports' HTTP port (--reports-port)")
    nats_url: str | None = Field(
        default=None,
        description="Use this NATS (JetStream enabled) instead of the embedded nats-server (--nats-url)",
    )
    mongodb_url: str | None = Field(
        default=None,
        description="Passed on to the services (MongoDB instead of SQLite); shown without its password",
    )
    nats_sync_interval: str = Field(
        default="always",
        description="JetStream's sync_interval for the embedded nats-server (--nats-sync-interval): "
        "'always' fsyncs every write before acknowledging it (Jepsen: the default loses acknowledged "
        "writes when the OS crashes); 'default' (the server's own, 2 min) or a duration such as 10s "
        "trades that for throughput",
    )
    nats_cluster: int = Field(
        default=1,
        description="Embedded nats-servers (--cluster): 1, or 3 or 5 clustered on loopback (ports "
        "MAJOROPS_NATS_PORT and up, each its own store in the data dir) with every stream replicated "
        "on each (MAJOROPS_STREAM_REPLICAS), so that losing one leaves the system running",
    )
    stream_replicas: int | None = Field(
        default=None,
        ge=1,
        le=5,
        description="Copies of each stream the embedded NATS keeps (and the services are told); unset: "
        "one per server of --cluster",
    )
    log_max_bytes: LogMaxBytes = DEFAULT_LOG_MAX_BYTES
    log_backups: LogBackups = DEFAULT_LOG_BACKUPS

    @field_validator("nats_cluster")
    @classmethod
    def _cluster_size(cls, value: int) -> int:
        return check_cluster_size(value)

    @field_validator("nats_sync_interval")
    @classmethod
    def _sync_interval(cls, value: str) -> str:
        return check_sync_interval(value)

    @field_validator("nats_url", "mongodb_url")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value or None


_DURATION = re.compile(r"^[1-9][0-9]*(ms|s|m|h)$")


def check_sync_interval(value: str) -> str:
    """``always``, ``default`` or a positive duration (``500ms``, ``10s``, ``2m``, ``1h``)."""
    text = value.strip()
    if text in ("always", "default") or _DURATION.match(text):
        return text
    raise ValueError(
        f"nats sync interval {value!r}: use 'always', 'default' or a duration such as 10s, 500ms, 2m"
    )


CLUSTER_SIZES = (1, 3, 5)


def check_cluster_size(value: int) -> int:
    """1 (one server), 3 or 5: a cluster needs a majority up, so an even count adds no safety."""
    if value not in CLUSTER_SIZES:
        raise ValueError(f"nats cluster of {value}: use 1 (one server), 3 or 5")
    return value


def show_size(size: int) -> str:
    """``10 MiB``, ``512 KiB`` or bytes: how the logs line says where rotation happens."""
    for unit, factor in (("GiB", 1024 * MIB), ("MiB", MIB), ("KiB", 1024)):
        if size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


@dataclass
class ServiceProcess:
    name: str
    env: Mapping[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    last_start: float = 0.0

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"majorops.{self.name}"],
                env={**self.env, "MAJOROPS_LOG_FILE": str(self.log_path.resolve())},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        finally:
            log.close()
        self.last_start = time.monotonic()

    def last_log_lines(self, count: int = 5) -> str:
        """The end of the service's log, to show why it stopped."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()[-count:]
        except OSError:
            return f"(no log at {self.log_path})"
        return "\n".join(f"  {line}" for line in lines) + f"\n  (full log: {self.log_path})"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def terminate(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)

    def wait_or_kill(self, deadline: float) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class ConfigurationRefused(Exception):
    """A setting of ``majorops up`` itself is wrong (exit 78: restarting will not help)."""


@dataclass
class UpOptions:
    data_dir: Path
    nats_port: int
    ingest_port: int
    reports_port: int
    nats_url: str | None
    host: str = "127.0.0.1"
    log_max_bytes: int = DEFAULT_LOG_MAX_BYTES
    log_backups: int = DEFAULT_LOG_BACKUPS
    nats_sync_interval: str = "always"
    nats_cluster: int = 1
    stream_replicas: int | None = None
    """None: as many as the embedded cluster has servers (1 for one server)."""


@dataclass
class System:
    """The whole system on one machine."""

    options: UpOptions
    say: Callable[[str], None] = print
    nats: NatsServer | NatsCluster | None = None
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    stopping: threading.Event = field(default_factory=threading.Event)
    exit_code: int = 0
    credentials: Credentials = field(init=False)
    probe_urls: dict[str, str] = field(default_factory=dict)
    """Where policy and reminders serve their probes (none: not served), see :meth:`probe_env`."""

    @property
    def nats_url(self) -> str:
        if self.options.nats_url:
            return self.options.nats_url
        assert self.nats is not None
        return self.nats.url

    def check_ports(self) -> None:
        wanted = {"ingest": self.options.ingest_port, "reports": self.options.reports_port}
        if not self.options.nats_url:  # a cluster's nodes listen on nats_port and the ports after it
            first = self.options.nats_port
            busy = [
                p for p in range(first, first + self.options.nats_cluster) if port_open(self.options.host, p)
            ]
            wanted["nats"] = busy[0] if busy else first
        for what, port in wanted.items():
            if port_open(self.options.host, port):
                raise SystemExit(
                    f"majorops up: port {port} ({what}) on {self.options.host} is already in use; "
                    f"stop what listens there or pass --{what}-port"
                )

    def start(self) -> None:
        opts = self.options
        opts.data_dir.mkdir(parents=True, exist_ok=True)
        self.check_ports()
        try:
            self.credentials = load_or_generate(
                opts.data_dir, os.environ, embedded_nats=not opts.nats_url, cluster=opts.nats_cluster > 1
            )
        except ValueError as exc:
            raise ConfigurationRefused(str(exc)) from None
        logs = opts.data_dir / "logs"
        replicas = opts.stream_replicas or (1 if opts.nats_url else opts.nats_cluster)
        if not opts.nats_url:
            sync_interval = None if opts.nats_sync_interval == "default" else opts.nats_sync_interval
            self.nats = (
                NatsServer(
                    data_dir=opts.data_dir,
                    port=opts.nats_port,
                    log_file=logs / "nats-server.log",
                    log_max_bytes=opts.log_max_bytes,
                    log_backups=opts.log_backups,
                    sync_interval=sync_interval,
                    users=self.credentials.nats_users(),
                )
                if opts.nats_cluster == 1
                else NatsCluster(
                    data_dir=opts.data_dir,
                    size=opts.nats_cluster,
                    port=opts.nats_port,
                    log_dir=logs,
                    log_max_bytes=opts.log_max_bytes,
                    log_backups=opts.log_backups,
                    sync_interval=sync_interval,
                    users=self.credentials.nats_users(),
                    route_password=self.credentials.route_password or "",
                )
            )
            logs.mkdir(parents=True, exist_ok=True)
            self.nats.start()
            # The streams and the key-value bucket are admin's to create; the services only use them.
            from majorops.shared.provision import provision_server  # the broker client: not for --help

            provision_server(
                self.nats.url,
                nats_access.ADMIN,
                self.credentials.nats_passwords[nats_access.ADMIN],
                replicas=replicas,
            )
            if isinstance(self.nats, NatsCluster):
                self.say(
                    f"nats-server  {self.nats.url}\n"
                    f"             (cluster of {opts.nats_cluster}, JetStream in "
                    f"{opts.data_dir / 'nats-<n>'}, streams R{replicas}, sync_interval {opts.nats_sync_interval})"
                )
            else:
                self.say(
                    f"nats-server  {self.nats.url}  (JetStream in {opts.data_dir / 'nats'}, "
                    f"sync_interval {opts.nats_sync_interval})"
                )
        else:
            self.say(f"nats         {opts.nats_url}  (external)")
        env = {
            **os.environ,
            "MAJOROPS_NATS_URL": self.nats_url,
            "MAJOROPS_DATA_DIR": str(opts.data_dir.resolve()),
            "MAJOROPS_INGEST_HOST": opts.host,
            "MAJOROPS_INGEST_PORT": str(opts.ingest_port),
            "MAJOROPS_REPORTS_HOST": opts.host,
            "MAJOROPS_REPORTS_PORT": str(opts.reports_port),
            "MAJOROPS_LOG_MAX_BYTES": str(opts.log_max_bytes),
            "MAJOROPS_LOG_BACKUPS": str(opts.log_backups),
            "MAJOROPS_STREAM_REPLICAS": str(replicas),
            **self.probe_env(),
            **self.credentials.settings,
        }
        for name in SERVICES:
            # Each service connects as its own NATS user (embedded server; else as the environment says).
            password = self.credentials.nats_passwords.get(name)
            own = {**env, **nats_access.service_env(name, password)} if password else env
            proc = ServiceProcess(name, own, logs / f"{name}.log")
            proc.start()
            self.services[name] = proc
        self.wait_ready()
        store = (
            f"MongoDB {redact_url(os.environ['MAJOROPS_MONGODB_URL'])}"
            if os.environ.get("MAJOROPS_MONGODB_URL")
            else (f"SQLite in {opts.data_dir}")
        )
        self.say(
            f"ingest       http://{opts.host}:{opts.ingest_port}/v1/events  (NATS request: majorops.ingest)"
        )
        self.say(f"reports      http://{opts.host}:{opts.reports_port}/v1/reviews")
        self.say(
            f"workbench    http://{opts.host}:{opts.reports_port}/workbench  "
            "(a browser page: paste $REPORTS_WRITE_TOKEN, or open it with #token=<that token> appended)"
        )
        self.say(f"policy       {self.probed('policy')}   reminders  {self.probed('reminders')}")
        self.say("probes       /healthz /readyz /metrics (Prometheus) on every HTTP port above, no token")
        self.say(f"store        {store}")
        self.say(self.access_line())
        self.say(
            f"logs         {logs}/<service>.log  (each rotated at {show_size(opts.log_max_bytes)}, "
            f"{opts.log_backups} kept)"
        )
        self.say("ready — Ctrl-C or SIGTERM stops everything")

    def access_line(self) -> str:
        """Where the tokens are: the README's examples source the file this names."""
        creds = self.credentials
        if not creds.path.exists():
            return f"access       tokens from the environment ({', '.join(creds.from_environment)})"
        shown = [issued.shell for issued in ISSUED if issued.setting not in creds.from_environment]
        how = (
            "generated now"
            if set(creds.generated) & {i.setting for i in ISSUED}
            else "generated on first start"
        )
        line = (
            f"access       tokens in {creds.path} (mode 0600, {how})\n"
            f"             `. {creds.path}` sets {', '.join('$' + name for name in shown)}"
        )
        if creds.from_environment:
            line += f"\n             from the environment: {', '.join(creds.from_environment)}"
        return line

    def probe_env(self) -> dict[str, str]:
        """Where policy and reminders serve their probes: ``MAJOROPS_<SERVICE>_HTTP_PORT`` when it is
        set (the service reads it; 0: none), else the default port when it is free, else a free one."""
        env: dict[str, str] = {}
        for name, default in PROBE_PORTS.items():
            variable = f"MAJOROPS_{name.upper()}_HTTP_PORT"
            given = os.environ.get(variable, "").strip()
            host = os.environ.get(f"MAJOROPS_{name.upper()}_HTTP_HOST", "").strip() or self.options.host
            if given:  # the service refuses a value that is not a port (exit 78)
                if given.isdigit() and int(given):
                    self.probe_urls[name] = f"http://{host}:{int(given)}"
                continue
            port = default if not port_open(host, default) else free_port(host)
            self.probe_urls[name] = f"http://{host}:{port}"
            env[variable] = str(port)
            env[f"MAJOROPS_{name.upper()}_HTTP_HOST"] = host
        return env

    def probed(self, name: str) -> str:
        """``pid 4242, http://127.0.0.1:8082``: a service without an HTTP API and where its probes are."""
        where = f", {self.probe_urls[name]}" if name in self.probe_urls else ""
        return f"pid {self.services[name].pid}{where}"

    def wait_ready(self) -> None:
        urls = {
            "ingest": f"http://{self.options.host}:{self.options.ingest_port}/readyz",
            "reports": f"http://{self.options.host}:{self.options.reports_port}/readyz",
            **{name: f"{url}/readyz" for name, url in self.probe_urls.items()},
        }
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        pending = dict(urls)
        import httpx  # only once the system runs: `majorops --help` stays light

        with httpx.Client(timeout=1.0) as client:
            while pending and time.monotonic() < deadline:
                for name, url in list(pending.items()):
                    proc = self.services[name]
                    if not proc.alive():
                        raise RuntimeError(f"{name} exited during start:\n{proc.last_log_lines()}")
                    try:
                        if client.get(url).status_code == 200:
                            del pending[name]
                    except httpx.HTTPError:
                        pass
                if pending:
                    time.sleep(0.2)
        if pending:
            raise RuntimeError(f"not ready within {READY_TIMEOUT_SECONDS:.0f} s: {', '.join(pending)}")

    def supervise(self) -> None:
        """Restart services that die, until asked to stop."""
        while not self.stopping.wait(0.5):
            for proc in self.services.values():
                if proc.alive() or self.stopping.is_set():
                    continue
                code = proc.process.returncode if proc.process else None
                if code == EX_CONFIG:
                    self.say(
                        f"{proc.name} refuses its configuration (see {proc.log_path}); stopping everything"
                    )
                    self.exit_code = EX_CONFIG
                    self.stopping.set()
                    return
                ran = time.monotonic() - proc.last_start
                proc.restarts = 0 if ran > 60 else proc.restarts + 1
                delay = min(2.0**proc.restarts - 1, MAX_RESTART_DELAY_SECONDS)
                self.say(
                    f"{proc.name} exited with code {code}; restarting in {delay:.0f} s (see {proc.log_path})"
                )
                if self.stopping.wait(delay):
                    return
                proc.start()
                self.say(f"{proc.name} restarted, pid {proc.pid}")
            for node in self.nats.exited() if self.nats is not None else []:
                self.say(f"{node.label} exited; restarting it")
                node.start()

    def stop(self) -> None:
        self.stopping.set()
        # Ingest first, so nothing new is accepted while the consumers drain.
        order = ["ingest", "reports", "policy", "reminders"]
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for name in order:
            if name in self.services:
                self.services[name].terminate()
        for name in order:
            if name in self.services:
                self.services[name].wait_or_kill(deadline)
        if self.nats is not None:
            self.nats.stop()
        self.say("stopped")


def run_up(options: UpOptions) -> int:
    system = System(options)

    def on_signal(signum: int, _frame: object) -> None:
        system.stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        system.start()
        system.supervise()
    except ConfigurationRefused as exc:
        print(f"majorops up: refusing to start: {exc}", file=sys.stderr)
        system.stop()
        return EX_CONFIG
    except (RuntimeError, TimeoutError) as exc:
        print(f"majorops up: {exc}", file=sys.stderr)
        system.stop()
        refused = any(
            p.process is not None and p.process.returncode == EX_CONFIG for p in system.services.values()
        )
        return EX_CONFIG if refused else 1
    system.stop()
    return system.exit_code
