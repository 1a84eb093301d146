"""The MIM's workbench in a real browser against the real system.

`majorops up` on free ports in a temporary data dir, incidents posted through ingest, then Debian's
Chromium driven by Playwright (never a downloaded browser): the board, one incident's deadline
chain, a root cause that names a responder, publication refused with the blocking findings shown,
the fixes, publication. Screenshots go to ``$MAJOROPS_TEST_ARTIFACTS/workbench`` (default
``test-artifacts/workbench``); ``MAJOROPS_UPDATE_DOCS_SCREENSHOT=1`` also writes the board's to
``docs/workbench.png``, the one the README shows.

Chromium: ``apt-get install chromium`` (``make test`` and ``.ci/run`` do it); without it this test
fails saying so, it is not skipped.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from majorops.cli.credentials import read_env_file
from majorops.shared.testing import bearer, event_envelope, iso
from majorops.shared.testkit import UpProcess

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("MAJOROPS_TEST_ARTIFACTS", REPO / "test-artifacts")) / "workbench"
DOCS_SCREENSHOT = REPO / "docs" / "workbench.png"
CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")

BLAMING = "The incident was caused by Dana Reyes restarting the connection pool during peak traffic."
BLAMELESS = (
    "The incident was caused by connection pool exhaustion in the checkout database: the pool size "
    "was not raised with the new checkout replicas."
)


def chromium() -> str:
    for path in CHROMIUM_PATHS:
        if os.access(path, os.X_OK):
            return path
    pytest.fail(
        "Chromium is missing: the workbench browser test drives Debian's chromium "
        "(sudo apt-get install chromium; `make test` and .ci/run install it). Playwright never downloads one."
    )


class System(UpProcess):
    """`majorops up` in a subprocess, as a user runs it."""

    def token(self, shell_name: str) -> str:
        return read_env_file(self.data_dir / "credentials.env")[shell_name]

    def post(self, events: list[dict[str, Any]]) -> None:
        resp = httpx.post(
            f"http://127.0.0.1:{self.ingest_port}/v1/events",
            json=events,
            headers=bearer(self.token("INGEST_TOKEN")),
            timeout=10,
        )
        assert resp.status_code == 202, resp.text

    def review(self, incident: str) -> dict[str, Any] | None:
        resp = httpx.get(
            f"{self.reports}/v1/reviews/{incident}",
            headers=bearer(self.token("REPORTS_READ_TOKEN")),
            timeout=5,
        )
        return resp.json() if resp.status_code == 200 else None  # type: ignore[no-any-return]


@pytest.fixture
def system(tmp_path: Path) -> Iterator[System]:
    running = System(data_dir=tmp_path / "majorops")
    try:
        yield running
    finally:
        running.reap()


def wait_for(probe: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


# --- the incidents ----------------------------------------------------------------------------------


M, H, D = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)


def incidents(now: datetime) -> list[dict[str, Any]]:
    """Four incidents whose deadlines stand differently *now*: the board and the chain show each."""
    t0 = now - 3 * D  # INC-WB-1 declared
    items = [
        {
            "title": "Add a pool-saturation alert",
            "owner": "SRE lead",
            "due": (now + 14 * D).date().isoformat(),
        },
        {"title": "Update the checkout pool runbook", "due": (now + 10 * D).date().isoformat()},
    ]
    rows: list[tuple[str, str, datetime, dict[str, Any]]] = [
        # INC-WB-1: a P1 closed 50 h ago. Scheduled late (schedule_by passed 26 h ago: level 1 fired);
        # the draft is due in 12 h (at risk); the meeting and hold_by are ahead. One MTM item has no owner.
        (
            "INC-WB-1",
            "alert.fired",
            t0 - 8 * M,
            {"alert_name": "CheckoutLatencyHigh", "customer_count": 1200},
        ),
        ("INC-WB-1", "incident.confirmed", t0 - 4 * M, {}),
        ("INC-WB-1", "incident.declared", t0, {"title": "Checkout latency", "severity": "P1"}),
        ("INC-WB-1", "role.assigned", t0 + M, {"role": "mim", "person": "Dana Reyes"}),
        ("INC-WB-1", "role.assigned", t0 + 2 * M, {"role": "technical_recovery_lead", "person": "@kchen"}),
        ("INC-WB-1", "vendor.engaged", t0 + 20 * M, {"vendor": "CloudDB", "response_sla_minutes": 30}),
        ("INC-WB-1", "vendor.responded", t0 + 41 * M, {"vendor": "CloudDB"}),
        ("INC-WB-1", "incident.mitigated", t0 + 45 * M, {}),
        ("INC-WB-1", "mtm.held", t0 + 60 * M, {"action_items": items}),
        ("INC-WB-1", "incident.resolved", t0 + 90 * M, {}),
        ("INC-WB-1", "vendor.rca_committed", now - 49 * H, {"vendor": "CloudDB", "due": iso(now + 7 * D)}),
        ("INC-WB-1", "incident.closed", now - 50 * H, {}),
        ("INC-WB-1", "afteraction.scheduled", now - 20 * H, {"meeting_at": iso(now + 60 * H)}),
        # INC-WB-2: a P2 of 3 h closed 2 h ago: mandatory, to be scheduled within 22 h (at risk).
        (
            "INC-WB-2",
            "incident.declared",
            now - 5 * H,
            {"title": "Search indexing stalled", "severity": "high"},
        ),
        ("INC-WB-2", "incident.resolved", now - 2 * H, {}),
        ("INC-WB-2", "incident.closed", now - 2 * H, {}),
        # INC-WB-3: a P3: no After Action needed.
        (
            "INC-WB-3",
            "incident.declared",
            now - 30 * H,
            {"title": "Slow admin reports", "severity": "medium"},
        ),
        ("INC-WB-3", "incident.resolved", now - 29 * H, {}),
        ("INC-WB-3", "incident.closed", now - 28 * H, {}),
        # INC-WB-4: a P1 closed 10 days ago and forgotten: both deadlines missed, escalated to level 3.
        (
            "INC-WB-4",
            "incident.declared",
            now - 10 * D - 3 * H,
            {"title": "Payments declined", "severity": "P1"},
        ),
        ("INC-WB-4", "incident.resolved", now - 10 * D - H, {}),
        ("INC-WB-4", "incident.closed", now - 10 * D, {}),
    ]
    return [
        event_envelope(incident, f"{incident}-{n}", f"majorops.{kind}", iso(at), data)
        for n, (incident, kind, at, data) in enumerate(rows, start=1)
    ]


# --- the page ---------------------------------------------------------------------------------------


def shoot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


UNLABELLED = """() => Array.from(document.querySelectorAll('input, select, textarea'))
  .filter((el) => el.type !== 'hidden' && el.getClientRects().length > 0)
  .filter((el) => !(el.labels && Array.from(el.labels).some((l) => l.textContent.trim()))
                  && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
  .map((el) => el.outerHTML)"""


def unlabelled_inputs(page: Page) -> list[str]:
    """Every visible form control without a label a screen reader would read."""
    return page.evaluate(UNLABELLED)  # type: ignore[no-any-return]


def tab_to(page: Page, element_id: str, limit: int = 250) -> int:
    """Press Tab from the top of the content until ``element_id`` has the focus; the presses it took."""
    page.evaluate("() => { window.scrollTo(0, 0); document.getElementById('main').focus(); }")
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement && document.activeElement.id") == element_id:
            return presses
    raise AssertionError(f"{limit} presses of Tab never reached #{element_id}")


def row(page: Page, incident: str) -> Any:
    return page.locator(f'#board tbody tr[data-incident="{incident}"]')


def test_the_mim_fixes_a_blaming_root_cause_and_publishes(system: System) -> None:
    began = time.monotonic()
    browser_path = chromium()
    system.start()
    printed = "".join(system.output)
    workbench = f"{system.reports}/workbench"
    assert f"workbench    {workbench}" in printed, printed

    now = datetime.now(UTC).replace(microsecond=0)
    system.post(incidents(now))
    # The board is loaded once everything has landed: decisions made, escalations fired.
    wait_for(
        lambda: (r := system.review("INC-WB-4")) and len(r["escalations"]) == 6,
        "INC-WB-4 escalated to level 3",
    )
    item_ids = wait_for(
        lambda: (
            (r := system.review("INC-WB-1"))
            # Both fired at level 1 and met since: the scheduling late, the vendor's RCA date late.
            and {e["kind"] for e in r["escalations"]}
            == {"after_action_not_scheduled", "vendor_rca_not_committed"}
            and r["after_action"]["meeting_at"]
            and len(r["action_items"]) == 2
            and {i["title"]: i["item_id"] for i in r["action_items"]}
        ),
        "INC-WB-1's review",
    )
    unowned = item_ids["Update the checkout pool runbook"]
    wait_for(
        lambda: (r := system.review("INC-WB-2")) and r["after_action"]["requirement"], "INC-WB-2 decided"
    )
    wait_for(
        lambda: (r := system.review("INC-WB-3")) and r["after_action"]["requirement"], "INC-WB-3 decided"
    )

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 640})
            page.set_default_timeout(15_000)
            # Chromium logs every 4xx answer as a console error: the refused publication and the read
            # token's refused edit are expected.
            page.on(
                "console",
                lambda msg: (
                    msg.type == "error"
                    and not re.search(r"status of (409|403)", msg.text)
                    and problems.append(msg.text)
                ),
            )
            page.on("pageerror", lambda exc: problems.append(str(exc)))

            # Without a token the page asks for one (and shows no data).
            page.goto(workbench)
            expect(page.get_by_label("Reports token", exact=True)).to_be_visible()
            assert unlabelled_inputs(page) == []

            # Opened as `majorops up` says: the token in the fragment, then out of the address bar.
            page.goto(f"{workbench}#token={system.token('REPORTS_WRITE_TOKEN')}")
            expect(row(page, "INC-WB-4").locator(".escalation")).to_have_text("L3 · engineering director")
            assert system.token("REPORTS_WRITE_TOKEN") not in page.url
            expect(page.locator("#board tbody tr")).to_have_count(4)
            order = page.locator("#board tbody tr").evaluate_all("rows => rows.map(r => r.dataset.incident)")
            assert order == ["INC-WB-4", "INC-WB-1", "INC-WB-2", "INC-WB-3"]  # soonest deadline first
            expect(row(page, "INC-WB-4")).to_contain_text("overdue")
            expect(row(page, "INC-WB-1").locator(".escalation")).to_have_text("none open · 2 met since")
            expect(row(page, "INC-WB-3").locator(".escalation")).to_have_text("none")
            expect(row(page, "INC-WB-1")).to_contain_text("draft due")
            expect(row(page, "INC-WB-2")).to_contain_text("schedule by")
            expect(row(page, "INC-WB-3")).to_contain_text("nothing due")
            expect(page.locator("#board")).not_to_have_attribute("aria-busy", "true")
            assert unlabelled_inputs(page) == []
            board = shoot(page, "1-board")
            if os.environ.get("MAJOROPS_UPDATE_DOCS_SCREENSHOT") == "1":
                shutil.copyfile(board, DOCS_SCREENSHOT)

            # Filters: severity (in the page), overdue (by the API).
            page.get_by_label("Severity", exact=True).select_option("critical")
            expect(page.locator("#board tbody tr")).to_have_count(2)
            page.get_by_label("Next deadline", exact=True).select_option("true")
            expect(page.locator("#board tbody tr")).to_have_count(1)
            expect(row(page, "INC-WB-4")).to_be_visible()
            assert "severity=critical" in page.url and "overdue=true" in page.url
            page.get_by_label("Severity", exact=True).select_option("")
            page.get_by_label("Next deadline", exact=True).select_option("")
            expect(page.locator("#board tbody tr")).to_have_count(4)

            # One incident: the chain, with words as well as colours.
            page.get_by_role("link", name="INC-WB-1").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("INC-WB-1 — Checkout latency")
            chain = page.locator("svg.chain")
            expect(chain.locator('[data-step="closed"]')).to_contain_text("closed")
            expect(chain.locator('[data-step="schedule_by"]')).to_contain_text("met late")
            expect(chain.locator('[data-step="schedule_by"] .chain-escalation text')).to_have_text("L1")
            expect(chain.locator('[data-step="draft_due"]')).to_contain_text("at risk")
            expect(chain.locator('[data-step="meeting"]')).to_contain_text("scheduled")
            expect(chain.locator('[data-step="publish_by"]')).to_contain_text("not set yet")
            expect(page.locator("#data-gaps")).to_contain_text("no_status_updates")
            expect(page.locator("#vendors")).to_contain_text("CloudDB")
            expect(page.locator("#attendees-required")).to_contain_text("Dana Reyes")
            expect(page.locator("#timeline tbody tr")).to_have_count(13)
            assert unlabelled_inputs(page) == []
            shoot(page, "2-incident")
            page.locator("section", has=page.locator("#deadlines-heading")).screenshot(
                path=str(ARTIFACTS / "2-deadline-chain.png")
            )

            # The review as Markdown and the meeting as a calendar invite, fetched with the token.
            with page.expect_download() as markdown:
                page.get_by_role("button", name="Download Markdown").click()
            assert markdown.value.suggested_filename == "INC-WB-1.md"
            assert "Checkout latency" in Path(markdown.value.path()).read_text()
            with page.expect_download() as invite:
                page.get_by_role("button", name="Calendar invite").click()
            assert invite.value.suggested_filename == "INC-WB-1-after-action.ics"
            assert "BEGIN:VCALENDAR" in Path(invite.value.path()).read_text()

            # A root cause that names a responder: lint flags it as soon as it is saved.
            page.get_by_label("Root cause", exact=True).fill(BLAMING)
            page.get_by_role("button", name="Save narrative").click()
            expect(page.locator("#narrative-note")).to_contain_text("Saved Root cause")
            expect(page.locator('#lint-list [data-code="name_in_root_cause"]')).to_contain_text("Dana Reyes")
            expect(page.locator("#findings-root_cause")).to_contain_text("name_in_root_cause")

            # The keyboard reaches the publish button; publishing is refused, the blocking findings shown.
            presses = tab_to(page, "publish-button")
            page.keyboard.press("Enter")
            refused = page.locator("#publish-result")
            expect(refused).to_contain_text("Publish refused")
            expect(refused.locator('[data-code="name_in_root_cause"]')).to_contain_text("Dana")
            expect(refused.locator('[data-code="action_item_missing_owner"]')).to_contain_text(unowned)
            expect(page.locator("#review-status")).to_have_text("draft")
            shoot(page, "3-publish-refused")

            # The fixes: a blameless root cause, an owner for the item.
            page.get_by_label("Root cause", exact=True).fill(BLAMELESS)
            page.get_by_role("button", name="Save narrative").click()
            expect(page.locator("#narrative-note")).to_contain_text("Saved Root cause")
            expect(page.locator('#lint-list [data-code="name_in_root_cause"]')).to_have_count(0)
            page.get_by_label(f"Owner of {unowned}", exact=True).fill("Payments platform team")
            page.get_by_role("button", name=f"Save {unowned}").click()
            expect(page.locator("#items-note")).to_contain_text(f"{unowned} saved", timeout=20_000)
            expect(page.locator('#lint-list [data-code="action_item_missing_owner"]')).to_have_count(0)
            expect(page.locator("#lint-list .finding-error")).to_have_count(0)

            page.get_by_role("button", name="Publish review").click()
            expect(page.locator("#review-status")).to_have_text("published", timeout=20_000)
            expect(page.locator("#publish-result")).to_contain_text("Published.")
            shoot(page, "4-published")

            # Printed: the review without the controls, the narrative as text.
            page.emulate_media(media="print")
            expect(page.get_by_role("button", name="Save narrative")).to_be_hidden()
            expect(page.locator(".site-header")).to_be_hidden()
            expect(page.locator("section.print-only")).to_contain_text(BLAMELESS)
            shoot(page, "5-print")
            page.emulate_media(media="screen")

            page.get_by_role("link", name="← Board").click()
            expect(row(page, "INC-WB-1")).to_contain_text("published")

            # A read token, pasted once: it reads, and a change is refused saying why.
            page.get_by_role("button", name="Forget token").click()
            expect(page.locator("#board")).to_have_count(0)
            page.get_by_label("Reports token", exact=True).fill(system.token("REPORTS_READ_TOKEN"))
            page.get_by_role("button", name="Use this token").click()
            page.get_by_role("link", name="INC-WB-2").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("INC-WB-2 — Search indexing stalled")
            page.get_by_label("What went well", exact=True).fill(
                "The search failover runbook worked as written."
            )
            page.get_by_role("button", name="Save narrative").click()
            expect(page.locator("#narrative-note")).to_contain_text("may only read")
        finally:
            browser.close()

    published = system.review("INC-WB-1")
    assert published is not None and published["status"] == "published"
    assert published["root_cause"]["text"] == BLAMELESS
    assert presses > 0
    assert problems == [], problems  # no script error, no refused request, no CSP violation
    took = time.monotonic() - began
    assert took < 90, f"the browser test took {took:.0f} s"
