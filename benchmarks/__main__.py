"""``python -m benchmarks [--quick] [--long] [name …]`` — run the benchmarks and report honest numbers.

Each benchmark is a module with a ``run(ctx)`` (``pipeline``'s is :mod:`benchmarks.pipeline.runner`).
Most run against one shared nats-server started here. A module that sets ``OWN_SERVERS = True``
(``pipeline``) starts its own servers and system and ignores ``ctx.nats_url``; the shared server is
only started when a module that needs it runs.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import platform
import tempfile
import time
from pathlib import Path

from benchmarks.harness import BenchContext, Result, write_results
from majorops.cli.natsserver import NatsServer, free_port
from majorops.shared.logging import configure_logging

ENTRY_POINTS = {
    "ingest": "benchmarks.ingest",
    "policy": "benchmarks.policy",
    "reminders": "benchmarks.reminders",
    "reports": "benchmarks.reports",
    "pipeline": "benchmarks.pipeline.runner",
    "mirrors": "benchmarks.mirrors",
}
"""Each benchmark's name and the module whose ``run(ctx)`` runs it."""
MODULES = tuple(ENTRY_POINTS)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("names", nargs="*", default=list(MODULES), help=f"any of {', '.join(MODULES)}")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument(
        "--long",
        action="store_true",
        help="long runs where a module has one (pipeline: memory over 1,000,000 events)",
    )
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    args = parser.parse_args()
    configure_logging("bench", "WARNING")
    with tempfile.TemporaryDirectory(prefix="majorops-bench-") as tmp:
        scratch = Path(tmp)
        server: NatsServer | None = None
        try:
            print(
                f"# machine: {platform.processor() or platform.machine()}, python {platform.python_version()}"
            )
            for name in args.names:
                module = importlib.import_module(ENTRY_POINTS[name])
                nats_url = ""
                if not getattr(module, "OWN_SERVERS", False):
                    if server is None:
                        server = NatsServer(
                            data_dir=scratch / "nats", port=free_port(), log_file=scratch / "nats.log"
                        )
                        server.start()
                    nats_url = server.url
                ctx = BenchContext(
                    nats_url=nats_url,
                    scratch=scratch / name,
                    quick=args.quick,
                    long=args.long,
                    out_dir=args.out,
                )
                ctx.scratch.mkdir(parents=True, exist_ok=True)
                began = time.perf_counter()
                outcome = module.run(ctx)
                results: list[Result] = asyncio.run(outcome) if inspect.iscoroutine(outcome) else outcome
                print(f"\n## {name} ({time.perf_counter() - began:.1f} s)")
                for r in results:
                    extra = ", ".join(f"{k}={v}" for k, v in r.detail.items())
                    print(f"{r.name:<60} {r.value:>12.3f} {r.unit:<8} {extra}")
                print(f"-> {write_results(args.out, name, results)}")
        finally:
            if server is not None:
                server.stop()


if __name__ == "__main__":
    main()
