"""Accepted means durable — and when the disk cannot keep that promise, the bookkeeping still holds.

Real parts only: the stub over loopback, a real filesystem that fills up (a 256 KiB tmpfs), real
processes and signals where a process must die.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

from otel_tool_exporter import ToolSpanProcessor
from otel_tool_exporter._internal.delivery.spool import Spool
from otel_tool_exporter._internal.pipeline import pipeline_of
from otel_tool_exporter.stub import StubServer

from .conftest import make_exporter
from .processes import running, stop
from .spans_util import tool


def _logs(stub: StubServer) -> list[dict[str, Any]]:
    return stub.store.list(size=100_000)[0]


@contextlib.contextmanager
def small_filesystem(where: Path, size: str = "256k") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where`` (root only): a disk that really fills up."""
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.strip() or 'not root'}): no full disk to test")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _nested_pairs(provider: TracerProvider, n: int) -> None:
    """``n`` traces of a tool parent with a tool child (the child ends first and must wait)."""
    tracer = provider.get_tracer("t")
    for i in range(n):
        with tool(tracer, "parent", {"i": i, "pad": "x" * 200}, "done"):
            with tool(tracer, "child", {"i": i, "pad": "y" * 200}, "ok"):
                pass


@pytest.mark.slow
def test_a_full_disk_loses_nothing_and_strands_no_child(stub: StubServer, tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "disk") as disk:
        stub.set_faults(error_rate=1.0, status=503, retry_after="0")  # the server is down at first
        exporter = make_exporter(stub, spool_dir=str(disk / "spool"))
        provider = TracerProvider()
        provider.add_span_processor(ToolSpanProcessor(exporter))
        _nested_pairs(provider, 500)  # 1,000 Logs of ~1 KB: far more than 256 KiB
        threading.Timer(4.0, lambda: stub.set_faults(error_rate=0.0)).start()
        deadline = time.monotonic() + 10
        while exporter.stats()["spool"] == "on" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert exporter.stats()["spool"] == "failed: disk full", "the disk filled up and stats() says so"
        assert provider.force_flush(60_000)
        stats = exporter.stats()
        logs = _logs(stub)
        assert len(logs) == 1000, stats
        children = [log for log in logs if log["path"] == "child"]
        assert len(children) == 500
        assert all(log.get("trace_parent_id") for log in children), "every child nested under its parent"
        assert stats["waiting_children"] == 0 and stats["failed"] == {} and stats["dropped"] == {}
        provider.shutdown()


def test_a_spool_that_cannot_be_opened_is_said_and_shown(stub: StubServer, tmp_path: Path) -> None:
    readonly = tmp_path / "ro"
    readonly.mkdir()
    readonly.chmod(0o500)
    if os.access(readonly, os.W_OK):  # root ignores permission bits: make the path a file instead
        readonly.chmod(0o700)
        readonly.rmdir()
        readonly.write_text("not a directory")
    exporter = make_exporter(stub, spool_dir=str(readonly / "spool"))
    try:
        state = exporter.stats()["spool"]
        assert state.startswith("failed: "), state
        provider = TracerProvider()
        provider.add_span_processor(ToolSpanProcessor(exporter))
        _nested_pairs(provider, 3)
        assert provider.force_flush(10_000)
        assert len(_logs(stub)) == 6, "delivery goes on from memory"
    finally:
        exporter.shutdown()


def test_spool_state_is_on_or_off(stub: StubServer, tmp_path: Path) -> None:
    with_spool = make_exporter(stub, spool_dir=str(tmp_path / "spool"))
    without = make_exporter(stub)
    try:
        assert with_spool.stats()["spool"] == "on"
        assert without.stats()["spool"] == "off"
        assert pipeline_of(with_spool).spool_state == "on"
    finally:
        with_spool.shutdown()
        without.shutdown()


@pytest.mark.slow
def test_a_restart_during_an_outage_keeps_nesting(stub: StubServer, tmp_path: Path) -> None:
    """Shut down while the server is down and children wait for their parents' Logs: the children
    stay on disk with their remaining wait, and the next process nests every one of them."""
    spool = str(tmp_path / "spool")
    stub.set_faults(error_rate=1.0, status=503, retry_after="0")
    first = make_exporter(stub, spool_dir=spool, shutdown_timeout=2.0)
    provider = TracerProvider()
    provider.add_span_processor(ToolSpanProcessor(first))
    _nested_pairs(provider, 20)
    deadline = time.monotonic() + 5
    while first.stats()["waiting_children"] < 20 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert first.stats()["waiting_children"] == 20, "children wait for parents whose Logs are retrying"
    provider.shutdown()
    assert first.stats()["unresolved_parents"] == 0, "nobody was sent without a parent at shutdown"
    assert _logs(stub) == []

    stub.set_faults(error_rate=0.0)
    second = make_exporter(stub, spool_dir=spool)
    try:
        assert second.force_flush(20_000)
        deadline = time.monotonic() + 10
        while len(_logs(stub)) < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        logs = _logs(stub)
        assert len(logs) == 40
        by_id = {log["id"]: log for log in logs}
        children = [log for log in logs if log["path"] == "child"]
        for child in children:
            parent = by_id[child["trace_parent_id"]]
            assert parent["path"] == "parent"
            assert parent["metadata"]["otel"]["trace_id"] == child["metadata"]["otel"]["trace_id"]
    finally:
        second.shutdown()


