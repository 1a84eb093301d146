"""The README's first screen says what a newcomer needs first, and every relative link of the
documents leads somewhere: to a file that exists and, after ``#``, to one of its headings."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCUMENTS = sorted(
    [
        README,
        ROOT / "SECURITY.md",
        ROOT / "RELIABILITY.md",
        ROOT / "BENCHMARKS.md",
        ROOT / "deploy" / "k8s" / "README.md",
        *(ROOT / "docs").glob("*.md"),
    ]
)
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
HEADING = re.compile(r"^#{1,6} +(.+?) *#*$", re.MULTILINE)


def anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = heading.replace("`", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(document: Path) -> set[str]:
    return {anchor(heading) for heading in HEADING.findall(FENCE.sub("", document.read_text()))}


def relative_links(document: Path) -> list[str]:
    prose = FENCE.sub("", document.read_text())
    return [link for link in LINK.findall(prose) if not re.match(r"[a-z]+:", link)]


def test_the_first_screen_gives_the_commands_and_the_map_of_the_code() -> None:
    first = "\n".join(README.read_text().splitlines()[:40])
    for command in ("make up", "make test", "make check"):
        assert command in first, f"{command} is not in the README's first 40 lines"
    assert "## Where each rule lives" in README.read_text()


def test_the_readme_says_pymongo_async_replaces_motor() -> None:
    text = " ".join(README.read_text().split())
    assert "AsyncMongoClient" in text
    assert "Motor" in text and "end of life on 2026-05-14" in text and "official successor" in text


def test_every_relative_link_leads_to_a_file_and_a_heading() -> None:
    broken: list[str] = []
    for document in DOCUMENTS:
        for link in relative_links(document):
            path, _, fragment = link.partition("#")
            target = (document.parent / path).resolve() if path else document
            if not target.exists():
                broken.append(f"{document.relative_to(ROOT)}: {link} (no such file)")
            elif fragment and target.suffix == ".md" and fragment not in anchors(target):
                broken.append(f"{document.relative_to(ROOT)}: {link} (no such heading)")
    assert broken == []


def test_the_link_check_sees_the_links() -> None:
    assert "docs/settings.md" in relative_links(README)
    assert anchor("Probes, metrics: what to watch") == "probes-metrics-what-to-watch"
    assert anchor("The MIM's `workbench`") == "the-mims-workbench"
