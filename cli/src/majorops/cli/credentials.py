"""The secrets of ``majorops up``: taken from the environment, else from ``<data-dir>/credentials.env``,
else generated there on first start (mode 0600) and kept for the next starts.

The file is a shell file: ``. .majorops/credentials.env`` puts the tokens in a shell as
``$INGEST_TOKEN``, ``$REPORTS_READ_TOKEN`` and ``$REPORTS_WRITE_TOKEN`` (what the README's examples
send) next to the settings the services read (``MAJOROPS_INGEST_TOKENS=local:…``). Only generated
secrets are written there; one given in the environment stays where it was given.
"""

from __future__ import annotations

import os
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from majorops.shared.access import new_secret, parse_tokens
from majorops.shared.nats_access import USER_NAMES
from majorops.shared.private_files import private_dir

FILE_NAME = "credentials.env"
HEADER = """\
# Written by `majorops up` when it generated these secrets (first start). Keep this file private
# (mode 0600). `. {path}` puts the tokens in your shell for the README's examples.
# Rotate: put new values here (or set the MAJOROPS_* variables) and restart; see SECURITY.md.
"""


@dataclass(frozen=True)
class Issued:
    """One access secret of the system: the setting the services read, the token's name in it, and
    the shell variable the README's examples use."""

    setting: str
    token_name: str | None
    shell: str


ISSUED: tuple[Issued, ...] = (
    Issued("MAJOROPS_INGEST_TOKENS", "local", "INGEST_TOKEN"),
    Issued("MAJOROPS_REPORTS_READ_TOKENS", "local-reader", "REPORTS_READ_TOKEN"),
    Issued("MAJOROPS_REPORTS_WRITE_TOKENS", "local-editor", "REPORTS_WRITE_TOKEN"),
    Issued("MAJOROPS_NATS_CONSUMER_PASSWORD", None, "NATS_CONSUMER_PASSWORD"),
)
NATS_USERS = ("admin", "ingest", "policy", "reminders", "reports", "replicator")
"""The embedded nats-server's own users; their passwords never leave the data dir and the children."""


ROUTE_PASSWORD_KEY = "NATS_ROUTE_PASSWORD"  # noqa: S105 - the name of a setting
"""The password the nodes of ``majorops up --cluster`` authenticate their routes with."""


def nats_password_key(user: str) -> str:
    return f"NATS_{user.upper()}_PASSWORD"


@dataclass
class Credentials:
    """Every secret of one ``majorops up`` and where each came from."""

    path: Path
    settings: dict[str, str] = field(default_factory=dict)
    """``MAJOROPS_*`` access settings for the services (from the environment or the file)."""
    nats_passwords: dict[str, str] = field(default_factory=dict)
    route_password: str | None = None
    """Of the cluster's routes (``majorops up --cluster``); kept once generated."""
    from_environment: list[str] = field(default_factory=list)
    generated: list[str] = field(default_factory=list)

    def nats_users(self) -> dict[str, str]:
        """Every user of the embedded nats-server with its password (``consumer`` included)."""
        return {**self.nats_passwords, "consumer": self.settings["MAJOROPS_NATS_CONSUMER_PASSWORD"]}

    def shell_value(self, shell: str) -> str | None:
        """What ``$<shell>`` holds after sourcing the file (None when that secret is not in it)."""
        return read_env_file(self.path).get(shell)


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines of a credentials file (comments and blank lines skipped)."""
    if not path.exists():
        return {}
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        text = line.strip()
        if not text or text.startswith("#") or "=" not in text:
            continue
        key, _, value = text.partition("=")
        values[key.strip()] = value.strip()
    return values


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a file only its owner can read, whatever the umask, replacing it atomically."""
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def load_or_generate(
    data_dir: Path, environ: Mapping[str, str], *, embedded_nats: bool, cluster: bool = False
) -> Credentials:
    """The secrets for this start; generates and stores those neither given nor stored before
    (with ``cluster``, also the password of the embedded cluster's routes).

    A value in the environment wins and is checked like the services check it (a malformed one
    stops ``majorops up`` with the services' own message). ``ValueError`` says what is wrong.
    """
    path = data_dir / FILE_NAME
    stored = read_env_file(path)
    credentials = Credentials(path)
    keep: dict[str, str] = {}
    for issued in ISSUED:
        given = environ.get(issued.setting, "").strip()
        if given:
            if issued.token_name is not None:
                parse_tokens(given, issued.setting)
            credentials.settings[issued.setting] = given
            credentials.from_environment.append(issued.setting)
            continue
        value = stored.get(issued.setting)
        secret = stored.get(issued.shell)
        if value is None or secret is None:
            secret = new_secret()
            value = secret if issued.token_name is None else f"{issued.token_name}:{secret}"
            credentials.generated.append(issued.setting)
        elif issued.token_name is not None:
            parse_tokens(value, f"{issued.setting} in {path}")
        credentials.settings[issued.setting] = value
        keep[issued.setting] = value
        keep[issued.shell] = secret
    if embedded_nats:
        for user in NATS_USERS:
            key = nats_password_key(user)
            password = stored.get(key)
            if password is None:
                password = new_secret()
                credentials.generated.append(key)
            credentials.nats_passwords[user] = password
            keep[key] = password
        route = stored.get(ROUTE_PASSWORD_KEY)
        if cluster and route is None:
            route = new_secret()
            credentials.generated.append(ROUTE_PASSWORD_KEY)
        if route is not None:
            credentials.route_password = route
            keep[ROUTE_PASSWORD_KEY] = route
    if credentials.generated or set(keep) != set(stored):
        private_dir(data_dir)
        lines = [HEADER.format(path=path)] + [f"{key}={value}\n" for key, value in keep.items()]
        write_private(path, "".join(lines))
    elif path.exists() and path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)  # someone widened it: secrets are for the owner only
    return credentials


DEPLOYMENT_TOKEN_NAMES = {
    "MAJOROPS_INGEST_TOKENS": "sender",
    "MAJOROPS_REPORTS_READ_TOKENS": "reader",
    "MAJOROPS_REPORTS_WRITE_TOKENS": "editor",
}
"""The token each generated HTTP setting of a deployment starts with (add more ``name:secret``
pairs, one per sender or team, by hand)."""


_LETTERS = string.ascii_letters
_ALPHANUMERIC = string.ascii_letters + string.digits


def nats_env_secret(length: int = 43) -> str:
    """A password nats-server can read from an environment variable (``password: $VARIABLE``).

    nats-server parses a variable's value as configuration, not as a string: a value starting with
    ``-`` or a digit may become a number or refuse the whole file (``-abc``: parse error, ``12345``:
    not a string), and punctuation may end it early. So: a letter, then letters and digits only
    (43 characters: about 256 bits).
    """
    return secrets.choice(_LETTERS) + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length - 1))


def deployment_secrets() -> dict[str, str]:
    """Fresh secrets for a deployment's ``.env`` (docker compose) or Kubernetes Secret
    (``majorops secrets``): every NATS user's password as nats-server reads it
    (``MAJOROPS_NATS_PASSWORD_<USER>``, :func:`nats_env_secret`), the cluster routes' password and
    the HTTP tokens."""
    values = {f"MAJOROPS_NATS_PASSWORD_{user.upper()}": nats_env_secret() for user in USER_NAMES}
    values["MAJOROPS_NATS_ROUTE_PASSWORD"] = nats_env_secret()
    for setting, name in DEPLOYMENT_TOKEN_NAMES.items():
        values[setting] = f"{name}:{new_secret()}"
    return values
