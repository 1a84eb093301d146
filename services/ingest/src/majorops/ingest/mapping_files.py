"""Webhook mapping files: the ones shipped with ingest, and a deployment's own directory.

Each file is ``<name>.json`` and serves ``POST /v1/webhooks/<name>`` (docs/webhook-mappings.md).
The files of ``MAJOROPS_WEBHOOK_MAPPINGS_DIR`` are read after the shipped ones, so a deployment's
``pagerduty.json`` replaces the shipped one. A file that cannot be used stops ingest at start, with
a message naming the file and every problem in it.
"""

from __future__ import annotations

from pathlib import Path

from majorops.ingest.domain.mapping_model import MappingInvalid, WebhookMapping
from majorops.ingest.domain.mapping_reader import parse_mapping
from majorops.shared.json_body import JsonRefused, loads_strict

MAPPINGS_SETTING = "MAJOROPS_WEBHOOK_MAPPINGS_DIR"
SHIPPED_MAPPINGS = Path(__file__).resolve().parent / "mappings"
MAX_MAPPING_BYTES = 256 * 1024


def load_mapping_file(file: Path, extra_types: frozenset[str] = frozenset()) -> WebhookMapping:
    """The mapping in ``file``, or ``ValueError`` naming the file and what is wrong with it."""
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ValueError(f"webhook mapping {file} cannot be read: {exc.strerror or exc}") from None
    if len(raw) > MAX_MAPPING_BYTES:
        raise ValueError(f"webhook mapping {file} is over {MAX_MAPPING_BYTES} bytes")
    try:
        document = loads_strict(raw)
    except JsonRefused as exc:
        raise ValueError(f"webhook mapping {file} is not strict JSON: {exc.reason}") from None
    try:
        return parse_mapping(file.stem, document, extra_types)
    except MappingInvalid as exc:
        raise ValueError(f"webhook mapping {file} cannot be used: {exc}") from None


def mapping_files(folder: Path) -> list[Path]:
    """The ``*.json`` files of ``folder``, by name; a YAML file is refused (mappings are JSON)."""
    files = sorted(path for path in folder.iterdir() if path.is_file() and not path.name.startswith("."))
    for path in files:
        if path.suffix.lower() in (".yaml", ".yml"):
            raise ValueError(
                f"webhook mapping {path}: mappings are JSON files (<name>.json), not YAML "
                "(docs/webhook-mappings.md)"
            )
    return [path for path in files if path.suffix == ".json"]


def load_mappings(
    directory: Path | None = None, extra_types: frozenset[str] = frozenset()
) -> dict[str, WebhookMapping]:
    """Every mapping by name: the shipped ones, then ``directory``'s (which replace them by name)."""
    folders = [SHIPPED_MAPPINGS]
    if directory is not None:
        if not directory.is_dir():
            raise ValueError(f"{MAPPINGS_SETTING}={str(directory)!r}: not a directory")
        folders.append(directory)
    found: dict[str, WebhookMapping] = {}
    for folder in folders:
        for file in mapping_files(folder):
            found[file.stem] = load_mapping_file(file, extra_types)
    return found
