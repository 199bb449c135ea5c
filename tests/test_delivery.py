"""SPEC §5 fault-injection suite, against the real stub's fault flags over loopback.

Each test proves what a user relies on: zero lost Logs, duplicates only for requests the server
accepted before a kill (recognisable by metadata.otel.span_id), Retry-After respected, the app
thread's span.end() never waiting on the network, memory within its configured bound.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

from otel_tool_exporter import ToolSpanProcessor
from otel_tool_exporter._internal.delivery import dispatch as dispatch_module
from otel_tool_exporter._internal.pipeline import pipeline_of
from otel_tool_exporter.stub import StubServer

from .conftest import make_exporter
from .spans_util import tool

PRODUCER = Path(__file__).with_name("producer_script.py")


def _logs(stub: StubServer) -> list[dict[str, Any]]:
    return stub.store.list(size=100_000)[0]


def _span_ids(stub: StubServer) -> Counter[str]:
    return Counter(log["metadata"]["otel"]["span_id"] for log in _logs(stub))


def _produce(provider: TracerProvider, count: int, name: str = "t") -> float:
    """Record ``count`` tool spans; return the slowest span end as seen by the app thread."""
    tracer = provider.get_tracer("t")
    slowest = 0.0
    for i in range(count):
        span = tracer.start_span(
            f"execute_tool {name}",
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": name,
                "gen_ai.tool.call.arguments": json.dumps({"i": i}),
            },
        )
        started = time.perf_counter()
        span.end()
        slowest = max(slowest, time.perf_counter() - started)
    return slowest


def _provider(stub: StubServer, **settings: Any) -> tuple[TracerProvider, Any]:
    exporter = make_exporter(stub, **settings)
    provider = TracerProvider()
    provider.add_span_processor(ToolSpanProcessor(exporter))
    return provider, exporter


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 408])
def test_retryable_statuses_are_retried_until_delivered(stub: StubServer, status: int) -> None:
    stub.set_faults(fail_next=4, status=status)
    provider, exporter = _provider(stub)
    _produce(provider, 10)
    assert provider.force_flush(30_000)
    assert len(_logs(stub)) == 10
    stats = exporter.stats()
    assert stats["sent"] == 10 and stats["retries"] >= 4 and stats["failed"] == {}
    assert stub.state.by_status[status] == 4
    provider.shutdown()


@pytest.mark.slow
def test_retry_after_is_respected(stub: StubServer) -> None:
    stub.set_faults(fail_next=1, status=503, retry_after="2")
    provider, _exporter = _provider(stub)
    started = time.monotonic()
    _produce(provider, 1)
    assert provider.force_flush(30_000)
    assert time.monotonic() - started >= 1.9  # the backoff alone would have been ≤ 0.5 s
    assert len(_logs(stub)) == 1
    provider.shutdown()


def test_final_errors_are_counted_and_logged_once_per_message(
    stub: StubServer, caplog: pytest.LogCaptureFixture
) -> None:
    # The answers come late, so all five are in flight together even on a loaded machine: a
    # failure is said when delivery goes quiet, and a pause between span ends must not split them.
    stub.set_faults(fail_next=5, status=409, latency_ms=300)
    provider, exporter = _provider(stub, api_key="sk-very-secret-key")
    caplog.set_level(logging.DEBUG, logger="otel_tool_exporter")
    _produce(provider, 5, name="conflicting")
    assert provider.force_flush(30_000)
    stats = exporter.stats()
    assert stats["failed"] == {"http_409": 5} and stats["sent"] == 0 and stats["retries"] == 0
    messages = [r.getMessage() for r in caplog.records if "not created" in r.getMessage()]
    assert len(messages) == 1, messages
    assert "5 Logs not created (HTTP 409" in messages[0] and "tool: conflicting" in messages[0]
    assert all("sk-very-secret-key" not in r.getMessage() for r in caplog.records)
    assert all('"i"' not in r.getMessage() for r in caplog.records)  # payloads never logged
    provider.shutdown()


def test_one_line_per_problem_names_the_count_and_every_tool(
    stub: StubServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A rejected key fails every Log alike: one line says how many, and for which tools."""
    stub.set_faults(fail_next=4, status=401, latency_ms=300)  # all four in flight together
    provider, _exporter = _provider(stub)
    caplog.set_level(logging.WARNING, logger="otel_tool_exporter")
    for name in ("get_weather", "lookup_user", "fail_tool", "research"):
        _produce(provider, 1, name=name)
    assert provider.force_flush(30_000)
    messages = [r.getMessage() for r in caplog.records if "not created" in r.getMessage()]
    assert len(messages) == 1, messages
    assert messages[0].startswith("otel_tool_exporter: 4 Logs not created (HTTP 401")
    assert messages[0].endswith("tools: get_weather, lookup_user, fail_tool, research")
    provider.shutdown()


