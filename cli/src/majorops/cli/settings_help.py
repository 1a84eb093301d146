"""``majorops <service> --help``: the settings a service reads, generated from its settings class.

Only the service's ``config`` module is imported, and only when help is asked for: neither the
broker client nor the web framework is loaded to print a list of variables.
"""

from __future__ import annotations

import argparse
import importlib
import textwrap
from typing import Any

from pydantic_settings import BaseSettings

from majorops.shared.settings import setting_docs

SERVICE_SETTINGS = {
    "ingest": "majorops.ingest.config:IngestSettings",
    "policy": "majorops.policy.config:PolicySettings",
    "reminders": "majorops.reminders.config:RemindersSettings",
    "reports": "majorops.reports.config:ReportsSettings",
}
"""Where each service's settings class lives, as ``module:class``."""

WIDTH = 100


def settings_class(reference: str) -> type[BaseSettings]:
    """The class named by ``module:class``."""
    module, _, name = reference.partition(":")
    found = getattr(importlib.import_module(module), name)
    if not (isinstance(found, type) and issubclass(found, BaseSettings)):
        raise TypeError(f"{reference} is not a settings class")
    return found


def settings_epilog(settings: type[BaseSettings], footer: str = "") -> str:
    """Every environment variable the class reads, with its default and its description."""
    lines = ["environment variables (read at start; a value that cannot be used refuses it, exit 78):"]
    for doc in setting_docs(settings):
        lines.append(f"  {' or '.join(doc.variables)}  (default: {doc.default})")
        if doc.description:
            lines.extend(wrap(doc.description, indent=6))
    if footer:
        lines.extend(["", *wrap(footer)])
    return "\n".join(lines)


def wrap(text: str, indent: int = 0) -> list[str]:
    """Lines of at most :data:`WIDTH` characters, never breaking a word at its hyphen."""
    pad = " " * indent
    return textwrap.wrap(text, WIDTH, initial_indent=pad, subsequent_indent=pad, break_on_hyphens=False)


class Parser(argparse.ArgumentParser):
    """An argument parser whose help ends with the settings of ``settings`` (``module:class``),
    generated only when the help is printed."""

    def __init__(
        self, *args: Any, settings: str | None = None, settings_footer: str = "", **kwargs: Any
    ) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)
        self.settings_reference = settings
        self.settings_footer = settings_footer

    def format_help(self) -> str:
        if self.settings_reference is not None and self.epilog is None:
            self.epilog = settings_epilog(settings_class(self.settings_reference), self.settings_footer)
        return super().format_help()
