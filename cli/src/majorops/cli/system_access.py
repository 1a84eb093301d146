"""What the operator commands (``send``, ``import``, ``review``, ``tail``) share: where a running
system is, the credentials to reach it, one HTTP call with retries, and the exit statuses scripts
rely on.

Where and who, each from the first place that has it:

- the flag (``--ingest-url``, ``--reports-url``, ``--nats-url``, ``--token``, ``--data-dir``);
- the environment: ``MAJOROPS_INGEST_URL`` (else ``http://127.0.0.1:$MAJOROPS_INGEST_PORT``),
  ``MAJOROPS_REPORTS_URL`` (``…:$MAJOROPS_REPORTS_PORT``), ``MAJOROPS_NATS_URL``
  (``nats://127.0.0.1:$MAJOROPS_NATS_PORT``); secrets as ``MAJOROPS_INGEST_TOKEN``,
  ``MAJOROPS_REPORTS_READ_TOKEN``, ``MAJOROPS_NATS_CONSUMER_PASSWORD``, or the shell variables
  ``. <data-dir>/credentials.env`` sets (``$INGEST_TOKEN``, ``$REPORTS_READ_TOKEN``,
  ``$NATS_CONSUMER_PASSWORD``);
- ``<data-dir>/credentials.env`` itself, which ``majorops up`` writes (``--data-dir``, else
  ``MAJOROPS_DATA_DIR``, else ``./.majorops``);
- the defaults of ``majorops up``: ports 8080, 8081 and 4222 on 127.0.0.1.

Nothing heavy is imported here at module level: ``majorops <command> --help`` must not load an HTTP
client or a broker.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from majorops.cli.credentials import FILE_NAME, read_env_file

if TYPE_CHECKING:
    import httpx

# --- exit statuses (sysexits.h where one fits) -------------------------------------------------------

EXIT_OK = 0
EXIT_PARTIAL = 1
"""The command ran, but not everything went as asked: some events were rejected (the others went
in), no review exists for the incident, ``tail --count`` was not reached before ``--timeout``."""
EXIT_USAGE = 2
"""A flag or argument that cannot be used (argparse's own status)."""
EXIT_DATAERR = 65
"""The input as a whole cannot be used (a CSV header without the required columns)."""
EXIT_NOINPUT = 66
"""The input file cannot be read."""
EXIT_UNAVAILABLE = 69
"""The service did not answer, or kept failing (5xx) after the retries."""
EXIT_NOPERM = 77
"""No credentials found, or the service refused them (401, 403, NATS authorization violation)."""
EXIT_INTERRUPTED = 130
"""Ctrl-C or SIGTERM stopped ``send`` or ``import`` midway (a summary of what was done is printed;
``import`` keeps its checkpoint)."""

EXIT_STATUS_LINES: Mapping[int, str] = {
    EXIT_OK: "done",
    EXIT_USAGE: "usage: a flag or argument that cannot be used",
    EXIT_DATAERR: "the input as a whole cannot be used",
    EXIT_NOINPUT: "the input file cannot be read",
    EXIT_UNAVAILABLE: "the service is unreachable or kept failing",
    EXIT_NOPERM: "no credentials found, or refused",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C, SIGTERM)",
}


def exit_status_help(partial: str, *statuses: int) -> str:
    """The ``exit status`` paragraph of a command's help: 0, 1 (what it means for this command), then
    the given statuses."""
    lines = [
        "exit status:",
        f"  {EXIT_OK:>3}  {EXIT_STATUS_LINES[EXIT_OK]}",
        f"  {EXIT_PARTIAL:>3}  {partial}",
    ]
    lines += [f"  {status:>3}  {EXIT_STATUS_LINES[status]}" for status in sorted(statuses)]
    return "\n".join(lines)


class CommandFailed(Exception):
    """Stop the command with this exit status and one line on stderr."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def run_command(name: str, body: Callable[[], int]) -> int:
    """Run a command's body; a :class:`CommandFailed` becomes its line on stderr and its status."""
    try:
        return body()
    except CommandFailed as failed:
        print(f"majorops {name}: {failed.message}", file=sys.stderr)
        return failed.status


# --- where the system is, and the credentials ----------------------------------------------------------