@pytest.mark.slow
def test_connection_resets_and_timeouts_are_retried(stub: StubServer) -> None:
    stub.set_faults(reset_next=3)
    provider, exporter = _provider(stub, timeout=0.5)
    _produce(provider, 5, name="reset")
    assert provider.force_flush(30_000)
    assert len(_logs(stub)) == 5

    stub.set_faults(latency_ms=1500)  # every request now outlives the 0.5 s timeout
    _produce(provider, 3, name="slow")
    time.sleep(1.2)
    stub.set_faults(latency_ms=0)
    assert provider.force_flush(30_000)
    paths = Counter(log["path"] for log in _logs(stub))
    assert paths["reset"] == 5 and paths["slow"] >= 3  # a timed-out request may have been stored
    assert set(_span_ids(stub)) and exporter.stats()["failed"] == {}
    provider.shutdown()


def test_slow_server_never_slows_span_end(stub: StubServer) -> None:
    stub.set_faults(latency_ms=300)
    provider, exporter = _provider(stub)
    slowest = _produce(provider, 200)
    assert slowest < 0.25  # the server takes 0.3 s per request; span.end() never waited for it
    assert provider.force_flush(60_000)
    assert len(_logs(stub)) == 200
    assert exporter.stats()["sent"] == 200
    provider.shutdown()


def test_payload_too_large_is_truncated_and_sent_once_more(stub: StubServer) -> None:
    stub.set_faults(max_body_bytes=20_000)
    provider, _exporter = _provider(stub)
    tracer = provider.get_tracer("t")
    with tool(tracer, "big", {"blob": "x" * 60_000}, "y" * 60_000):
        pass
    assert provider.force_flush(30_000)
    (log,) = _logs(stub)
    assert "truncated" in log["output"] and len(log["output"]) < 20_000
    assert set(log["metadata"]["otel"]["truncated"]) >= {"inputs", "output"}
    assert stub.state.by_status[413] == 1
    provider.shutdown()


