"""The accounts of :mod:`majorops.shared.nats_access` as nats-server configuration.

One structure (:func:`accounts_config`), written two ways: nats-server's own syntax
(:func:`accounts_block`, for ``majorops up``'s embedded server and ``deploy/nats-server.conf``) and
the values of the official Helm chart (``deploy/k8s/nats-values.yaml``, where a password is the raw
``<< $VARIABLE >>``). Tests check both deployment files against it.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from majorops.shared.nats_access import (
    ACCOUNTS,
    EXPORTS,
    MAJOROPS_ACCOUNT,
    OTHERS_ACCOUNT,
    USER_NAMES,
    USERS,
    NatsUser,
    Permissions,
)


@dataclass(frozen=True)
class EnvPassword:
    """A password nats-server reads from an environment variable when it loads its config
    (``password: $VARIABLE``), so the config file holds no secret."""

    variable: str

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.variable):
            raise ValueError(f"{self.variable!r} is not an environment variable name")


Password = str | EnvPassword

_PLAIN_PASSWORD = re.compile(r"[\x21-\x7e]+")


def checked_password(password: str) -> str:
    if not _PLAIN_PASSWORD.fullmatch(password) or '"' in password or "\\" in password:
        raise ValueError("a NATS password is printable ASCII without spaces, quotes or backslashes")
    if password.startswith("$2"):
        raise ValueError("a NATS password must not start with '$2' (nats-server takes it for a bcrypt hash)")
    return password


def env_passwords(prefix: str = "MAJOROPS_NATS_PASSWORD_") -> dict[str, Password]:
    """Every user with its password read by nats-server from ``<prefix><USER>`` (the reference config)."""
    return {name: EnvPassword(f"{prefix}{name.upper()}") for name in USER_NAMES}


def _permissions(perms: Permissions) -> dict[str, Any]:
    publish: dict[str, Any] = {"allow": list(perms.publish)}
    if perms.publish_deny:
        publish["deny"] = list(perms.publish_deny)
    subscribe: dict[str, Any] = {"allow": list(perms.subscribe)}
    if perms.subscribe_deny:
        subscribe["deny"] = list(perms.subscribe_deny)
    entry: dict[str, Any] = {"publish": publish, "subscribe": subscribe}
    if perms.allow_responses:
        entry["allow_responses"] = True
    return entry


def _user(nats_user: NatsUser, password: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"user": nats_user.name, "password": password}
    if nats_user.permissions is not None:
        entry["permissions"] = _permissions(nats_user.permissions)
    return entry


def _exports() -> list[dict[str, Any]]:
    return [{export.kind: export.subject, "accounts": [OTHERS_ACCOUNT]} for export in EXPORTS]


def _imports() -> list[dict[str, Any]]:
    imports: list[dict[str, Any]] = []
    for export in EXPORTS:
        entry: dict[str, Any] = {export.kind: {"account": MAJOROPS_ACCOUNT, "subject": export.subject}}
        if export.local is not None:
            entry["to"] = export.local
        imports.append(entry)
    return imports


def accounts_config(
    passwords: Mapping[str, Any], password_value: Callable[[Any], Any] = lambda p: p
) -> dict[str, Any]:
    """nats-server's ``accounts`` map for the users given (user → password, each written as
    ``password_value`` makes it): ``MAJOROPS`` with its exports, ``OTHERS`` with its imports.

    Only the users given can connect; a connection without a user (or with a wrong password) is
    refused. Give every user of :data:`~majorops.shared.nats_access.USERS` for the whole system.
    """
    unknown = sorted(set(passwords) - set(USER_NAMES))
    if unknown:
        raise ValueError(f"unknown NATS user(s) {unknown}; the users are {', '.join(USER_NAMES)}")
    if not passwords:
        raise ValueError("the accounts need at least one user")
    accounts: dict[str, Any] = {}
    for account in ACCOUNTS:
        users = [
            _user(nats_user, password_value(passwords[nats_user.name]))
            for nats_user in USERS
            if nats_user.account == account and nats_user.name in passwords
        ]
        accounts[account] = {"jetstream": "enabled", "users": users}
    accounts[MAJOROPS_ACCOUNT]["exports"] = _exports()
    accounts[OTHERS_ACCOUNT]["imports"] = _imports()
    return accounts


def helm_accounts(prefix: str = "MAJOROPS_NATS_PASSWORD_") -> dict[str, Any]:
    """:func:`accounts_config` in the Helm chart's values form: each password ``<< $VARIABLE >>``."""
    return accounts_config(env_passwords(prefix), lambda p: f"<< ${p.variable} >>")


# --- nats-server's config syntax ------------------------------------------------------------------


def _conf_value(value: Any) -> str:
    if isinstance(value, EnvPassword):
        return f"${value.variable}"
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"'


def _conf(value: Any, indent: str) -> str:
    inner = indent + "  "
    if isinstance(value, Mapping):
        lines = [f"{inner}{key}: {_conf(item, inner)}" for key, item in value.items()]
        return "{\n" + "\n".join(lines) + f"\n{indent}}}"
    if isinstance(value, list):
        return "[\n" + "".join(f"{inner}{_conf(item, inner)}\n" for item in value) + f"{indent}]"
    return _conf_value(value)


def _inline(value: Any) -> str:
    """A short map or list on one line: ``{ service: "x", accounts: ["OTHERS"] }``."""
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{key}: {_inline(item)}" for key, item in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_inline(item) for item in value) + "]"
    return _conf_value(value)


def _purpose(name: str, indent: str) -> Iterable[str]:
    nats_user = next(candidate for candidate in USERS if candidate.name == name)
    return textwrap.wrap(
        f"{nats_user.name}: {nats_user.purpose}",
        100,
        initial_indent=f"{indent}# ",
        subsequent_indent=f"{indent}#   ",
        break_on_hyphens=False,
    )


def accounts_block(passwords: Mapping[str, Password]) -> str:
    """nats-server's ``accounts { … }`` for the users given (user → password), with each user's
    purpose as a comment above it."""
    config = accounts_config(passwords, lambda p: p if isinstance(p, EnvPassword) else checked_password(p))
    lines = ["accounts {"]
    for account, body in config.items():
        lines.append(f"  {account}: {{")
        lines.append(f"    jetstream: {body['jetstream']}")
        lines.append("    users: [")
        for entry in body["users"]:
            lines.extend(_purpose(entry["user"], "      "))
            lines.append(f"      {_conf(entry, '      ')}")
        lines.append("    ]")
        for key in ("exports", "imports"):
            if key in body:
                lines.append(f"    {key}: [")
                lines.extend(f"      {_inline(entry)}" for entry in body[key])
                lines.append("    ]")
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"
