"""SPEC §4 against the real stub over loopback: every tool span → one Log, parents before children,
trace_parent_id matching the span tree or recorded as unresolved with its reason."""

from __future__ import annotations

import asyncio
import gc
import random
import threading
import time
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_tool_exporter import SpanRecord, ToolLogExporter, ToolSpanProcessor
from otel_tool_exporter._internal.burst import BurstPolicy
from otel_tool_exporter._internal.ordering import OrderingEngine
from otel_tool_exporter._internal.pipeline import pipeline_of

from .conftest import logs_by_path, make_exporter
from .spans_util import agent, tool


def _all_logs(stub: Any) -> list[dict[str, Any]]:
    return stub.store.list(size=100_000)[0]


def _by_span(stub: Any) -> dict[str, dict[str, Any]]:
    return {log["metadata"]["otel"]["span_id"]: log for log in _all_logs(stub)}


def _assert_tree_matches(stub: Any, spans: list[Any]) -> None:
    """Each Log's trace_parent_id is the Log of the span's nearest tool ancestor."""
    by_span = _by_span(stub)
    parents = {
        format(s.context.span_id, "016x"): (format(s.parent.span_id, "016x") if s.parent else None) for s in spans
    }
    for span_id, log in by_span.items():
        ancestor = parents.get(span_id)
        while ancestor is not None and ancestor not in by_span:
            ancestor = parents.get(ancestor)
        expected = by_span[ancestor]["id"] if ancestor else None
        assert log.get("trace_parent_id") == expected, (log["path"], log.get("metadata", {}).get("otel"))


def _recording_provider(
    exporter: ToolLogExporter, *, processor: str = "tool"
) -> tuple[TracerProvider, InMemorySpanExporter]:
    provider = TracerProvider()
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    if processor == "tool":
        provider.add_span_processor(ToolSpanProcessor(exporter))
    else:
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=50))
    return provider, memory


@pytest.mark.parametrize("processor", ["tool", "batch"])
def test_tool_agent_tool_tool_children_end_first(stub: Any, processor: str) -> None:
    exporter = make_exporter(stub)
    provider, memory = _recording_provider(exporter, processor=processor)
    tracer = provider.get_tracer("t")
    with agent(tracer, "outer"):
        with tool(tracer, "research", {"topic": "otel"}, "done"):
            with agent(tracer, "inner"):
                with tool(tracer, "search", {"q": "otel"}, "hits"):
                    with tool(tracer, "fetch", {"url": "u"}, "page"):
                        pass
    assert provider.force_flush(10_000)
    # the SDK's BatchSpanProcessor.force_flush exports but does not flush its exporter
    assert exporter.force_flush(10_000)
    logs = logs_by_path(stub)
    assert sorted(logs) == ["fetch", "research", "search"]
    assert logs["research"][0].get("trace_parent_id") is None
    assert logs["search"][0]["trace_parent_id"] == logs["research"][0]["id"]
    assert logs["fetch"][0]["trace_parent_id"] == logs["search"][0]["id"]
    _assert_tree_matches(stub, memory.get_finished_spans())
    assert exporter.stats()["sent"] == 3
    provider.shutdown()