@pytest.mark.slow
def test_outage_then_recovery_loses_nothing_and_stays_bounded(
    tmp_path: Path, monkeypatch: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Server down longer than the retry budget, spans keep coming, memory stays at max_queue,
    all arrive. The budget (max_elapsed) and the spool's retry-later delay are shortened so the
    whole story — retries run out, Logs wait on disk, are tried again, the server returns — takes
    seconds, not the minutes of the defaults."""
    monkeypatch.setattr(dispatch_module, "PARK_RETRY_DELAY", 0.5)
    db = str(tmp_path / "stub.db")
    stub = StubServer(db=db).start()
    port = stub.port
    provider, exporter = _provider(stub, spool_dir=str(tmp_path / "spool"), max_queue=20, max_elapsed=1.0)
    _produce(provider, 10, name="before")
    assert provider.force_flush(10_000)
    stub.stop()

    down_since = time.monotonic()
    peak_in_flight = 0
    slowest = 0.0
    for _ in range(10):
        slowest = max(slowest, _produce(provider, 15, name="during"))
        time.sleep(0.5)
        peak_in_flight = max(peak_in_flight, exporter.stats()["in_flight"])
    while time.monotonic() - down_since < 8:  # several rounds of retries running out
        peak_in_flight = max(peak_in_flight, exporter.stats()["in_flight"])
        time.sleep(0.2)
    stats = exporter.stats()
    assert stats["parked_in_spool"] >= 150 - 20  # beyond max_queue the requests wait on disk
    kept = [r for r in caplog.records if "Logs kept in the spool" in r.getMessage()]
    assert 1 <= len(kept) <= 3, "said once per cause of the outage, not once per Log"
    assert stats["retries"] > 150, "retries ran out and were tried again, more than once"
    assert peak_in_flight <= 20
    assert slowest < 0.25

    stub = StubServer(port=port, db=db).start()
    try:
        assert provider.force_flush(120_000)
        paths = Counter(log["path"] for log in _logs(stub))
        assert paths == {"before": 10, "during": 150}
        assert exporter.stats()["failed"] == {} and exporter.stats()["dropped"] == {}
    finally:
        provider.shutdown()
        stub.stop()


@pytest.mark.slow
def test_full_backlog_without_spool_is_counted_never_silent(stub: StubServer) -> None:
    stub.set_faults(latency_ms=500)
    provider, exporter = _provider(stub, max_queue=5, max_concurrency=1)
    _produce(provider, 30)
    assert provider.force_flush(60_000)
    stats = exporter.stats()
    # spans beyond the bound are dropped where they hit it (app-side queue or delivery backlog),
    # and every one is counted with its reason
    assert set(stats["dropped"]) <= {"queue_full", "backlog_full"}
    assert stats["sent"] + sum(stats["dropped"].values()) == 30
    assert sum(stats["dropped"].values()) > 0
    assert len(_logs(stub)) == stats["sent"]
    provider.shutdown()


def _run_producer(base_url: str, spool: Path, count: int, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(PRODUCER), base_url, str(spool), str(count), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigkill_mid_delivery_then_restart_on_the_same_spool(stub: StubServer, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    stub.set_faults(latency_ms=100)
    proc = _run_producer(stub.base_url, spool, 150, "--nested")
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ended"
    deadline = time.monotonic() + 30
    while len(_logs(stub)) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    before_restart = len(_logs(stub))
    assert 0 < before_restart < 300, "the kill must land mid-delivery"

    stub.set_faults(latency_ms=0)
    restarted = _run_producer(stub.base_url, spool, 0, "--replay-only")
    _out, err = restarted.communicate(timeout=120)
    assert restarted.returncode == 0, err

    logs = _logs(stub)
    span_counts = Counter(log["metadata"]["otel"]["span_id"] for log in logs)
    assert len(span_counts) == 300  # every span of both runs: zero lost
    duplicates = sum(n - 1 for n in span_counts.values())
    assert duplicates <= 64  # only requests in flight at the kill (at most max_concurrency)
    by_span = {log["metadata"]["otel"]["span_id"]: log for log in logs}
    ids = {log["id"] for log in logs}
    for log in logs:
        if log["path"] == "pchild":
            parent = log.get("trace_parent_id")
            assert parent in ids or log["metadata"]["otel"].get("unresolved_parent"), log["metadata"]["otel"]
            if parent:
                assert by_span[log["metadata"]["otel"]["parent_span_id"]]["path"] == "pparent"
    assert not any(p.suffix == ".db" and p.stat().st_size and _rows(p) for p in spool.glob("spool-*.db"))


def _rows(path: Path) -> int:
    import sqlite3

    db = sqlite3.connect(str(path))
    try:
        return int(db.execute("SELECT COUNT(*) FROM requests").fetchone()[0])
    finally:
        db.close()


def test_two_processes_share_one_spool_directory(stub: StubServer, tmp_path: Path) -> None:
    spool = tmp_path / "shared-spool"
    procs = [_run_producer(stub.base_url, spool, 100, "--prefix", prefix) for prefix in ("a", "b")]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert json.loads(out.strip().splitlines()[-1])["sent"] == 100
    paths = Counter(log["path"] for log in _logs(stub))
    assert paths == {"atool": 100, "btool": 100}
    assert all(_rows(p) == 0 for p in spool.glob("spool-*.db"))


@pytest.mark.parametrize(
    "flags",
    [
        ("--no-shutdown", "--no-exit-hook"),  # ToolSpanProcessor, nobody shuts down: our atexit flush
        ("--no-shutdown", "--batch"),  # BatchSpanProcessor: the provider's exit hook shuts us down
        # and where no thread may start at exit (Python 3.12.0/3.12.1): the delivery thread never
        # ran, so the exit hook's flush runs the delivery loop itself
        ("--no-shutdown", "--batch", "--threads-refused-at-exit"),
    ],
)
def test_short_script_exiting_without_shutdown_still_delivers(stub: StubServer, flags: tuple[str, ...]) -> None:
    proc = _run_producer(stub.base_url, Path("-"), 20, *flags)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert len(_logs(stub)) == 20
    assert "Traceback" not in err and "not delivered" not in err, err


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
def test_forked_child_gets_a_fresh_worker(stub: StubServer) -> None:
    """gunicorn/celery style: exporter (and its thread) created before the fork, spans after."""
    provider, exporter = _provider(stub)
    _produce(provider, 3, name="parent_before_fork")
    assert provider.force_flush(10_000)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            _produce(provider, 5, name="child_after_fork")
            code = 0 if provider.force_flush(20_000) and exporter.stats()["sent"] == 5 else 3
        finally:
            os._exit(code)
    _produce(provider, 4, name="parent_after_fork")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert provider.force_flush(10_000)
    paths = Counter(log["path"] for log in _logs(stub))
    assert paths == {"parent_before_fork": 3, "child_after_fork": 5, "parent_after_fork": 4}
    provider.shutdown()


_METRICS_SCRIPT = """
import json, sys
from collections import Counter
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from otel_tool_exporter import ToolLogExporter, ToolSpanProcessor

reader = InMemoryMetricReader()
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
exporter = ToolLogExporter(base_url=sys.argv[1], api_key="k")
provider = TracerProvider()
provider.add_span_processor(ToolSpanProcessor(exporter))
tracer = provider.get_tracer("t")
for i in range(4):
    with tracer.start_as_current_span("execute_tool m", attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "m"}):
        pass