DEFAULT_DATA_DIR = Path(".majorops")
DEFAULT_HOST = "127.0.0.1"


@dataclass(frozen=True)
class Secret:
    """One credential an operator command needs: where to look for it, in order."""

    what: str
    variables: tuple[str, ...]
    """Environment variables, the ``MAJOROPS_*`` one first, then the shell variable of credentials.env."""
    file_key: str
    """Its key in ``<data-dir>/credentials.env``."""

    def describe(self) -> str:
        return " or ".join(f"${name}" for name in self.variables)


INGEST_TOKEN = Secret("ingest token", ("MAJOROPS_INGEST_TOKEN", "INGEST_TOKEN"), "INGEST_TOKEN")
REPORTS_READ_TOKEN = Secret(
    "reports read token", ("MAJOROPS_REPORTS_READ_TOKEN", "REPORTS_READ_TOKEN"), "REPORTS_READ_TOKEN"
)
NATS_CONSUMER_PASSWORD = Secret(
    "NATS consumer password",
    ("MAJOROPS_NATS_CONSUMER_PASSWORD", "NATS_CONSUMER_PASSWORD"),
    "NATS_CONSUMER_PASSWORD",
)


def data_dir_of(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> Path:
    given = getattr(args, "data_dir", None)
    if given is not None:
        return Path(given)
    return Path(environ.get("MAJOROPS_DATA_DIR") or DEFAULT_DATA_DIR)


def secret_of(
    secret: Secret, flag: str | None, data_dir: Path, environ: Mapping[str, str] = os.environ
) -> str | None:
    """The flag's value, else the first variable set, else the data dir's credentials file."""
    if flag:
        return flag
    for name in secret.variables:
        if environ.get(name, "").strip():
            return environ[name].strip()
    try:
        stored = read_env_file(data_dir / FILE_NAME)
    except OSError as exc:
        raise CommandFailed(EXIT_NOPERM, f"cannot read {data_dir / FILE_NAME}: {exc.strerror}") from None
    return stored.get(secret.file_key) or None


def required_secret(
    secret: Secret, flag: str | None, data_dir: Path, environ: Mapping[str, str] = os.environ
) -> str:
    found = secret_of(secret, flag, data_dir, environ)
    if found is None:
        raise CommandFailed(
            EXIT_NOPERM,
            f"no {secret.what}: set {secret.describe()}, or run where {data_dir / FILE_NAME} is "
            "(majorops up writes it; --data-dir says where)",
        )
    return found


def url_of(
    flag: str | None,
    variable: str,
    port_variable: str,
    default_port: int,
    scheme: str = "http",
    environ: Mapping[str, str] = os.environ,
) -> str:
    """The flag, else ``$<variable>``, else ``<scheme>://127.0.0.1:<$port_variable or default_port>``."""
    if flag:
        return flag.rstrip("/")
    if environ.get(variable, "").strip():
        return environ[variable].strip().rstrip("/")
    port = environ.get(port_variable, "").strip() or str(default_port)
    return f"{scheme}://{DEFAULT_HOST}:{port}"


def ingest_url(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> str:
    return url_of(args.ingest_url, "MAJOROPS_INGEST_URL", "MAJOROPS_INGEST_PORT", 8080, environ=environ)


def reports_url(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> str:
    return url_of(args.reports_url, "MAJOROPS_REPORTS_URL", "MAJOROPS_REPORTS_PORT", 8081, environ=environ)


def nats_url(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> str:
    return url_of(args.nats_url, "MAJOROPS_NATS_URL", "MAJOROPS_NATS_PORT", 4222, "nats", environ)


# --- arguments every operator command has --------------------------------------------------------------

RETRY_SECONDS = 15.0


def add_data_dir_argument(parser: argparse.ArgumentParser, secret: Secret) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        help=f"the data dir of `majorops up`, whose credentials.env gives the {secret.what} when none "
        "is set (env MAJOROPS_DATA_DIR; default ./.majorops)",
    )


def add_http_arguments(parser: argparse.ArgumentParser, service: str, secret: Secret) -> None:
    """``--<service>-url``, ``--token``, ``--data-dir``, ``--retry-for`` and ``--json``."""
    port = {"ingest": 8080, "reports": 8081}[service]
    parser.add_argument(
        f"--{service}-url",
        metavar="URL",
        help=f"{service}'s base URL (env MAJOROPS_{service.upper()}_URL; default "
        f"http://127.0.0.1:$MAJOROPS_{service.upper()}_PORT, port {port})",
    )
    parser.add_argument(
        "--token",
        help=f"the {secret.what} (visible to other users in `ps`: prefer {secret.describe()}, "
        f"else {secret.file_key} of <data-dir>/credentials.env is used)",
    )
    add_data_dir_argument(parser, secret)
    parser.add_argument(
        "--retry-for",
        type=float,
        default=RETRY_SECONDS,
        metavar="SECONDS",
        help=f"keep retrying an unreachable or failing (5xx, 429) {service} this long before giving "
        "up with exit status 69 (default: %(default)s)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")


def where_help(*lines: str) -> str:
    """The ``settings`` paragraph of a command's help."""
    return "\n".join(
        ["settings (a flag wins over the environment, which wins over credentials.env):", *lines]
    )


def command_epilog(partial: str, statuses: Sequence[int], where: Sequence[str], note: str = "") -> str:
    """What a command's ``--help`` says after its options: its exit statuses (:func:`exit_status_help`;
    ``note`` right after them), then where it finds its settings (:func:`where_help`)."""
    return exit_status_help(partial, *statuses) + note + "\n\n" + where_help(*where)


# --- HTTP --------------------------------------------------------------------------------------------

REQUEST_TIMEOUT_SECONDS = 60.0
"""One request's limit: a batch of 1000 events waits for JetStream to acknowledge (and fsync) each."""


@dataclass(frozen=True)
class HttpService:
    """One HTTP service of the system, as a command calls it."""

    name: str
    base_url: str
    token: str
    retry_for: float = RETRY_SECONDS

    def client(self) -> httpx.Client:
        import httpx

        return httpx.Client(
            base_url=self.base_url,
            headers={"authorization": f"Bearer {self.token}"},
            timeout=REQUEST_TIMEOUT_SECONDS,
        )

    def call(
        self,
        client: httpx.Client,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """The service's answer, retried while it is unreachable or answers 5xx/429 (a restarting
        service, JetStream not acknowledging; both idempotent here) for up to ``retry_for`` seconds.
        401/403 raise :class:`CommandFailed` (77); giving up raises it with 69."""
        import httpx

        deadline = time.monotonic() + self.retry_for
        delay = 0.25
        while True:
            why: str
            wait = delay
            try:
                response = client.request(method, path, content=content, headers=headers)
            except httpx.TransportError as exc:
                why = f"cannot reach {self.name} at {self.base_url}: {exc or type(exc).__name__}"
            else:
                if response.status_code in (401, 403):
                    raise CommandFailed(
                        EXIT_NOPERM,
                        f"{self.name} at {self.base_url} refused the token "
                        f"({response.status_code}: {problem_detail(response)})",
                    )
                if response.status_code != 429 and response.status_code < 500:
                    return response
                why = f"{self.name} at {self.base_url} answered {response.status_code}: {problem_detail(response)}"
                wait = max(delay, min(_retry_after(response), 10.0))
            if time.monotonic() + wait > deadline:
                raise CommandFailed(EXIT_UNAVAILABLE, why)
            time.sleep(wait)
            delay = min(delay * 2, 4.0)


def _retry_after(response: httpx.Response) -> float:
    try:
        return float(response.headers.get("retry-after", "0"))
    except ValueError:
        return 0.0


def problem_of(response: httpx.Response) -> dict[str, Any]:
    """The RFC 9457 problem document of an answer ({} when it is not one)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def problem_detail(response: httpx.Response) -> str:
    problem = problem_of(response)
    return str(problem.get("detail") or problem.get("title") or response.reason_phrase or "no detail")


def problem_slug(response: httpx.Response) -> str:
    return str(problem_of(response).get("type", "")).rsplit("/", 1)[-1]


def print_json(value: Any) -> None:
    import json

    sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")


def write_lines(lines: Sequence[str]) -> None:
    sys.stdout.write("".join(f"{line}\n" for line in lines))
