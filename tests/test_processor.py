"""ToolSpanProcessor as the application sees it: never raises, ignores unsampled spans, forwards
flush/shutdown, and coexists with other processors without duplicating Logs."""

from __future__ import annotations

import time
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, TraceIdRatioBased

from otel_tool_exporter import ToolLogExporter, ToolSpanProcessor
from otel_tool_exporter.stub import StubServer

from .conftest import make_exporter
from .spans_util import agent, tool


def _logs(stub: StubServer) -> list[dict[str, Any]]:
    return stub.store.list(size=100_000)[0]


def test_unsampled_spans_are_ignored(stub: StubServer) -> None:
    exporter = make_exporter(stub)
    provider = TracerProvider(sampler=ALWAYS_OFF)
    provider.add_span_processor(ToolSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    with tool(tracer, "never_sampled", {"a": 1}, "x"):
        pass
    assert provider.force_flush(5_000)
    assert _logs(stub) == []
    assert exporter.stats()["received"] == 0
    provider.shutdown()


def test_partially_sampled_traces_log_only_sampled_tool_spans(stub: StubServer) -> None:
    exporter = make_exporter(stub)
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.5)))
    provider.add_span_processor(ToolSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    sampled = 0
    for i in range(200):
        with tool(tracer, "maybe", {"i": i}, "x") as span:
            sampled += span.get_span_context().trace_flags.sampled
    assert provider.force_flush(10_000)
    assert 0 < sampled < 200
    assert len(_logs(stub)) == sampled
    provider.shutdown()


def test_a_failing_pipeline_never_raises_into_the_application(stub: StubServer) -> None:
    exporter = make_exporter(stub)
    processor = ToolSpanProcessor(exporter)
    calls: list[str] = []

    def explode(*args: Any, **kwargs: Any) -> None:
        calls.append("called")
        raise RuntimeError("pipeline broke")

    # the processor's two hand-offs, broken: the span's start and end must still return normally
    processor._offer_start = explode  # type: ignore[method-assign]
    processor._offer_end = explode  # type: ignore[method-assign]
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    with tool(tracer, "app_keeps_running", {}, "x"):
        pass  # no exception reaches us
    assert calls == ["called", "called"], "both hand-offs were reached (and failed) inside the processor"
    provider.shutdown()


def test_export_of_odd_objects_fails_softly(stub: StubServer) -> None:
    exporter = make_exporter(stub)
    # not spans at all: the hand-off accepts them, the pipeline counts them, nothing raises
    assert exporter.export([object(), None]).name == "SUCCESS"  # type: ignore[list-item]
    assert exporter.force_flush(5_000)
    stats = exporter.stats()
    assert stats["failed"].get("internal_error") == 2
    exporter.shutdown()


def test_alongside_a_batch_processor_for_another_backend(stub: StubServer) -> None:
    exporter = make_exporter(stub)
    other = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(ToolSpanProcessor(exporter))
    provider.add_span_processor(BatchSpanProcessor(other, schedule_delay_millis=20))
    tracer = provider.get_tracer("t")
    with agent(tracer):
        with tool(tracer, "outer", {}, "o"):
            with tool(tracer, "inner", {}, "i"):
                pass
    assert provider.force_flush(10_000)
    assert sorted(log["path"] for log in _logs(stub)) == ["inner", "outer"]
    assert len(other.get_finished_spans()) == 3  # the other backend still gets every span
    provider.shutdown()


def test_force_flush_and_shutdown_are_forwarded_with_deadlines() -> None:
    exporter = ToolLogExporter(base_url="http://127.0.0.1:9/v5", api_key="k", shutdown_timeout=1.5)
    processor = ToolSpanProcessor(exporter)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    with tool(tracer, "server_down", {}, "x"):
        pass
    started = time.monotonic()
    assert processor.force_flush(300) is False
    assert time.monotonic() - started < 1.0
    started = time.monotonic()
    processor.shutdown()
    assert time.monotonic() - started < 2.5


def test_span_end_does_no_io(stub: StubServer) -> None:
    """The end path only appends to the queue: nothing is sent until the delivery thread runs."""
    stub.set_faults(latency_ms=500)
    exporter = make_exporter(stub)
    provider = TracerProvider()
    provider.add_span_processor(ToolSpanProcessor(exporter))
    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    tracer = provider.get_tracer("t")
    started = time.perf_counter()
    for i in range(50):
        with tool(tracer, "fast", {"i": i}, "x"):
            pass
    assert time.perf_counter() - started < 0.5  # 50 requests at 0.5 s each would take far longer
    assert provider.force_flush(30_000)
    assert len(_logs(stub)) == 50
    provider.shutdown()
