"""The ``majorops`` command: ``majorops up`` for the whole system, or one service alone."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from majorops.cli.supervisor import SERVICES, UpOptions, run_up


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="majorops",
        description="MajorOps After Action: turn the incident record into the After Action process.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the whole system on this machine (embedded NATS + four services)")
    up.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("MAJOROPS_DATA_DIR", ".majorops")),
        help="where JetStream, the SQLite stores and the logs live (env MAJOROPS_DATA_DIR; default ./.majorops)",
    )
    up.add_argument(
        "--nats-port",
        type=int,
        default=_env_int("MAJOROPS_NATS_PORT", 4222),
        help="embedded NATS port (4222)",
    )
    up.add_argument(
        "--ingest-port",
        type=int,
        default=_env_int("MAJOROPS_INGEST_PORT", 8080),
        help="ingest HTTP port (8080)",
    )
    up.add_argument(
        "--reports-port",
        type=int,
        default=_env_int("MAJOROPS_REPORTS_PORT", 8081),
        help="reports HTTP port (8081)",
    )
    up.add_argument(
        "--nats-url",
        default=os.environ.get("MAJOROPS_NATS_URL"),
        help="use an existing NATS (JetStream enabled) instead of the embedded one (env MAJOROPS_NATS_URL)",
    )
    for name in SERVICES:
        sub.add_parser(name, help=f"run the {name} service alone (configured by MAJOROPS_* variables)")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.command == "up":
        for flag in ("nats_port", "ingest_port", "reports_port"):
            port = getattr(args, flag)
            if not 0 < port < 65536:
                raise SystemExit(f"majorops up: --{flag.replace('_', '-')} must be 1..65535, got {port}")
        options = UpOptions(
            data_dir=args.data_dir,
            nats_port=args.nats_port,
            ingest_port=args.ingest_port,
            reports_port=args.reports_port,
            nats_url=args.nats_url,
        )
        sys.exit(run_up(options))
    # One service alone: replace this process, so signals and exit codes are the service's own.
    os.execv(sys.executable, [sys.executable, "-m", f"majorops.{args.command}"])  # noqa: S606


if __name__ == "__main__":
    main()
