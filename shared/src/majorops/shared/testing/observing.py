"""What an operator observes of a service under test: HTTP answers and problems, metrics, traces."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

from majorops.shared.problems import PROBLEM_MEDIA_TYPE

# --- HTTP ----------------------------------------------------------------------------------------


async def http_get(url: str) -> Any:
    """``GET url`` with a fresh client (no token): the ``httpx.Response``."""
    import httpx

    async with httpx.AsyncClient(timeout=5) as http:
        return await http.get(url)


def problem_of(resp: Any, status: int, slug: str | None = None) -> dict[str, Any]:
    """The RFC 9457 document of a refusal (an ``httpx.Response``), its shape checked: the status,
    the media type, the members every problem has, the ``type`` of ``slug``, the error entries."""
    assert resp.status_code == status, resp.text[:600]
    assert resp.headers["content-type"] == PROBLEM_MEDIA_TYPE
    doc: dict[str, Any] = resp.json()
    assert {"type", "title", "status", "detail"} <= set(doc)
    assert doc["status"] == status
    if slug is not None:
        assert doc["type"] == f"https://majorops.dev/problems/{slug}", doc
    for error in doc.get("errors", []):
        assert {"field", "message"} <= set(error) <= {"field", "message", "index"}, error
        assert error["field"] and error["message"], error
    return doc


# --- metrics ---------------------------------------------------------------------------------------


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of a Prometheus text exposition (the sum over the samples the labels
    given do not tell apart); 0 when there is none, as a counter that never moved shows nothing."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


async def scrape(base: str) -> str:
    """``GET <base>/metrics`` as Prometheus does (no token): the exposition, checked for its type."""
    import httpx

    async with httpx.AsyncClient(timeout=5) as http:
        resp = await http.get(f"{base}/metrics")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    return resp.text


# --- traces ----------------------------------------------------------------------------------------


class _SpanRecorder(SpanProcessor):
    """Keeps the spans that end while a :func:`recorded_spans` block is open."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] | None = None

    def on_end(self, span: ReadableSpan) -> None:
        if self.spans is not None:
            self.spans.append(span)


_RECORDER: _SpanRecorder | None = None


@contextmanager
def recorded_spans() -> Iterator[list[ReadableSpan]]:
    """Every span this process ends inside the block, as a list filled as they end.

    The SDK becomes the process's tracer provider at the first use (a process has one for good);
    outside of a block nothing is kept.
    """
    global _RECORDER
    if _RECORDER is None:
        provider = trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):
            provider = TracerProvider()
            trace.set_tracer_provider(provider)
        _RECORDER = _SpanRecorder()
        provider.add_span_processor(_RECORDER)
    spans: list[ReadableSpan] = []
    _RECORDER.spans = spans
    try:
        yield spans
    finally:
        _RECORDER.spans = None
