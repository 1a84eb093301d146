"""What every benchmark shares: a real nats-server, a scratch dir, and how results are reported."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Result:
    """One measured figure: what, the value, its unit, and the conditions it was measured under."""

    name: str
    value: float
    unit: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class BenchContext:
    """What a module runs with. ``nats_url`` is the shared nats-server; a module that sets
    ``OWN_SERVERS = True`` starts its own servers and gets an empty ``nats_url``."""

    nats_url: str
    scratch: Path
    quick: bool = False
    long: bool = False
    out_dir: Path = Path("bench-results")


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": max(values),
        "mean": statistics.fmean(values),
    }


def write_results(out_dir: Path, module: str, results: list[Result]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{module}.json"
    path.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    return path
