"""What a campaign run reports: every check with its count and a few examples, and the figures.

Kept apart from the run (``chaos.campaign``) and the checks (``chaos.checks``), which both fill it;
``python -m chaos`` prints it and writes it as JSON (``summary.json``, ``--report``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SHOWN = 5


@dataclass
class Check:
    name: str
    count: int
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.count == 0


@dataclass
class Outcome:
    seed: int
    plan: str
    checks: list[Check] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def check(self, name: str, bad: list[str] | set[str]) -> None:
        items = sorted(bad)
        self.checks.append(Check(name, len(items), items[:SHOWN]))

    def as_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "plan": self.plan,
            "ok": self.ok,
            "checks": [asdict(c) for c in self.checks],
            "figures": self.figures,
        }
