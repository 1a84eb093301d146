"""The system under test: ``majorops up`` in a subprocess, and the CPU/memory/I/O of its processes.

:class:`UpSystem` starts the real CLI and finds its children; :func:`proc_stat` reads
``/proc/<pid>``; :class:`MachineClock` tells how much of the machine other processes took meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.pipeline.plan import CLOCK_TICKS, SERVICES
from majorops.cli.credentials import FILE_NAME as CREDENTIALS_FILE
from majorops.cli.credentials import nats_password_key, read_env_file
from majorops.cli.natsserver import NatsServer, die_with_parent
from majorops.shared.testing import TOKEN_SETTINGS, processes_of, up_command
from majorops.shared.testkit import UpPlaces


@dataclass(frozen=True)
class ProcStat:
    cpu_s: float
    rss_mib: float
    hwm_mib: float
    write_bytes: int
    syscw: int


def proc_stat(pid: int) -> ProcStat | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        status = Path(f"/proc/{pid}/status").read_text()
        io = Path(f"/proc/{pid}/io").read_text()
    except OSError:
        return None
    mem = {}
    for line in status.splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            mem[name] = int(value.split()[0]) / 1024
    counters = {}
    for line in io.splitlines():
        name, _, value = line.partition(":")
        counters[name] = int(value)
    return ProcStat(
        (int(fields[11]) + int(fields[12])) / CLOCK_TICKS,
        mem.get("VmRSS", 0.0),
        mem.get("VmHWM", 0.0),
        counters.get("write_bytes", 0),
        counters.get("syscw", 0),
    )


def children_of(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            out += [int(c) for c in (task / "children").read_text().split()]
    return out


@dataclass
class UpSystem(UpPlaces):
    """``majorops up`` as a user runs it, in a subprocess, on free ports in a scratch data dir."""

    nats_url: str | None = None  # an external nats-server (variant B); None: the embedded one
    external: NatsServer | None = None
    _reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.nats_url or f"nats://127.0.0.1:{self.nats_port}"

    @property
    def reports_db(self) -> Path:
        return self.data_dir / "reports.sqlite3"

    def nats_auth(self) -> dict[str, str]:
        """How a benchmark client connects: as ``admin`` to the embedded server, whose users
        ``majorops up`` generated into the data dir; as nobody to an external server without users."""
        if self.nats_url:
            return {}
        stored = read_env_file(self.data_dir / CREDENTIALS_FILE)
        return {"user": "admin", "password": stored[nats_password_key("admin")]}

    def monitor_url(self) -> str | None:
        if self.external is not None:
            return f"http://127.0.0.1:{self.external.monitor_port}"
        conf = self.data_dir / "nats-server.conf"
        match = re.search(r"^http_port:\s*(\d+)", conf.read_text(), re.MULTILINE) if conf.exists() else None
        return f"http://127.0.0.1:{match.group(1)}" if match else None

    def start(self, timeout: float = 90.0) -> float:
        """Start and wait for the "ready" line; the seconds it took."""
        began = time.monotonic()
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAJOROPS_")}
        env.update({f"MAJOROPS_{name.upper()}": value for name, value in TOKEN_SETTINGS.items()})
        if self.nats_url:
            env["MAJOROPS_NATS_URL"] = self.nats_url
        self.process = subprocess.Popen(
            up_command(self.data_dir, self.nats_port, self.ingest_port, self.reports_port),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        ready = threading.Event()

        def read() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line)
                if line.startswith("ready"):
                    ready.set()

        self._reader = threading.Thread(target=read, name="majorops-up-output", daemon=True)
        self._reader.start()
        while not ready.wait(0.2):
            if self.process.poll() is not None or time.monotonic() - began > timeout:
                raise RuntimeError(
                    "majorops up did not get ready:\n" + "".join(self.output) + self.logs(tail=2000)
                )
        return time.monotonic() - began

    def pids(self) -> dict[str, int]:
        """Service name (and ``nats-server``) → pid, from the supervisor's children."""
        assert self.process is not None
        out: dict[str, int] = {}
        for child in children_of(self.process.pid):
            try:
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            for name in SERVICES:
                if f"-m majorops.{name}" in cmdline:
                    out[name] = child
            if "nats-server" in cmdline:
                out["nats-server"] = child
        if self.external is not None and self.external.process is not None:
            out["nats-server"] = self.external.process.pid
        return out

    def snapshot(self) -> dict[str, ProcStat]:
        """Each process of the system, and the supervisor itself (``majorops up``)."""
        out = {}
        pids = self.pids()
        if self.process is not None:
            pids["supervisor"] = self.process.pid
        for name, pid in pids.items():
            stat = proc_stat(pid)
            if stat is not None:
                out[name] = stat
        return out

    def stop(self, timeout: float = 30.0) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        for pid in processes_of(self.data_dir):  # only what was started for this scratch dir
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def client_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class MachineClock:
    """Machine-wide CPU time (/proc/stat) next to ours, to tell what other processes took meanwhile."""

    at: float
    busy_s: float  # user + nice + system + irq + softirq, every core
    steal_s: float
    ours_s: float  # the system's processes and this client

    @classmethod
    def now(cls, system: UpSystem) -> MachineClock:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        user, nice, sys_, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
        ours = sum(stat.cpu_s for stat in system.snapshot().values()) + client_cpu_seconds()
        return cls(
            time.perf_counter(),
            (user + nice + sys_ + irq + softirq) / CLOCK_TICKS,
            steal / CLOCK_TICKS,
            ours,
        )

    def others_since(self, earlier: MachineClock) -> dict[str, float]:
        """Shares of the machine's capacity (cores × elapsed) over the interval: others, steal, ours."""
        capacity = max((self.at - earlier.at) * (os.cpu_count() or 1), 1e-9)
        ours = self.ours_s - earlier.ours_s
        others = max(self.busy_s - earlier.busy_s - ours, 0.0)
        return {
            "others": others / capacity,
            "steal": (self.steal_s - earlier.steal_s) / capacity,
            "ours": ours / capacity,
        }
