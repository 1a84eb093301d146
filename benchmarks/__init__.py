"""Benchmarks (`make bench`): speed and memory goals live here, not in timed unit tests.

Each module exposes ``run(ctx) -> list[Result]`` (sync or async); ``python -m benchmarks [name …]``
runs them against a real nats-server it starts from the wheel, prints a table and writes
``bench-results/<module>.json``.
"""