# ---------------------------------------------------------------------------------- SIGKILL
PRODUCER = Path(__file__).with_name("producer_script.py")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(predicate: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def _assert_nested_exactly(logs: list[dict[str, Any]], parent_path: str, child_path: str) -> None:
    """Every child names the Log of its own parent span (a duplicate parent may have two Logs)."""
    logs_of_span: dict[str, set[str]] = {}
    for log in logs:
        logs_of_span.setdefault(log["metadata"]["otel"]["span_id"], set()).add(log["id"])
    for log in logs:
        if log["path"] == child_path:
            otel = log["metadata"]["otel"]
            assert "unresolved_parent" not in otel, otel
            assert log["trace_parent_id"] in logs_of_span[otel["parent_span_id"]]


KILL_AFTER = 0.3  # seconds after the last of 3,000 tool spans ended: the journal writes ~20k spans/s


@pytest.mark.slow
def test_sigkill_of_an_in_process_exporter_loses_no_span_handed_in(stub: StubServer, tmp_path: Path) -> None:
    """3,000 nested tool spans handed to the processor in one burst, the server slow; SIGKILL
    0.3 s after the last one ended (the journal takes a burst at about 20,000 spans a second, so
    these are on disk 0.15–0.2 s after the burst); a restart on the same spool delivers them all,
    nested exactly."""
    spool = tmp_path / "spool"
    stub.set_faults(latency_ms=300)
    proc = subprocess.Popen(
        [
            sys.executable,
            str(PRODUCER),
            stub.base_url,
            str(spool),
            "1500",
            "--nested",
            "--no-shutdown",
            "--linger",
            "30",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ended"
    time.sleep(KILL_AFTER)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    before = len(_logs(stub))
    assert before < 3000, "killed mid-delivery"

    stub.set_faults(latency_ms=0)
    restarted = subprocess.run(
        [sys.executable, str(PRODUCER), stub.base_url, str(spool), "0", "--replay-only"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert restarted.returncode == 0, restarted.stderr
    logs = _logs(stub)
    spans = {log["metadata"]["otel"]["span_id"] for log in logs}
    assert len(spans) == 3000, f"{3000 - len(spans)} of 3,000 spans lost"
    assert len(logs) - len(spans) <= 64, "duplicates only for requests in flight at the kill"
    _assert_nested_exactly(logs, "pparent", "pchild")


@pytest.mark.slow
def test_sigkill_of_the_sidecar_after_it_answered_loses_nothing(stub: StubServer, tmp_path: Path) -> None:
    """serve answers 200 only once the spans are on disk: SIGKILL right after the answers, restart on
    the same spool, and every accepted span becomes its Log, nested as before."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("t")
    for i in range(500):  # agent → tool parent → tool child: 1,500 spans, 1,000 Logs
        with tracer.start_as_current_span("agent run"):
            with tool(tracer, "parent", {"i": i}, "done"):
                with tool(tracer, "child", {"i": i}, "ok"):
                    pass
    spans = list(memory.get_finished_spans())

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "HUMANLOOP_API_KEY": "k"}
    cmd = [sys.executable, "-m", "otel_tool_exporter.cli", "serve", "--port", str(port), "--base-url", stub.base_url]
    cmd += ["--spool-dir", str(tmp_path / "spool")]
    stub.set_faults(latency_ms=500)
    with running(cmd, env) as proc:
        assert _wait_for(lambda: _healthy(url), 20)
        otlp = OTLPSpanExporter(endpoint=f"{url}/v1/traces")
        for start in range(0, len(spans), 100):
            assert otlp.export(spans[start : start + 100]) is SpanExportResult.SUCCESS
        stop(proc, signal.SIGKILL, timeout=10)
    assert len(_logs(stub)) < 1000, "killed mid-delivery"

    stub.set_faults(latency_ms=0)
    with running(cmd, env) as proc:
        assert _wait_for(lambda: len({log["metadata"]["otel"]["span_id"] for log in _logs(stub)}) >= 1000, 60)
        stop(proc)
    logs = _logs(stub)
    assert len({log["metadata"]["otel"]["span_id"] for log in logs}) == 1000
    assert len(logs) - 1000 <= 64, "duplicates only for requests the server had in hand at the kill"
    _assert_nested_exactly(logs, "parent", "child")


def _healthy(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_spool_writes_a_tick_as_one_transaction_links_and_journal_alike(tmp_path: Path) -> None:
    """What a tick wrote reaches the disk at its commit, all at once: the links written in the
    tick, the journal rows removed (only the rows named), a trace forgotten."""
    spool = Spool(tmp_path / "spool")
    rows = spool.journal([b"a", b"b", b"c", b"d", b"e", b"f"])
    assert rows is not None and spool.commit()
    spool.link("t1", "s1", None, None)
    spool.link("t1", "s2", "s1", "fl_1")
    spool.unjournal([rows[0], rows[1], rows[2], rows[4]])  # two runs; row 4 and 6 stay
    reader = sqlite3.connect(spool.path)  # another connection sees only what was committed
    assert reader.execute("SELECT COUNT(*) FROM links").fetchone()[0] == 0
    assert reader.execute("SELECT COUNT(*) FROM journal").fetchone()[0] == 6
    assert spool.commit()
    assert sorted(reader.execute("SELECT span_id, parent_span_id, explicit FROM links").fetchall()) == [
        ("s1", None, None),
        ("s2", "s1", "fl_1"),
    ]
    assert [row for row, _ in spool.journaled()] == [rows[3], rows[5]]
    spool.link("t2", "s3", None, None)
    spool.forget_traces(["t2"])  # a link gathered this tick for a trace forgotten now goes too
    assert spool.commit()
    assert spool.links_for({"t2"}) == []
    reader.close()
    spool.close()
