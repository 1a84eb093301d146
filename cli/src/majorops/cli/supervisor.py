"""``majorops up``: the embedded nats-server and the four services as separate processes.

The supervisor restarts a service that dies (a crash, an OOM kill, ``kill -9``, or its own watchdog
ending it because a loop stalled: :mod:`majorops.shared.heartbeat`) with back-off, restarts a
nats-server whose JetStream stopped storing (a full disk: :mod:`majorops.cli.nats_health`), and
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
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from majorops.cli.credentials import ISSUED, Credentials, load_or_generate
from majorops.cli.nats_health import JetStreamHealer
from majorops.cli.natsserver import NatsCluster, NatsServer, free_port, port_open
from majorops.cli.service_process import ServiceProcess
from majorops.cli.up_settings import ConfigurationRefused, UpOptions, show_size
from majorops.shared import nats_access
from majorops.shared.private_files import private_dir
from majorops.shared.settings import EX_CONFIG
from majorops.shared.settings_display import redact_url

SERVICES = ("ingest", "policy", "reminders", "reports")
PROBE_PORTS = {"policy": 8082, "reminders": 8083}
"""Default ports of the probes (/healthz, /readyz, /metrics) of the services without an HTTP API."""
READY_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 15.0
MAX_RESTART_DELAY_SECONDS = 30.0


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
    healer: JetStreamHealer = field(init=False)

    def __post_init__(self) -> None:
        self.healer = JetStreamHealer(self.say)

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
        private_dir(opts.data_dir)  # 0700: the stores, logs and secrets are the owner's only
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
                replicator_password=self.credentials.nats_passwords[nats_access.REPLICATOR],
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
            if self.nats is not None and not self.stopping.is_set():
                self.healer.check(self.nats.nodes if isinstance(self.nats, NatsCluster) else [self.nats])

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
