"""Report sections measured on both settings: raw baseline, sustained throughput, CPU/memory, writes.

Each section adds Markdown to a :class:`Report`, the figures to its results and the goals it checks.
"""

from __future__ import annotations

from benchmarks.pipeline.plan import (
    BATCH,
    CLIENTS,
    INTERLEAVE,
    KV_STREAM,
    PER_INCIDENT,
    SERVICE_FETCH_BATCH,
    STREAMS,
    WRITER,
    Plan,
)
from benchmarks.pipeline.render import PROCS, Goal, Report, fmt_rate, pct, table
from benchmarks.pipeline.variant import VariantResult
from majorops.shared import subjects


def report_baselines(rep: Report, results: dict[str, VariantResult], plan: Plan) -> None:
    rep.add("## Raw JetStream baseline (nats-py on the same server, same run)", "")
    rows = []
    for key, res in results.items():
        b = res.baseline
        rows.append(
            [
                f"{key}: {'`sync_interval: always`' if key == 'A' else 'default sync'}",
                f"{b['publish']:,.0f} msgs/s",
                f"{b['consume_100']:,.0f} msgs/s",
                f"{b[f'consume_{SERVICE_FETCH_BATCH}']:,.0f} msgs/s",
            ]
        )
        for k, v in b.items():
            rep.result(f"{key} raw {k}", v, "bytes" if k == "payload_bytes" else "msgs/s")
    size = next(iter(results.values())).baseline["payload_bytes"]
    rep.add(
        *table(
            [
                "server",
                "pipelined publish, every PubAck awaited",
                "durable pull consume + ack each, fetch 100",
                f"fetch {SERVICE_FETCH_BATCH} (as the services)",
            ],
            rows,
        ),
        f"{plan.baseline_msgs:,} CloudEvents-shaped JSON messages of ~{size:.0f} bytes with `Nats-Msg-Id`, "
        "a file stream configured like ours (2-minute duplicate window, direct get).",
        "",
    )


def report_sustained(rep: Report, results: dict[str, VariantResult], plan: Plan) -> None:
    rep.add(
        f"## Sustained throughput ({plan.sustained_incidents} incidents × {PER_INCIDENT} events, "
        f"batches of {BATCH}, {CLIENTS} concurrent senders, {INTERLEAVE} incidents interleaved)",
        "",
    )
    rows = []
    for key, res in results.items():
        pub, consume = res.baseline["publish"], res.baseline["consume_100"]
        for via, run in res.sustained.items():
            path = "HTTP" if via == "http" else "NATS request"
            ingest_writes = (
                run.writes.get(subjects.EVENTS_STREAM, 0) + run.writes.get(KV_STREAM, 0)
            ) / run.events
            accept = run.rate(run.accept_s)
            recorded, reviewed, drained = (
                run.rate(run.recorded_s),
                run.rate(run.reviewed_s),
                run.rate(run.drained_s),
            )
            rows += [
                [
                    key,
                    path,
                    "accepted (first request → last answer)",
                    fmt_rate(accept),
                    f"{pct(accept, pub)} of raw publish; {pct(accept, pub / ingest_writes if ingest_writes else None)}"
                    f" of raw publish ÷ {ingest_writes:.2f} writes/event",
                ],
                [
                    key,
                    path,
                    "→ recorded by reports (a GET shows it)",
                    fmt_rate(recorded),
                    f"{pct(recorded, pub)} of raw publish",
                ],
                [
                    key,
                    path,
                    "**→ every review materialised with all its events**",
                    f"**{fmt_rate(reviewed)}**",
                    f"{pct(reviewed, pub)} of raw publish; {pct(reviewed, consume)} of raw consume",
                ],
                [
                    key,
                    path,
                    "→ every durable consumer drained",
                    fmt_rate(drained),
                    f"{pct(drained, pub)} of raw publish",
                ],
                [
                    key,
                    path,
                    "reviews checked with GET afterwards",
                    f"{run.verified}/{run.incidents} complete",
                    f"retried requests: {run.errors}",
                ],
            ]
            for label, value in (
                ("accept", accept),
                ("recorded", recorded),
                ("reviewed", reviewed),
                ("drained", drained),
            ):
                rep.result(f"{key} sustained {via} {label}", value, "events/s", events=run.events)
        http = res.sustained.get("http")
        if http is None:
            continue
        accept, reviewed = http.rate(http.accept_s), http.rate(http.reviewed_s)
        writes = (http.writes.get(subjects.EVENTS_STREAM, 0) + http.writes.get(KV_STREAM, 0)) / http.events
        if key == "A":
            rep.goals.append(
                Goal(
                    "accepted → review sustained ≥ 50 % of raw fsync'd pipelined publish",
                    f"{fmt_rate(reviewed)} = {pct(reviewed, pub)} of {pub:,.0f} msgs/s",
                    reviewed is not None and reviewed >= 0.5 * pub,
                )
            )
            target = pub / writes if writes else None
            rep.goals.append(
                Goal(
                    f"HTTP accept (batches of 100) ≥ 80 % of raw fsync'd publish ÷ {writes:.2f} fsync'd writes "
                    "ingest makes per event",
                    f"{fmt_rate(accept)} = {pct(accept, target)} of {target or 0:,.0f}/s",
                    accept is not None and target is not None and accept >= 0.8 * target,
                )
            )
        else:
            rep.goals.append(
                Goal(
                    "default sync: accepted → review ≥ 20 % of raw consume",
                    f"{fmt_rate(reviewed)} = {pct(reviewed, consume)} of {consume:,.0f} msgs/s",
                    reviewed is not None and reviewed >= 0.2 * consume,
                )
            )
    rep.add(*table(["server", "path", "figure", "value", "ratio to the in-run baseline"], rows))


