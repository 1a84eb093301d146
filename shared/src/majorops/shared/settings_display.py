"""What a reader of ``--help`` and of the logs is shown of the settings: every variable with its
default and meaning, and a run's values with secrets and URL credentials hidden."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import AliasChoices, AliasPath, SecretBytes, SecretStr
from pydantic_settings import BaseSettings


@dataclass(frozen=True)
class SettingDoc:
    """One setting as ``--help`` lists it."""

    field: str
    variables: tuple[str, ...]
    default: str
    description: str


def env_names(settings_class: type[BaseSettings], field: str) -> tuple[str, ...]:
    """The environment variables a field is read from: its aliases if it has any, else prefix + name."""
    info = settings_class.model_fields[field]
    alias = info.validation_alias if info.validation_alias is not None else info.alias
    if isinstance(alias, str):
        return (alias.upper(),)
    if isinstance(alias, AliasChoices):
        return tuple(choice.upper() for choice in alias.choices if isinstance(choice, str))
    if isinstance(alias, AliasPath):
        return (str(alias.path[0]).upper(),)
    prefix = str(settings_class.model_config.get("env_prefix") or "")
    return (f"{prefix}{field}".upper(),)


def show_value(value: Any) -> str:
    """A setting's value as a person would write it in the environment (secrets never shown)."""
    if isinstance(value, SecretStr | SecretBytes):
        return "(secret)" if value.get_secret_value() else "unset"
    if value is None:
        return "unset"
    if isinstance(value, timedelta):
        return iso_duration(value)
    if isinstance(value, str) and value == "":
        return "empty"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def iso_duration(value: timedelta) -> str:
    """``PT24H``, ``PT90M``, ``PT2S``: the form ``MAJOROPS_ESCALATION_INTERVAL`` is written in."""
    seconds = value.total_seconds()
    for unit, size in (("H", 3600), ("M", 60)):
        if seconds and seconds % size == 0:
            return f"PT{int(seconds // size)}{unit}"
    return f"PT{seconds:g}S"


def setting_docs(settings_class: type[BaseSettings]) -> list[SettingDoc]:
    """Every setting of a settings class, in declaration order (the shared ones first)."""
    docs = []
    for name, info in settings_class.model_fields.items():
        default = info.get_default(call_default_factory=True)
        docs.append(
            SettingDoc(name, env_names(settings_class, name), show_value(default), info.description or "")
        )
    return docs


def redact_url(url: str) -> str:
    """A URL without what may be secret: the password of its user info, its path, query and fragment.

    ``mongodb://app:pw@db:27017/x?tls=true`` → ``mongodb://app:***@db:27017``; a Slack webhook
    (the secret is the path) → ``https://hooks.slack.com/…``.
    """
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        return "***" if url.strip() else url
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.split(':', 1)[0]}:***@{host}" if ":" in user else f"***@{host}"
    tail = "/…" if parts.path.strip("/") or parts.query or parts.fragment else ""
    return urlunsplit((parts.scheme, netloc, "", "", "")) + tail


SECRET_WORDS = ("secret", "password", "token", "credential", "key")
"""Words that mark a setting as secret: its value is never logged nor shown."""


def settings_summary(settings: BaseSettings) -> dict[str, Any]:
    """The settings of a run, for its first log line: every value, secrets and URL credentials hidden."""
    summary: dict[str, Any] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr | SecretBytes):
            summary[name] = show_value(value)
        elif isinstance(value, Path):
            summary[name] = str(value)  # a file's name is not its content (MAJOROPS_NATS_TLS_KEY)
        elif any(word in name for word in SECRET_WORDS) and value:
            summary[name] = "(secret)"
        elif "url" in name and isinstance(value, str) and value:
            summary[name] = ",".join(redact_url(part) for part in value.split(",") if part.strip())
        elif isinstance(value, timedelta):
            summary[name] = iso_duration(value)
        elif value is None or isinstance(value, str | int | float | bool):
            summary[name] = value
        else:
            summary[name] = str(value)
    return summary
