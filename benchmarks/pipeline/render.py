"""Building blocks of the report: number formatting, Markdown tables, goals, the machine and versions.

The report sections and :func:`build_report` share these; nothing here knows about a phase.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.harness import Result, percentile
from majorops.cli.natsserver import nats_server_binary

PROCS = ("ingest", "policy", "reminders", "reports", "nats-server")


def fmt_rate(value: float | None) -> str:
    return "not reached" if value is None else f"{value:,.0f} events/s"


def pct(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return "—"
    return f"{100 * value / base:.1f} %"


def ms(values: list[float]) -> str:
    if not values:
        return "none"
    return f"{percentile(values, 50):,.0f} / {percentile(values, 99):,.0f} / {max(values):,.0f}"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return [*out, ""]


@dataclass
class Goal:
    text: str
    figure: str
    met: bool | None


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def result(self, name: str, value: float | None, unit: str, **detail: Any) -> None:
        if value is not None:
            self.results.append(Result(name, value, unit, detail))


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    try:
        line = subprocess.run(
            [nats_server_binary(), "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
        out["nats-server"] = line.split()[-1] if line else "?"
    except (OSError, subprocess.SubprocessError):
        out["nats-server"] = "?"
    try:
        root = Path(__file__).resolve().parents[2]  # the repository root
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "services", "shared", "cli"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.splitlines()
        if head:
            out["code"] = f"commit {head}" + (f" + {len(dirty)} uncommitted files" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    for dist in ("nats-py", "faststream", "httpx", "uvicorn", "fastapi", "aiosqlite"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out[dist] = importlib.metadata.version(dist)
    return out


def machine() -> dict[str, str]:
    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    ram = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return {"cores": str(os.cpu_count()), "cpu": model, "ram": ram, "kernel": platform.release()}