def test_parallel_siblings_under_one_parent(stub: Any) -> None:
    exporter = make_exporter(stub)
    provider, memory = _recording_provider(exporter)
    tracer = provider.get_tracer("t")
    from opentelemetry import context as otel_context

    with tool(tracer, "parent", {"n": 8}, "ok"):
        ctx = otel_context.get_current()

        def child(i: int) -> None:
            token = otel_context.attach(ctx)
            try:
                with tool(tracer, f"child{i}", {"i": i}, str(i)):
                    time.sleep(0.01)
            finally:
                otel_context.detach(token)

        threads = [threading.Thread(target=child, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert provider.force_flush(10_000)
    logs = logs_by_path(stub)
    parent_id = logs["parent"][0]["id"]
    for i in range(8):
        assert logs[f"child{i}"][0]["trace_parent_id"] == parent_id
    _assert_tree_matches(stub, memory.get_finished_spans())
    provider.shutdown()


def test_many_concurrent_traces_from_threads_and_asyncio(stub: Any) -> None:
    exporter = make_exporter(stub)
    provider, memory = _recording_provider(exporter)
    tracer = provider.get_tracer("t")

    def one_trace(i: int) -> None:
        with agent(tracer, f"a{i}"):
            with tool(tracer, f"outer{i}", {"i": i}, "o"):
                with tool(tracer, f"inner{i}", {"i": i}, "i"):
                    pass

    threads = [threading.Thread(target=one_trace, args=(i,)) for i in range(120)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    async def async_trace(i: int) -> None:
        with agent(tracer, f"aa{i}"):
            with tool(tracer, f"async_outer{i}", {"i": i}, "o"):
                await asyncio.sleep(0.001)
                with tool(tracer, f"async_inner{i}", {"i": i}, "i"):
                    await asyncio.sleep(0.001)

    async def run_all() -> None:
        await asyncio.gather(*(async_trace(i) for i in range(120)))

    asyncio.run(run_all())
    assert provider.force_flush(30_000)
    logs = logs_by_path(stub)
    assert len(_all_logs(stub)) == 480
    for prefix in ("", "async_"):
        for i in range(120):
            assert logs[f"{prefix}inner{i}"][0]["trace_parent_id"] == logs[f"{prefix}outer{i}"][0]["id"]
            assert logs[f"{prefix}outer{i}"][0].get("trace_parent_id") is None
    _assert_tree_matches(stub, memory.get_finished_spans())
    stats = exporter.stats()
    assert stats["sent"] == 480 and stats["failed"] == {} and stats["unresolved_parents"] == 0
    provider.shutdown()


def test_parent_that_never_ends_releases_children_after_max_parent_wait(stub: Any) -> None:
    exporter = make_exporter(stub, max_parent_wait=0.5)
    provider, _ = _recording_provider(exporter)
    tracer = provider.get_tracer("t")
    parent = tracer.start_span(
        "execute_tool forever", attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "forever"}
    )
    from opentelemetry import trace

    with trace.use_span(parent, end_on_exit=False):
        with tool(tracer, "orphan", {"x": 1}, "done"):
            pass
    # the child waits: force_flush does not count children waiting on a running parent
    assert provider.force_flush(5_000)
    assert _all_logs(stub) == []
    deadline = time.monotonic() + 5
    while not _all_logs(stub) and time.monotonic() < deadline:
        time.sleep(0.05)
    (log,) = _all_logs(stub)
    assert log["path"] == "orphan" and "trace_parent_id" not in log
    assert log["metadata"]["otel"]["unresolved_parent"] == {
        "span_id": format(parent.get_span_context().span_id, "016x"),
        "reason": "max_parent_wait",
    }
    parent.end()
    provider.shutdown()


def test_parent_rejected_by_server_releases_children_at_once(stub: Any) -> None:
    stub.set_faults(reject_paths=["bad_parent"])
    exporter = make_exporter(stub, max_parent_wait=120)
    provider, _ = _recording_provider(exporter)
    tracer = provider.get_tracer("t")
    started = time.monotonic()
    with tool(tracer, "grandparent", {}, "gp"):
        with tool(tracer, "bad_parent", {}, "bp"):
            with tool(tracer, "child", {}, "c"):
                pass
    assert provider.force_flush(10_000)
    assert time.monotonic() - started < 10
    logs = logs_by_path(stub)
    assert "bad_parent" not in logs
    child = logs["child"][0]
    # the failed parent is skipped: the child nests under the next logged ancestor, and says so
    assert child["trace_parent_id"] == logs["grandparent"][0]["id"]
    assert child["metadata"]["otel"]["skipped_parent"]["reason"] == "parent_failed"
    assert exporter.stats()["failed"] == {"http_400": 1}
    provider.shutdown()


def test_failed_only_parent_sends_child_unresolved(stub: Any) -> None:
    stub.set_faults(reject_paths=["bad_parent"])
    exporter = make_exporter(stub, max_parent_wait=120)
    provider, _ = _recording_provider(exporter)
    tracer = provider.get_tracer("t")
    started = time.monotonic()
    with tool(tracer, "bad_parent", {}, "bp") as parent:
        with tool(tracer, "child", {}, "c"):
            pass
    assert provider.force_flush(10_000)
    assert time.monotonic() - started < 10
    (log,) = _all_logs(stub)
    assert log["path"] == "child" and "trace_parent_id" not in log
    unresolved = log["metadata"]["otel"]["unresolved_parent"]
    assert unresolved["span_id"] == format(parent.get_span_context().span_id, "016x")
    assert unresolved["reason"] == "parent_failed"
    provider.shutdown()


def test_explicit_trace_parent_id_on_ancestor(stub: Any) -> None:
    created = httpx.post(
        f"{stub.base_url}/tools/log", headers={"X-API-KEY": "k"}, json={"path": "external_flow", "output": "x"}
    ).json()
    exporter = make_exporter(stub)
    provider, _ = _recording_provider(exporter)
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("request", attributes={"humanloop.log.trace_parent_id": created["id"]}):
        with agent(tracer):
            with tool(tracer, "outer", {}, "o"):
                with tool(tracer, "inner", {}, "i"):
                    pass
            with tool(tracer, "own_explicit", {}, "x", **{"humanloop.log.trace_parent_id": created["id"]}):
                pass
    assert provider.force_flush(10_000)
    logs = logs_by_path(stub)
    assert logs["outer"][0]["trace_parent_id"] == created["id"]
    assert logs["inner"][0]["trace_parent_id"] == logs["outer"][0]["id"]  # the nearer logged ancestor wins
    assert logs["own_explicit"][0]["trace_parent_id"] == created["id"]
    assert "humanloop.log.trace_parent_id" not in logs["own_explicit"][0]["metadata"]["attributes"]
    provider.shutdown()


def _record_trace(depth: int = 4) -> list[Any]:
    provider = TracerProvider()
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("t")
    with agent(tracer, "root"):
        with tool(tracer, "level1", {}, "1"):
            with agent(tracer, "mid"):
                with tool(tracer, "level2", {}, "2"):
                    with tool(tracer, "level3", {}, "3"):
                        pass
                    with tool(tracer, "level3b", {}, "3b"):
                        pass
        with tool(tracer, "sibling", {}, "s"):
            pass
    provider.shutdown()
    return list(memory.get_finished_spans())


@pytest.mark.parametrize("order", ["end_order", "reversed", "roots_last_shuffled"])
def test_exporter_only_mode_spans_in_many_batches_any_order(stub: Any, order: str) -> None:
    spans = _record_trace()
    if order == "reversed":
        spans = spans[::-1]
    elif order == "roots_last_shuffled":
        import random

        random.Random(7).shuffle(spans)
    exporter = make_exporter(stub)
    for span in spans:  # one span per batch
        exporter.export([span])
    assert exporter.force_flush(10_000)
    logs = logs_by_path(stub)
    assert sorted(logs) == ["level1", "level2", "level3", "level3b", "sibling"]
    assert logs["level2"][0]["trace_parent_id"] == logs["level1"][0]["id"]
    assert logs["level3"][0]["trace_parent_id"] == logs["level2"][0]["id"]
    assert logs["level3b"][0]["trace_parent_id"] == logs["level2"][0]["id"]
    assert logs["level1"][0].get("trace_parent_id") is None
    assert logs["sibling"][0].get("trace_parent_id") is None
    _assert_tree_matches(stub, spans)
    exporter.shutdown()


def test_span_records_from_two_processors_make_one_log_each(stub: Any) -> None:
    exporter = make_exporter(stub)
    provider = TracerProvider()
    provider.add_span_processor(ToolSpanProcessor(exporter))
    provider.add_span_processor(SimpleSpanProcessor(exporter))  # the same spans handed in twice
    tracer = provider.get_tracer("t")
    with tool(tracer, "a", {}, "1"):
        with tool(tracer, "b", {}, "2"):
            pass
    assert provider.force_flush(10_000)
    assert sorted(log["path"] for log in _all_logs(stub)) == ["a", "b"]
    provider.shutdown()


def test_shutdown_sends_waiting_children_and_returns_by_its_deadline(stub: Any) -> None:
    exporter = make_exporter(stub, max_parent_wait=300, shutdown_timeout=3.0)
    provider, _ = _recording_provider(exporter)
    tracer = provider.get_tracer("t")
    parent = tracer.start_span(
        "execute_tool never", attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "never"}
    )
    from opentelemetry import trace

    with trace.use_span(parent, end_on_exit=False):
        for i in range(5):
            with tool(tracer, f"waiting{i}", {}, "w"):
                pass
    assert provider.force_flush(5_000)
    assert exporter.stats()["waiting_children"] == 5
    started = time.monotonic()
    provider.shutdown()
    assert time.monotonic() - started < 3.5
    logs = _all_logs(stub)
    assert len(logs) == 5
    assert all(log["metadata"]["otel"]["unresolved_parent"]["reason"] == "shutdown" for log in logs)


@pytest.mark.slow
def test_shutdown_with_server_down_never_hangs() -> None:
    exporter = ToolLogExporter(base_url="http://127.0.0.1:9/v5", api_key="k", shutdown_timeout=2.0)
    provider = TracerProvider()
    provider.add_span_processor(ToolSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    with tool(tracer, "unreachable", {}, "x"):
        pass
    started = time.monotonic()
    assert provider.force_flush(500) is False
    provider.shutdown()
    assert time.monotonic() - started < 3.5
    stats = exporter.stats()
    assert stats["sent"] == 0 and sum(stats["failed"].values()) == 1


@pytest.mark.slow
def test_ancestry_memory_stays_bounded_far_past_its_cap() -> None:
    """60 times the cap of non-tool spans through the processor: tracked ancestry stays at its cap
    (the cap is a setting, so a small one shows the bound without a million spans)."""
    exporter = ToolLogExporter(base_url="http://127.0.0.1:9/v5", api_key="k", max_tracked_spans=1_000)
    processor = ToolSpanProcessor(exporter)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    peak = 0
    for batch in range(100):
        for _ in range(200):
            with tracer.start_as_current_span("root"):
                with tracer.start_as_current_span("child"):
                    with tracer.start_as_current_span("grandchild"):
                        pass
        if batch % 10 == 9:
            exporter.force_flush(30_000)
            peak = max(peak, exporter.stats()["tracked_spans"])
    exporter.force_flush(30_000)
    stats = exporter.stats()
    assert stats["received"] >= 60_000 - 1  # every span reached the pipeline (3 per trace)
    assert stats["dropped"] == {}
    assert 0 < peak <= 1_000 + 3
    provider.shutdown()


def test_remembered_ancestry_adds_nothing_to_the_applications_garbage_collections() -> None:
    """Every object the cycle collector tracks is walked again by each full collection the
    application runs. Ancestry kept for 60,000 settled spans (ordinary, logged, failed, with an
    explicit parent; in chains) must not leave such objects behind once a collection has seen them."""
    engine = OrderingEngine(ancestry_from_start=True, max_tracked_spans=10**6)
    rng = random.Random(7)
    gc.collect()
    before = len(gc.get_objects())
    for i in range(20_000):
        trace = rng.getrandbits(128)
        root, child, leaf = rng.getrandbits(64), rng.getrandbits(64), rng.getrandbits(64)
        for span, parent in ((root, None), (child, root), (leaf, child)):
            engine.started(trace, span, parent, object())
        engine.ended(trace, leaf, child, failure="redacted" if i % 10 == 0 else None)
        engine.ended(trace, child, root, explicit="log_explicit" if i % 7 == 0 else None)
        engine.remember_log(trace, root, f"log_{i}")
    assert engine.tracked_spans == 60_000
    gc.collect()
    grown = len(gc.get_objects()) - before
    assert grown < 600, f"{grown} objects tracked by the GC for 60,000 remembered spans"


def test_a_burst_is_held_back_and_still_nests_every_log(stub: Any) -> None:
    """While spans pour in, the delivery thread leaves them in the inbox (the burst policy) and
    works through them afterwards. Holding parents and their tool descendants back must not change
    any trace_parent_id; a flush still returns everything."""
    exporter = make_exporter(stub)
    pipeline = pipeline_of(exporter)
    pipeline.loop.burst.max_hold = 10.0  # the whole burst, held
    pipeline.loop.burst.max_spans = 100_000
    provider, memory = _recording_provider(exporter)
    tracer = provider.get_tracer("t")
    held_seen = 0
    for i in range(400):  # tool → ordinary → tool → ordinary, with an ordinary root
        with agent(tracer):
            with tool(tracer, "outer", {"i": i}, "ok"):
                with tracer.start_as_current_span("http GET"):
                    with tool(tracer, "inner", {"i": i}, "ok"):
                        with tracer.start_as_current_span("db query"):
                            pass
        held_seen = max(held_seen, len(pipeline.inbox))
    assert held_seen > 100, "the burst never triggered the hold"
    assert provider.force_flush(30_000)
    logs = _all_logs(stub)
    assert len(logs) == 800
    _assert_tree_matches(stub, list(memory.get_finished_spans()))
    assert sum(1 for log in logs if log.get("trace_parent_id")) == 400
    provider.shutdown()


def test_a_burst_right_after_a_flush_is_held_like_the_first(stub: Any) -> None:
    """A flush ends a hold at once. The next burst, begun before the delivery thread ever slept
    (it lingers a few ms after the flush), must be held again, not worked through span by span
    against the application (bench_interleaved.py: 1.15× → 0.94× BatchSpanProcessor's wall time)."""
    exporter = make_exporter(stub)
    pipeline = pipeline_of(exporter)
    decisions: list[bool] = []  # the burst's own: a flush's urgent call is not one

    class Recorded(BurstPolicy):
        def should_hold(self, waiting: int, urgent: bool) -> bool:
            held = super().should_hold(waiting, urgent)
            if not urgent:
                decisions.append(held)
            return held

    pipeline.loop.burst = Recorded(max_hold=10.0, max_spans=100_000)
    pipeline.loop.burst.begin()  # as the loop did for the policy it replaces, before it slept
    provider, _memory = _recording_provider(exporter)
    tracer = provider.get_tracer("t")
    for burst in range(3):
        decisions.clear()
        for i in range(1000):  # ordinary spans are held alike; a thousand outlast the linger
            with tracer.start_as_current_span("work", attributes={"burst": burst, "i": i}):
                pass
        # the first steps may come before the burst shows (a loaded machine makes spans slowly)
        assert any(decisions), f"burst {burst} was not held"
        assert provider.force_flush(30_000)  # ends the hold; the next burst starts at once
    assert exporter.stats()["received"] == 3000
    provider.shutdown()


def test_span_record_conversion_keeps_parent_links() -> None:
    spans = _record_trace()
    records = [SpanRecord.from_readable(s) for s in spans]
    assert {r.span_id for r in records} == {s.context.span_id for s in spans}
    assert all((r.parent_span_id is None) == (s.parent is None) for r, s in zip(records, spans, strict=True))
