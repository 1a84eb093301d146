"""The table of settings in docs/settings.md (linked from the README) is the one the code generates:
every variable any part reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from majorops.cli.settings_help import (
    SERVICE_SETTINGS,
    SETTINGS_DOC,
    TABLE_BEGIN,
    TABLE_END,
    UP_SETTINGS,
    settings_class,
    with_settings_table,
)
from majorops.shared.settings_display import setting_docs

ROOT = Path(__file__).resolve().parents[1]
DOCUMENT = ROOT / SETTINGS_DOC


def test_the_settings_table_is_generated_from_the_code() -> None:
    text = DOCUMENT.read_text()
    assert TABLE_BEGIN in text and TABLE_END in text
    assert text == with_settings_table(text), "run `.venv/bin/python -m majorops.cli.settings_help`"


def test_the_readme_links_the_settings_table() -> None:
    assert f"]({SETTINGS_DOC})" in (ROOT / "README.md").read_text()


def test_every_setting_of_every_part_is_in_the_table_with_a_meaning() -> None:
    text = DOCUMENT.read_text()
    table = text[text.index(TABLE_BEGIN) : text.index(TABLE_END)]
    for reference in [*SERVICE_SETTINGS.values(), UP_SETTINGS]:
        for doc in setting_docs(settings_class(reference)):
            assert doc.description, f"{doc.variables[0]} has no description"
            assert f"`{doc.variables[0]}`" in table


def test_a_blank_setting_is_unset_in_every_service(monkeypatch: pytest.MonkeyPatch) -> None:
    """``MAJOROPS_X=`` is "not set" for every optional setting of every service, also where a service's
    settings class inherits two bases that each clear their own blank fields (a validator of the same
    name in both kept only one of them: ingest and reports refused a blank ``MAJOROPS_HTTP_TLS_CERT``)."""
    blank = ("MAJOROPS_HTTP_TLS_CERT", "MAJOROPS_HTTP_TLS_KEY", "MAJOROPS_MONGODB_URL", "MAJOROPS_LOG_FILE")
    for variable in blank:
        monkeypatch.setenv(variable, "")
    for reference in SERVICE_SETTINGS.values():
        settings = settings_class(reference)()
        for name in ("http_tls_cert", "http_tls_key", "mongodb_url", "log_file"):
            assert getattr(settings, name, None) is None, f"{reference}: {name}"