assert provider.force_flush(30_000)
out = {}
for rm in reader.get_metrics_data().resource_metrics:
    for sm in rm.scope_metrics:
        for metric in sm.metrics:
            points = list(metric.data.data_points)
            if metric.name.endswith("request.duration"):
                out[metric.name] = {p.attributes["outcome"]: p.count for p in points}
            else:
                out[metric.name] = [[dict(p.attributes), p.value] for p in points]
provider.shutdown()
del exporter, provider
import gc
gc.collect()
after_gc = [
    p.value
    for rm in reader.get_metrics_data().resource_metrics
    for sm in rm.scope_metrics
    for m in sm.metrics
    if m.name == "otel_tool_exporter.sent"
    for p in m.data.data_points
]
out["sent_after_exporter_collected"] = after_gc
print(json.dumps(out))
"""


def test_metrics_through_the_global_meter_provider(stub: StubServer) -> None:
    """In a fresh interpreter (the global MeterProvider can be set once per process)."""
    stub.set_faults(fail_next=1, status=503)
    proc = subprocess.run(
        [sys.executable, "-c", _METRICS_SCRIPT, stub.base_url], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    points = json.loads(proc.stdout.strip().splitlines()[-1])
    assert points["otel_tool_exporter.sent"] == [[{}, 4]]
    assert points["otel_tool_exporter.tool_spans"] == [[{}, 4]]
    assert points["otel_tool_exporter.retries"] == [[{}, 1]]
    assert points["otel_tool_exporter.request.duration"] == {"503": 1, "200": 4}
    assert points["otel_tool_exporter.waiting_children"] == [[{}, 0]]
    assert points.get("otel_tool_exporter.failed", []) == []  # no failure, no data point
    assert points["sent_after_exporter_collected"] == [4]  # counters never go down


def test_app_thread_never_blocks_while_delivery_thread_is_busy(stub: StubServer) -> None:
    """span.end() from many threads while the server is slow: all return fast, all arrive."""
    stub.set_faults(latency_ms=200)
    provider, _exporter = _provider(stub)
    slowest: list[float] = []

    def worker() -> None:
        slowest.append(_produce(provider, 50, name="threaded"))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert max(slowest) < 0.25
    assert provider.force_flush(60_000)
    assert len(_logs(stub)) == 200
    provider.shutdown()


def test_the_delivery_thread_sleeps_when_there_is_nothing_to_do(stub: StubServer) -> None:
    """After its Logs are delivered the loop lingers a few ms, then sleeps until woken: no turns,
    no polling (a stale wake-up once kept it turning every 5 ms, ~5 % of a core)."""
    provider, exporter = _provider(stub)
    _produce(provider, 20)
    assert provider.force_flush(30_000)
    loop = pipeline_of(exporter).loop
    turns = [0]
    after_turn = loop._after_turn

    def counted() -> None:
        turns[0] += 1
        after_turn()

    time.sleep(0.1)  # the linger after the flush runs out
    loop._after_turn = counted  # type: ignore[method-assign]
    time.sleep(0.5)
    assert turns[0] <= 2, f"{turns[0]} turns of the loop in 0.5 s with nothing to do"
    _produce(provider, 3)  # and it still wakes for new work
    assert provider.force_flush(30_000) and len(_logs(stub)) == 23
    provider.shutdown()