def report_processes(rep: Report, results: dict[str, VariantResult]) -> None:
    rep.add(
        "## CPU and memory per process (sustained phases: first request → every consumer drained)",
        "",
    )
    rows = []
    for key, res in results.items():
        for via, run in res.sustained.items():
            per_k = {n: run.cpu.get(n, 0.0) / run.events * 1000 for n in PROCS}
            total = sum(per_k.values())
            rows.append(
                [key, f"CPU s per 1,000 events ({'HTTP' if via == 'http' else 'NATS'})"]
                + [f"{per_k[n]:.2f} ({100 * per_k[n] / total:.0f} %)" if total else "—" for n in PROCS]
                + [
                    f"{total:.2f}",
                    f"{run.client_cpu_s / run.events * 1000:.2f}",
                    f"{100 * run.machine['others']:.0f} % (steal {100 * run.machine['steal']:.0f} %)",
                ]
            )
            for n in PROCS:
                rep.result(f"{key} CPU s per 1000 events {via} {n}", per_k[n], "s")
        rows.append(
            [key, "peak RSS (VmHWM), end of run"]
            + [f"{res.hwm.get(n, 0):.0f} MiB" for n in PROCS]
            + ["", "", ""]
        )
        for n in PROCS:
            rep.result(f"{key} peak RSS {n}", res.hwm.get(n), "MiB")
    rep.add(
        *table(["server", "figure", *PROCS, "all", "benchmark client", "other load on the machine"], rows),
        "CPU from /proc/<pid>/stat (utime + stime) of each child of the supervisor, and of nats-server. Other "
        "load: CPU that processes outside the benchmark used meanwhile (/proc/stat minus ours), as a share of "
        "all cores; the machine is shared, so figures move with it. "
        "Service restarts during the run: "
        + "; ".join(f"{k}: {r.restarts}" for k, r in results.items())
        + ".",
        "",
    )


def report_writes(rep: Report, results: dict[str, VariantResult]) -> None:
    rep.add("## Writes per accepted event (sustained HTTP phase)", "")
    rows = []
    for key, res in results.items():
        run = res.sustained.get("http")
        if run is None:
            continue
        for stream in STREAMS:
            value = run.writes.get(stream, 0) / run.events
            rows.append([key, f"stream {stream}", WRITER[stream], f"{value:.3f} messages"])
            rep.result(f"{key} messages per event {stream}", value, "msgs")
        acks = ", ".join(f"{c.split('/')[-1]} {v / run.events:.2f}" for c, v in sorted(run.acks.items()) if v)
        rows.append([key, "consumer ack floors moved", "the consumers", acks])
        if run.io:
            rows.append(
                [
                    key,
                    "nats-server /proc/<pid>/io",
                    "—",
                    f"{run.io['nats_write_bytes_per_event']:,.0f} bytes to disk, "
                    f"{run.io['nats_syscw_per_event']:.2f} write syscalls",
                ]
            )
        if run.jsz:
            rows.append(
                [
                    key,
                    "monitoring endpoint /jsz",
                    "—",
                    f"storage +{run.jsz['storage_bytes_per_event']:,.0f} bytes, "
                    f"{run.jsz['api_calls_per_event']:.2f} JetStream API calls",
                ]
            )
    rep.add(*table(["server", "what", "written by", "per accepted event"], rows))
    census = results["A"].census if "A" in results else {}
    if not census:
        return
    rep.add(
        f"### fsync census (A; strace -e fsync,fdatasync on every process; {census.get('events', 0)} events through HTTP)",
        "",
    )
    if "skipped" in census:
        rep.add(f"Not measured: {census['skipped']}.", "")
        return
    rows = []
    for proc_name, per in census["per_event"].items():
        total = sum(per.values())
        for what, v in sorted(per.items(), key=lambda kv: -kv[1]):
            rows.append([proc_name, what, f"{v:.3f}"])
        rows.append([f"**{proc_name}**", "**all**", f"**{total:.3f}**"])
        rep.result(
            f"A fsyncs per event {proc_name}", total, "fsyncs", **{k: round(v, 3) for k, v in per.items()}
        )
    everything = sum(sum(per.values()) for per in census["per_event"].values())
    rows.append(["**all processes**", "", f"**{everything:.2f}**"])
    rep.add(
        *table(["process", "file", "fsyncs per accepted event"], rows),
        "The census phase runs under strace and is not timed. nats-server: a stream's `msgs` block is one fsync "
        "per stored message with `sync_interval: always`; consumer state (`obs/<durable>`) is synced in batches. "
        "Services: SQLite in WAL mode with `synchronous=FULL` (a commit syncs the `-wal` file).",
        "",
    )
