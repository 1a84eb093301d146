"""The operator commands — ``majorops send``, ``import``, ``review``, ``tail`` — run as a user runs
them (``.venv/bin/majorops`` in a subprocess) against one real ``majorops up`` for the whole module:
summaries, exit statuses, JSON output, the review's text, escalations followed live.

Each test uses incident ids of its own, so they share the system without seeing each other.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import pty
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

from majorops.cli.credentials import read_env_file
from majorops.cli.delivery import EventSender, InputEvent, Tally, settle
from majorops.cli.system_access import HttpService
from majorops.shared.testing import event_envelope
from majorops.shared.testkit import UpProcess as Up
from majorops.shared.testkit import modules_loaded_by_cli, wait_for

MAJOROPS = str(Path(sys.executable).parent / "majorops")
OWN_VARIABLES = (
    "MAJOROPS_",
    "INGEST_TOKEN",
    "REPORTS_READ_TOKEN",
    "REPORTS_WRITE_TOKEN",
    "NATS_CONSUMER_PASSWORD",
)


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    up = Up(data_dir=tmp_path_factory.mktemp("operator") / "majorops")
    up.start()
    yield up
    up.reap()


def user_env(**more: str) -> dict[str, str]:
    """A shell without any of the system's settings or secrets: the commands find them in the data dir."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith(OWN_VARIABLES)}, **more}


def following(args: list[str]) -> subprocess.Popen[str]:
    """``majorops tail *args`` left running, as in a second terminal (its progress on stderr)."""
    return subprocess.Popen(
        [MAJOROPS, "tail", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=user_env()
    )


def majorops(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MAJOROPS, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or user_env(),
        check=False,
    )


def at(system: Up, command: str) -> list[str]:
    """Where the system is, as flags (the data dir gives the credentials)."""
    where = {
        "send": ["--ingest-url", system.ingest],
        "import": ["--ingest-url", system.ingest],
        "review": ["--reports-url", system.reports],
        "tail": ["--nats-url", f"nats://127.0.0.1:{system.nats_port}"],
    }[command]
    return [*where, "--data-dir", str(system.data_dir)]


def envelope(incident: str, n: int, kind: str, when: str, **data: Any) -> dict[str, Any]:
    return event_envelope(incident, f"{incident}-{n}", kind, when, data, source="operator-tests")


def jsonl(events: Sequence[dict[str, Any] | str]) -> str:
    return "".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in events)


def backdated_p1(incident: str) -> list[dict[str, Any]]:
    """A critical incident closed long ago: its After Action is overdue, so reminders fires both
    obligations' three levels at once."""
    return [
        envelope(
            incident, 1, "incident.declared", "2026-11-20T09:14:00Z", title="Checkout latency", severity="P1"
        ),
        envelope(incident, 2, "role.assigned", "2026-11-20T09:15:00Z", role="mim", person="Dana Reyes"),
        envelope(incident, 3, "incident.resolved", "2026-11-20T11:29:00Z"),
        envelope(incident, 4, "incident.closed", "2026-11-20T12:00:00Z"),
    ]


