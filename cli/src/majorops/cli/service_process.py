"""One service of ``majorops up`` as a child process: started with its output appended to its log
file, dying with the supervisor, stopped by SIGTERM and, past the deadline, SIGKILL."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from majorops.cli.natsserver import die_with_parent
from majorops.shared.logging import open_private_log


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
        log = open_private_log(self.log_path)
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
