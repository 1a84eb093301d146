"""End to end: the whole pipeline of ``majorops up`` against raw JetStream, measured in the same run.

``python -m benchmarks pipeline [--quick] [--long]`` starts its own nats-servers and systems (it
ignores the shared server of the other modules) and writes ``bench-results/pipeline.json`` and
``bench-results/pipeline.md``.

Two server settings, each with its in-run baseline:

- **A, ``sync_interval: always``** — exactly what ``majorops up`` runs: the real CLI
  (``majorops up --data-dir … --nats-port … --ingest-port … --reports-port …``) in a subprocess,
  its embedded nats-server, four service processes. The raw baseline runs on that same embedded
  server before any load.
- **B, the nats-server default sync** (no ``sync_interval`` line): ``majorops up`` has no flag for
  that, so the benchmark starts the nats-server itself (:class:`NatsServer` with
  ``sync_interval=None``) and points ``majorops up`` at it with ``MAJOROPS_NATS_URL``.

Baselines (nats-py, nothing of ours): pipelined ``js.publish_async`` of ~300-byte CloudEvents-shaped
JSON with ``Nats-Msg-Id`` to a file stream configured like ours, every PubAck awaited; and a durable
pull consumer fetching batches and acking each message.

Phases on A (B runs the baselines and the sustained phases only):

1. sustained HTTP ingest: POST /v1/events, batches of 100, 4 concurrent clients; events of 25
   incidents interleaved per window (20 events per incident: alert, declaration P1/P2, role,
   14 timeline entries, mitigated, resolved, closed). Accept rate = events ÷ (first POST → last 202).
   Accepted → review = first POST → every review of the phase holds all its events.
2. the same through NATS requests to ``majorops.ingest`` (4 concurrent requesters).
3. an fsync census (strace on nats-server and the four services while a small batch flows).
4. latency at fixed rates (open loop, one event per POST): accepted → first decision (core NATS
   subscription on ``majorops.decisions.>``), accepted → recorded / in the materialised review,
   due → escalation (closed incidents backdated so ``schedule_by`` falls a few seconds ahead).
5. memory over a long run (RSS sampled per service; ``--long``: up to 1,000,000 events).
6. one incident of 10 … 10,000 events: per-event cost (last: the largest may outlast its bounded wait).

"Reflected in the review" is read from reports' SQLite file, read-only (no request perturbs
reports): the ``events`` table (recorded: from then on a GET, which assembles a stale review on
read, shows the event) and the ``reviews`` table (the materialised document's ``timeline``). After
each sustained phase every review is also fetched with GET /v1/reviews/<id> and its timeline
length checked.

The package, one module per seam, each importing only modules listed before it:

- ``plan`` — sizes, tunables and the :class:`Plan` of a run;
- ``events`` — the workload: incidents, the latency schedule, the escalation probe;
- ``system`` — ``majorops up`` in a subprocess, ``/proc`` figures of its processes;
- ``observe`` — reports' SQLite read-only, JetStream stream and consumer state, polling;
- ``baseline`` — the raw nats-py baseline;
- ``rawhttp`` — the minimal HTTP/1.1 client of the latency phase;
- ``throughput`` — phases 1 and 2 (sustained HTTP / NATS ingest) and their senders;
- ``census`` — phase 3 (fsync census under strace);
- ``latencies`` — phase 4 (latency at fixed rates);
- ``scale`` — phases 5 and 6 (memory over a long run, one incident of N events);
- ``variant`` — one server setting, A or B, through its phases;
- ``render``, ``report_throughput``, ``report_phases``, ``report`` — the Markdown report and its goals;
- ``runner`` — :func:`~benchmarks.pipeline.runner.run`, what ``python -m benchmarks pipeline`` calls.
"""