def parsed(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.stdout.count("\n") == 1, done.stdout + done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


# --- send --------------------------------------------------------------------------------------------


def test_send_puts_every_good_line_in_and_reports_each_bad_one_by_line(system: Up, tmp_path: Path) -> None:
    incident = "OPS-SEND-1"
    good = backdated_p1(incident)
    lines: list[dict[str, Any] | str] = [
        good[0],
        good[1],
        {**envelope(incident, 90, "incident.declard", "2026-11-20T09:20:00Z"), "id": "typo"},
        "this is not json",
        good[2],
        {**envelope(incident, 91, "incident.updated", "2026-11-20T09:30:00Z", severity="urgent")},
        good[3],
    ]
    events = tmp_path / "events.jsonl"
    events.write_text(jsonl(lines[:3]) + "\n" + jsonl(lines[3:]))  # a blank line 4 is skipped

    done = majorops("send", str(events), *at(system, "send"))
    assert done.returncode == 1, done.stdout + done.stderr
    summary, *rejected = done.stdout.splitlines()
    assert summary == f"{events}: 7 event(s): 4 accepted, 0 duplicate(s), 3 rejected"
    assert rejected[0].startswith(
        "  line 3 (id 'typo'): type: unknown event type 'majorops.incident.declard'"
    )
    assert "did you mean 'majorops.incident.declared'" in rejected[0]
    assert rejected[1].startswith("  line 5: not JSON: ")
    assert rejected[2].startswith(f"  line 7 (id '{incident}-91'): data.severity: ")
    assert done.stderr == "", "no progress bar into a pipe"

    again = majorops("send", str(events), *at(system, "send"), "--json", "--batch-size", "2")
    assert again.returncode == 1
    result = parsed(again)
    assert (result["events"], result["accepted"], result["duplicates"]) == (7, 0, 4)
    assert [(r["line"], r["id"]) for r in result["rejected"]] == [
        (3, "typo"),
        (5, None),
        (7, f"{incident}-91"),
    ]
    assert result["rejected"][2]["errors"][0]["field"] == "data.severity"
    assert result["interrupted"] is False


def test_send_reads_stdin_and_reports_an_id_reused_with_other_content(system: Up) -> None:
    incident = "OPS-SEND-2"
    first = envelope(incident, 1, "timeline.logged", "2026-11-20T10:00:00Z", text="restarted the pool")
    changed = {**first, "data": {"text": "restarted the database"}}
    fresh = envelope(incident, 2, "timeline.logged", "2026-11-20T10:05:00Z", text="latency back to normal")
    assert majorops("send", "-", *at(system, "send"), stdin=jsonl([first])).returncode == 0

    done = majorops("send", "-", *at(system, "send"), "--json", stdin=jsonl([changed, fresh]))
    assert done.returncode == 1, done.stderr
    result = parsed(done)
    assert (result["source"], result["accepted"], result["duplicates"]) == ("stdin", 1, 0)
    (conflict,) = result["rejected"]
    assert conflict["line"] == 1
    assert "already the id of an event accepted before, with other content" in conflict["reason"]


def test_send_says_when_it_has_no_token_a_wrong_one_or_no_ingest(system: Up, tmp_path: Path) -> None:
    events = tmp_path / "one.jsonl"
    events.write_text(jsonl([envelope("OPS-SEND-3", 1, "timeline.logged", "2026-11-20T10:00:00Z", text="x")]))
    nowhere = majorops(
        "send", str(events), "--ingest-url", system.ingest, "--data-dir", str(tmp_path / "none")
    )
    assert nowhere.returncode == 77
    assert "no ingest token" in nowhere.stderr and "MAJOROPS_INGEST_TOKEN" in nowhere.stderr

    # The environment wins over credentials.env, and a token ingest never issued is refused.
    wrong = majorops(
        "send",
        str(events),
        *at(system, "send"),
        env=user_env(MAJOROPS_INGEST_TOKEN="not-a-token-of-this-system"),
    )
    assert wrong.returncode == 77
    assert "refused the token (401" in wrong.stderr

    down = majorops(
        "send",
        str(events),
        "--ingest-url",
        "http://127.0.0.1:9",
        "--data-dir",
        str(system.data_dir),
        "--retry-for",
        "0",
    )
    assert down.returncode == 69
    assert "cannot reach ingest at http://127.0.0.1:9" in down.stderr

    missing = majorops("send", str(tmp_path / "nope.jsonl"), *at(system, "send"))
    assert missing.returncode == 66


def test_send_draws_a_progress_bar_only_on_a_terminal(system: Up, tmp_path: Path) -> None:
    incident = "OPS-SEND-4"
    events = tmp_path / "many.jsonl"
    events.write_text(
        jsonl(
            [
                envelope(incident, n, "timeline.logged", f"2026-11-20T10:{n:02d}:00Z", text=f"step {n}")
                for n in range(50)
            ]
        )
    )
    primary, secondary = pty.openpty()
    with subprocess.Popen(
        [MAJOROPS, "send", str(events), *at(system, "send"), "--batch-size", "10"],
        stdout=subprocess.PIPE,
        stderr=secondary,
        env=user_env(COLUMNS="400"),
        text=True,
    ) as process:
        os.close(secondary)
        stdout, _ = process.communicate(timeout=60)
    drawn = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:
            break
        if not chunk:
            break
        drawn += chunk
    os.close(primary)
    assert process.returncode == 0, stdout
    assert stdout.splitlines() == [f"{events}: 50 event(s): 50 accepted, 0 duplicate(s), 0 rejected"]
    bar = drawn.decode()
    assert f"sending {events} [" in bar and "100%" in bar and "line 50: 50 event(s)" in bar, bar
    assert bar.startswith("\r") and bar.endswith("\n")


# --- send's bisection, with a hand-written ingest -------------------------------------------------------


class StricterIngest:
    """An ingest that refuses a whole batch (400, naming no event) while any event in it says
    "poison", the way a server stricter than the client's own check would."""

    def __init__(self) -> None:
        self.requests = 0

    def respond(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        events = json.loads(request.content)
        if any(event["data"].get("text") == "poison" for event in events):
            return httpx.Response(
                400, json={"type": "x/not-json", "title": "Body is not JSON", "status": 400, "detail": "no"}
            )
        return httpx.Response(202, json={"accepted": len(events), "duplicates": 0})


def test_a_refusal_naming_no_event_is_bisected_down_to_the_line_at_fault() -> None:
    ingest = StricterIngest()
    inputs = [
        InputEvent(
            n,
            n * 100,
            json.dumps({"id": f"e{n}", "data": {"text": "poison" if n == 6 else "ok"}}).encode(),
            f"e{n}",
        )
        for n in range(1, 17)
    ]
    service = HttpService("ingest", "http://ingest.test", "token", retry_for=0)
    with httpx.Client(base_url=service.base_url, transport=httpx.MockTransport(ingest.respond)) as client:
        tally = Tally()
        settle(EventSender(service, client), inputs, tally)
    assert tally.accepted == 15
    assert [(r.line, r.event_id, r.reason) for r in tally.rejected] == [(6, "e6", "no")]
    assert ingest.requests <= 2 * 4 + 2, "a bisection, not one request per event"


# --- review ------------------------------------------------------------------------------------------


def test_review_prints_markdown_html_and_json_with_the_read_token(system: Up) -> None:
    incident = "OPS-REVIEW-1"
    assert majorops("send", "-", *at(system, "send"), stdin=jsonl(backdated_p1(incident))).returncode == 0

    # --wait: until the review exists (its events are in); policy's decision may come after.
    markdown = majorops("review", incident, *at(system, "review"), "--wait", "20")
    assert markdown.returncode == 0, markdown.stderr
    assert markdown.stdout.startswith(f"# Learning Review — {incident}: Checkout latency")

    document = wait_for(
        lambda: (
            (d := parsed(majorops("review", incident, *at(system, "review"), "--json")))
            and d["after_action"]["requirement"] == "mandatory"
            and d
        ),
        30,
        "the decision in the review",
    )
    assert "**Requirement:** mandatory" in majorops("review", incident, *at(system, "review")).stdout

    page = majorops("review", incident, *at(system, "review"), "--format", "html")
    assert page.returncode == 0
    assert page.stdout.lstrip().lower().startswith("<!doctype html>") and "Checkout latency" in page.stdout
    assert document["incident_id"] == incident
    assert document["summary"]["mim"] == "Dana Reyes"
    assert document["after_action"]["deadlines"]["schedule_by"] == "2026-11-21T12:00:00Z"
    assert (
        parsed(majorops("review", incident, *at(system, "review"), "--format", "json"))["incident_id"]
        == incident
    )


def test_review_of_an_unknown_incident_or_with_a_wrong_token(system: Up) -> None:
    unknown = majorops("review", "OPS-NEVER-SEEN", *at(system, "review"))
    assert unknown.returncode == 1
    assert unknown.stdout == ""
    assert "no review of OPS-NEVER-SEEN" in unknown.stderr

    refused = majorops(
        "review", "OPS-NEVER-SEEN", *at(system, "review"), "--token", "not-a-token-of-this-system"
    )
    assert refused.returncode == 77
    # The ingest token is not a reports token either.
    ingest_token = read_env_file(system.data_dir / "credentials.env")["INGEST_TOKEN"]
    assert (
        majorops(
            "review", "X", *at(system, "review"), env=user_env(REPORTS_READ_TOKEN=ingest_token)
        ).returncode
        == 77
    )


# --- import ------------------------------------------------------------------------------------------


def past_incidents(path: Path, rows: Sequence[Sequence[str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["incident_id", "fingerprint", "identified_at", "summary", "contributing_factors"])
    writer.writerows(rows)
    path.write_text(buffer.getvalue())


def test_imported_root_causes_make_a_later_incident_a_repeat(system: Up, tmp_path: Path) -> None:
    history = tmp_path / "past-incidents.csv"
    past_incidents(
        history,
        [
            (
                "OPS-PAST-1",
                "ops-db-pool-exhaustion",
                "2025-03-02T14:20:00Z",
                "Pool exhausted",
                "batch job; no limit",
            ),
            ("OPS-PAST-2", "ops-dns-ttl", "2025-04-11T08:00:00Z", "", ""),
            ("OPS-PAST-3", "", "2025-05-01T08:00:00Z", "", ""),
            ("OPS-PAST-4", "ops-cert-expiry", "2025-05-01 08:00", "a summary\nover two lines", ""),
        ],
    )
    done = majorops("import", str(history), *at(system, "import"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        f"{history}: 4 event(s): 2 accepted, 0 duplicate(s), 2 rejected",
        "  line 4: fingerprint: empty (required)",
        "  line 5 (id 'import:OPS-PAST-4:rootcause:"
        + done.stdout.split("import:OPS-PAST-4:rootcause:")[1][:16]
        + "'): identified_at: must be an RFC 3339 timestamp with an offset, e.g. 2026-11-20T09:14:00Z",
    ]

    # A new incident with the root cause of OPS-PAST-1: a repeat, so its review is mandatory.
    incident = "OPS-REPEAT-1"
    repeat = envelope(
        incident, 1, "rootcause.identified", "2026-11-20T12:00:00Z", fingerprint="ops-db-pool-exhaustion"
    )
    assert majorops("send", "-", *at(system, "send"), stdin=jsonl([repeat])).returncode == 0
    followed = majorops(
        "tail",
        "decisions",
        "--incident",
        incident,
        "--all",
        "--count",
        "1",
        "--timeout",
        "30",
        "--json",
        *at(system, "tail"),
    )
    assert followed.returncode == 0, followed.stderr
    decision = parsed(followed)
    assert decision["repeat_of"] == ["OPS-PAST-1"]
    assert decision["requirement"] == "mandatory"
    assert decision["reasons"][0]["rule"] == "repeat_incident"


def test_import_continues_where_it_stopped_and_skips_what_is_done(system: Up, tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    total = 1000
    history.write_text(
        jsonl(
            [
                envelope(
                    f"OPS-HIST-{n % 20}", n, "timeline.logged", "2025-01-01T00:00:00Z", text=f"entry {n}"
                )
                for n in range(total)
            ]
        )
    )
    checkpoint = tmp_path / "history.checkpoint.json"
    command = [
        MAJOROPS,
        "import",
        str(history),
        *at(system, "import"),
        "--checkpoint",
        str(checkpoint),
        "--json",
    ]

    # Stopped (SIGTERM) once a few batches of one event are in: exit 130, the checkpoint says how far.
    with subprocess.Popen(
        [*command, "--batch-size", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=user_env(),
    ) as first:
        wait_for(
            lambda: checkpoint.exists() and json.loads(checkpoint.read_text())["tally"]["line"] >= 5,
            30,
            "a checkpoint",
        )
        first.send_signal(signal.SIGTERM)
        out, err = first.communicate(timeout=30)
    assert first.returncode == 130, out + err
    stopped = json.loads(out)
    assert stopped["interrupted"] is True
    assert 5 <= stopped["line"] < total

    # Run again: it resumes after the last line settled, and the whole file is in.
    again = majorops(*command[1:])
    assert again.returncode == 0, again.stdout + again.stderr
    resumed = parsed(again)
    # (a batch settled just before the signal may not be in the checkpoint yet: sent again, a duplicate)
    assert 5 <= resumed["resumed_from_line"] <= stopped["line"]
    assert resumed["events"] == total and resumed["line"] == total
    assert resumed["accepted"] + resumed["duplicates"] == total
    assert resumed["rejected"] == []

    # A third run has nothing left; --restart sends everything again, as duplicates.
    done = majorops(*command[1:-1])
    assert done.returncode == 0
    assert f"nothing new after line {total}" in done.stdout
    restarted = parsed(majorops(*command[1:], "--restart"))
    assert (restarted["accepted"], restarted["duplicates"], restarted["resumed_from_line"]) == (
        0,
        total,
        None,
    )


def test_import_refuses_a_csv_it_cannot_read_and_a_stream(system: Up, tmp_path: Path) -> None:
    odd = tmp_path / "odd.csv"
    odd.write_text("incident,fingerprint,when\nINC-1,x,2025-01-01T00:00:00Z\n")
    done = majorops("import", str(odd), *at(system, "import"))
    assert done.returncode == 65
    assert "missing incident_id, identified_at" in done.stderr and "unknown 'incident', 'when'" in done.stderr

    stream = majorops("import", "-", *at(system, "import"), stdin="")
    assert stream.returncode == 2
    assert "majorops send -" in stream.stderr


# --- tail --------------------------------------------------------------------------------------------


def test_tail_prints_the_escalations_of_a_backdated_incident_as_they_fire(system: Up) -> None:
    incident = "OPS-TAIL-1"
    with following(
        [
            "escalations",
            "--incident",
            incident,
            "--json",
            "--count",
            "6",
            "--timeout",
            "60",
            *at(system, "tail"),
        ]
    ) as follower:
        assert follower.stderr is not None
        ready = follower.stderr.readline()
        assert f"following majorops.escalations.{incident}.>" in ready, ready
        sent = majorops("send", "-", *at(system, "send"), stdin=jsonl(backdated_p1(incident)))
        assert sent.returncode == 0, sent.stderr
        out, err = follower.communicate(timeout=90)
    assert follower.returncode == 0, err
    escalations = [json.loads(line) for line in out.splitlines()]
    assert sorted((e["kind"], e["level"]) for e in escalations) == [
        ("after_action_not_held", 1),
        ("after_action_not_held", 2),
        ("after_action_not_held", 3),
        ("after_action_not_scheduled", 1),
        ("after_action_not_scheduled", 2),
        ("after_action_not_scheduled", 3),
    ]
    assert {e["incident_id"] for e in escalations} == {incident}

    # The same, later, for people: what the stream holds, one line each.
    human = majorops(
        "tail",
        "escalations",
        "--incident",
        incident,
        "--all",
        "--count",
        "6",
        "--timeout",
        "30",
        *at(system, "tail"),
    )
    assert human.returncode == 0, human.stderr
    lines = human.stdout.splitlines()
    assert len(lines) == 6
    first = next(line for line in lines if "after_action_not_scheduled level 1" in line)
    assert (
        f"  {incident}  after_action_not_scheduled level 1 -> mim (Dana Reyes) [late, superseded by level 3]: "
        in first
    )


def test_tail_stops_on_sigterm_leaving_no_consumer_and_on_timeout(system: Up) -> None:
    with following(["decisions", *at(system, "tail")]) as follower:
        assert follower.stderr is not None
        assert "following majorops.decisions.>" in follower.stderr.readline()
        began = time.monotonic()
        follower.send_signal(signal.SIGTERM)
        _out, err = follower.communicate(timeout=15)
    assert follower.returncode == 0, err
    assert time.monotonic() - began < 5
    assert "Traceback" not in err
    assert asyncio.run(tail_consumers(system)) == []

    short = majorops(
        "tail",
        "escalations",
        "--incident",
        "OPS-QUIET",
        "--count",
        "1",
        "--timeout",
        "1",
        *at(system, "tail"),
    )
    assert short.returncode == 1
    assert "0 of 1 message(s) before --timeout" in short.stderr
    refused = majorops(
        "tail",
        "escalations",
        "--timeout",
        "1",
        *at(system, "tail"),
        env=user_env(NATS_CONSUMER_PASSWORD="wrong"),
    )
    assert refused.returncode == 77
    assert majorops("tail", "escalations", "--incident", "a.b", *at(system, "tail")).returncode == 2


async def tail_consumers(system: Up) -> list[str]:
    """The consumers ``majorops tail`` left on the streams (read as admin)."""
    password = read_env_file(system.data_dir / "credentials.env")["NATS_ADMIN_PASSWORD"]
    client = await nats.connect(f"nats://127.0.0.1:{system.nats_port}", user="admin", password=password)
    try:
        js = client.jetstream()
        names = [
            info.name
            for stream in ("MAJOROPS_DECISIONS", "MAJOROPS_ESCALATIONS")
            for info in await js.consumers_info(stream)
        ]
    finally:
        await client.close()
    return [name for name in names if name.startswith("majorops-tail-")]


# --- help --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["send", "import", "review", "tail"])
def test_help_says_the_exit_statuses_and_loads_no_client(command: str) -> None:
    shown = majorops(command, "--help")
    assert shown.returncode == 0
    assert "exit status:" in shown.stdout and "  77  " in shown.stdout and "  69  " in shown.stdout
    # The commands' modules load no HTTP or NATS client until run; the whole help, no broker or server.
    first = (
        "from majorops.cli import history, review, send, tail\n"
        "print(sorted(m for m in ('httpx', 'nats', 'faststream') if m in sys.modules))\n"
    )
    heavy = ("faststream", "nats", "uvicorn", "fastapi", "pymongo", "aiosqlite")
    printed = modules_loaded_by_cli([command, "--help"], heavy, first)
    assert printed[0] == "[]"
    assert printed[-1] == "[]"
