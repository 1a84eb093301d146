"""The ``majorops`` command: ``majorops up`` for the whole system, or one service alone."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from majorops.cli import history, review, send, tail
from majorops.cli.settings_help import SERVICE_SETTINGS, Parser
from majorops.cli.supervisor import SERVICES, run_up
from majorops.cli.up_settings import UpOptions, UpSettings, check_cluster_size, check_sync_interval
from majorops.shared.settings import load_settings

UP_SETTINGS = f"{UpSettings.__module__}:{UpSettings.__name__}"
PORT_FLAGS = ("nats_port", "ingest_port", "reports_port")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="majorops",
        description="MajorOps After Action: turn the incident record into the After Action process.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser(
        "up",
        help="start the whole system on this machine (embedded NATS + four services)",
        description="Start the embedded nats-server and the four services, restart a service that dies,\n"
        "and stop everything on SIGTERM or Ctrl-C.",
        settings=UP_SETTINGS,
        settings_footer="Every other MAJOROPS_* variable is passed on to the services: see "
        "`majorops <service> --help` for what each reads. Each service logs to "
        "<data-dir>/logs/<service>.log, nats-server to <data-dir>/logs/nats-server.log.",
    )
    up.add_argument(
        "--data-dir",
        type=Path,
        help="where JetStream, the SQLite stores and the logs live (env MAJOROPS_DATA_DIR; default ./.majorops)",
    )
    up.add_argument("--nats-port", type=int, help="embedded NATS port (env MAJOROPS_NATS_PORT; 4222)")
    up.add_argument("--ingest-port", type=int, help="ingest HTTP port (env MAJOROPS_INGEST_PORT; 8080)")
    up.add_argument("--reports-port", type=int, help="reports HTTP port (env MAJOROPS_REPORTS_PORT; 8081)")
    up.add_argument(
        "--nats-url",
        help="use an existing NATS (JetStream enabled) instead of the embedded one (env MAJOROPS_NATS_URL)",
    )
    up.add_argument(
        "--nats-sync-interval",
        help="the embedded nats-server's JetStream sync_interval: always (default: fsync before every "
        "acknowledgement), 'default' (the server's own) or a duration such as 10s "
        "(env MAJOROPS_NATS_SYNC_INTERVAL)",
    )
    up.add_argument(
        "--cluster",
        type=int,
        metavar="N",
        help="run N embedded nats-servers (3 or 5) as one JetStream cluster on loopback, on the NATS "
        "port and the ports after it, every stream replicated on each; a node that dies is restarted "
        "(env MAJOROPS_NATS_CLUSTER; default 1)",
    )
    letters = sub.add_parser(
        "deadletter",
        help="list or replay what the services could not process (majorops.deadletter.<service>)",
        description="List the dead letters (what a service gave up on, with the reason), or replay them\n"
        "after the cause is fixed: each is published again to its subject, then removed from the\n"
        "dead-letter stream (idempotent: the services store events, decisions and escalations by id).\n"
        "Exit status: 0 done, 1 a given --seq matched no letter, 2 NATS unreachable or not acknowledging.\n"
        "On a NATS server with users, connect as admin: MAJOROPS_NATS_USER=admin and\n"
        "MAJOROPS_NATS_PASSWORD (and MAJOROPS_NATS_TLS_* for TLS).",
    )
    letters.add_argument("action", choices=("list", "replay"))
    letters.add_argument("--service", choices=SERVICES, help="only this service's letters")
    letters.add_argument(
        "--seq", type=int, action="append", default=[], help="only this letter (repeatable); see `list`"
    )
    letters.add_argument("--json", action="store_true", help="one JSON object per line (list) or a summary")
    letters.add_argument(
        "--nats-url", help="NATS to read from (env MAJOROPS_NATS_URL; default nats://127.0.0.1:4222)"
    )
    sub.add_parser(
        "secrets",
        help="print fresh secrets for a deployment: docker compose's .env, or a Kubernetes Secret",
        description="Print KEY=value lines of fresh secrets for a deployment: the password of every NATS\n"
        "user (MAJOROPS_NATS_PASSWORD_<USER>), of the cluster's routes, and one token per HTTP setting.\n"
        "  majorops secrets > .env && chmod 600 .env                (docker compose)\n"
        "  kubectl create secret generic majorops --from-env-file=.env   (deploy/k8s)\n"
        "Each run prints new ones: keep the file, it is the only copy.",
    )
    # Operator commands against a running system; each module imports its HTTP or NATS client
    # only when run, so `--help` stays light.
    for command in (send, history, review, tail):
        command.add_parser(sub)
    for name in SERVICES:
        sub.add_parser(
            name,
            help=f"run the {name} service alone (configured by MAJOROPS_* variables)",
            description=f"Run the {name} service alone, configured by the environment variables below.",
            settings=SERVICE_SETTINGS[name],
        )
    return parser


def up_options(args: argparse.Namespace) -> UpOptions:
    """The flags, else the environment (checked: a value ``up`` cannot use refuses with exit 78)."""
    for flag in PORT_FLAGS:
        port = getattr(args, flag)
        if port is not None and not 0 < port < 65536:
            raise SystemExit(f"majorops up: --{flag.replace('_', '-')} must be 1..65535, got {port}")
    settings = load_settings(UpSettings, "up")
    return UpOptions(
        data_dir=args.data_dir if args.data_dir is not None else settings.data_dir,
        nats_port=args.nats_port if args.nats_port is not None else settings.nats_port,
        ingest_port=args.ingest_port if args.ingest_port is not None else settings.ingest_port,
        reports_port=args.reports_port if args.reports_port is not None else settings.reports_port,
        nats_url=args.nats_url or settings.nats_url,
        nats_sync_interval=_sync_interval(args.nats_sync_interval, settings.nats_sync_interval),
        nats_cluster=_cluster(args.cluster, settings.nats_cluster),
        stream_replicas=settings.stream_replicas,
        log_max_bytes=settings.log_max_bytes,
        log_backups=settings.log_backups,
    )


def _cluster(flag: int | None, setting: int) -> int:
    if flag is None:
        return setting
    try:
        return check_cluster_size(flag)
    except ValueError as exc:
        raise SystemExit(f"majorops up: --cluster: {exc}") from None


def _sync_interval(flag: str | None, setting: str) -> str:
    if flag is None:
        return setting
    try:
        return check_sync_interval(flag)
    except ValueError as exc:
        raise SystemExit(f"majorops up: --nats-sync-interval: {exc}") from None


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    run = getattr(args, "run", None)
    if run is not None:  # send, import, review, tail
        sys.exit(run(args))
    if args.command == "up":
        sys.exit(run_up(up_options(args)))
    if args.command == "secrets":
        from majorops.cli.credentials import deployment_secrets

        sys.stdout.write("".join(f"{key}={value}\n" for key, value in deployment_secrets().items()))
        return
    if args.command == "deadletter":
        from majorops.cli import deadletters  # only this command needs a NATS client

        url = args.nats_url or os.environ.get("MAJOROPS_NATS_URL") or "nats://127.0.0.1:4222"
        sys.exit(deadletters.main(args.action, url, args.service, args.seq, args.json))
    # One service alone: replace this process, so signals and exit codes are the service's own.
    os.execv(sys.executable, [sys.executable, "-m", f"majorops.{args.command}"])  # noqa: S606


if __name__ == "__main__":
    main()
