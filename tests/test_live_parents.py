"""Live parents: children of a tool that runs for long appear at once, nested under a Log created
early for it, which is completed when the tool ends (Update Log). Against the real stub."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from otel_tool_exporter import ToolSpanProcessor
from otel_tool_exporter.stub import StubServer
from otel_tool_exporter.stub.page import render_traces

from .conftest import make_exporter

LIVE_AFTER = 0.3


def _logs(stub: StubServer) -> list[dict[str, Any]]:
    return stub.store.list(size=10_000)[0]


def _attrs(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name,
        "gen_ai.tool.call.arguments": json.dumps({"topic": "otel"}),
        **extra,
    }


def _wait_for(predicate: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def _setup(stub: StubServer, **settings: Any) -> tuple[TracerProvider, Any, trace.Tracer]:
    exporter = make_exporter(stub, **settings)
    provider = TracerProvider()
    provider.add_span_processor(ToolSpanProcessor(exporter))
    return provider, exporter, provider.get_tracer("t")


def test_children_of_a_long_parent_appear_nested_while_it_runs_and_it_is_completed(stub: StubServer) -> None:
    provider, exporter, tracer = _setup(stub, live_parent_after=LIVE_AFTER)
    with tracer.start_as_current_span("execute_tool research", attributes=_attrs("research")) as research:
        with tracer.start_as_current_span("agent step"):
            with tracer.start_as_current_span("execute_tool search_web", attributes=_attrs("search_web")) as s:
                s.set_attribute("gen_ai.tool.call.result", "3 results")
        started = time.monotonic()
        assert _wait_for(lambda: len(_logs(stub)) == 2, 5), "the child appears while the parent runs"
        appeared = time.monotonic() - started
        by_path = {log["path"]: log for log in _logs(stub)}
        parent, child = by_path["research"], by_path["search_web"]
        assert child["trace_parent_id"] == parent["id"]
        assert "output" not in parent and "end_time" not in parent, "created early: nothing known of its end"
        assert parent["inputs"] == {"topic": "otel"} and parent["metadata"]["otel"]["running"] is True
        assert appeared < LIVE_AFTER + 2.0
        assert 'class="status running"' in render_traces(stub.store), "the trace view shows it running"
        research.set_attribute("gen_ai.tool.call.result", "summary of 3 results")
    assert provider.force_flush(10_000)
    logs = _logs(stub)
    assert len(logs) == 2, "the parent is one Log, completed in place"
    parent = next(log for log in logs if log["path"] == "research")
    assert parent["output"] == "summary of 3 results" and "end_time" in parent and parent["provider_latency"] > 0
    assert parent["metadata"]["otel"]["running"] is False
    assert 'class="status running"' not in render_traces(stub.store), "then completed"
    stats = exporter.stats()
    assert (stats["sent"], stats["created_early"], stats["completed_early"]) == (2, 1, 1)
    provider.shutdown()


def test_a_short_parent_costs_exactly_one_request(stub: StubServer) -> None:
    provider, _exporter, tracer = _setup(stub, live_parent_after=LIVE_AFTER)
    before = stub.state.requests
    with tracer.start_as_current_span("execute_tool quick", attributes=_attrs("quick")):
        with tracer.start_as_current_span("execute_tool inner", attributes=_attrs("inner")):
            pass
    assert provider.force_flush(10_000)
    assert stub.state.requests - before == 2, "one POST per Log, no early Log, no update"
    logs = {log["path"]: log for log in _logs(stub)}
    assert logs["inner"]["trace_parent_id"] == logs["quick"]["id"]
    provider.shutdown()


def test_off_keeps_children_waiting_for_the_parents_end(stub: StubServer) -> None:
    provider, _exporter, tracer = _setup(stub, live_parent_after="off")
    with tracer.start_as_current_span("execute_tool research", attributes=_attrs("research")):
        with tracer.start_as_current_span("execute_tool search_web", attributes=_attrs("search_web")):
            pass
        time.sleep(LIVE_AFTER + 0.5)
        assert _logs(stub) == [], "nothing before the parent ends"
    assert provider.force_flush(10_000)
    logs = {log["path"]: log for log in _logs(stub)}
    assert logs["search_web"]["trace_parent_id"] == logs["research"]["id"]
    provider.shutdown()


def test_a_server_without_update_log_falls_back_once_and_nothing_is_sent_twice(
    stub: StubServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="otel_tool_exporter")
    stub.set_faults(update_status=405)
    provider, _exporter, tracer = _setup(stub, live_parent_after=LIVE_AFTER)
    with tracer.start_as_current_span("execute_tool first", attributes=_attrs("first")):
        with tracer.start_as_current_span("execute_tool child1", attributes=_attrs("child1")):
            pass
        assert _wait_for(lambda: len(_logs(stub)) == 2, 5)
    assert provider.force_flush(10_000)
    # later parents wait for their end, as without live parents
    with tracer.start_as_current_span("execute_tool second", attributes=_attrs("second")):
        with tracer.start_as_current_span("execute_tool child2", attributes=_attrs("child2")):
            pass
        time.sleep(LIVE_AFTER + 0.5)
        assert len(_logs(stub)) == 2, "no early Log once the server said it cannot update"
    assert provider.force_flush(10_000)
    logs = _logs(stub)
    assert sorted(log["path"] for log in logs) == ["child1", "child2", "first", "second"], "each once"
    by_path = {log["path"]: log for log in logs}
    assert by_path["child2"]["trace_parent_id"] == by_path["second"]["id"]
    said = [r.getMessage() for r in caplog.records if "does not update Logs" in r.getMessage()]
    assert len(said) == 1
    provider.shutdown()


def test_the_stub_validates_update_log(stub: StubServer) -> None:
    import httpx

    provider, _exporter, tracer = _setup(stub, live_parent_after="off")
    with tracer.start_as_current_span("execute_tool t", attributes=_attrs("t")):
        pass
    assert provider.force_flush(10_000)
    (log,) = _logs(stub)
    url = f"{stub.base_url}/tools/{log['tool_id']}/log/{log['id']}"
    headers = {"X-API-KEY": "k"}
    assert httpx.patch(url, json={"output": "done"}, headers=headers).status_code == 200
    assert stub.store.get(log["id"])["output"] == "done"  # type: ignore[index]
    assert httpx.patch(url, json={"nope": 1}, headers=headers).status_code == 422
    assert httpx.patch(url, json={"provider_latency": "slow"}, headers=headers).status_code == 422
    assert httpx.patch(url.replace(log["id"], "log_missing"), json={}, headers=headers).status_code == 404
    assert httpx.patch(url.replace(log["tool_id"], "tl_other"), json={}, headers=headers).status_code == 404
    provider.shutdown()


@pytest.mark.slow
def test_a_crash_mid_run_keeps_the_early_parent_and_completes_it_after_restart(stub: StubServer, tmp_path: Any) -> None:
    """SIGKILL while the parent's completion is on its way: the early parent and its child are
    in place, and the restarted process completes the parent from the spool."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    producer = Path(__file__).with_name("producer_script.py")
    spool = tmp_path / "spool"
    env = {**os.environ, "OTEL_TOOL_EXPORTER_LIVE_PARENT_AFTER": "300ms"}
    proc = subprocess.Popen(
        [
            sys.executable,
            str(producer),
            stub.base_url,
            str(spool),
            "0",
            "--live",
            "1.5",
            "--no-shutdown",
            "--linger",
            "30",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert _wait_for(lambda: len(_logs(stub)) == 2, 10), "early parent and child delivered while it ran"
    stub.set_faults(latency_ms=5000)  # the completion will be in flight when the process dies
    assert proc.stdout.readline().strip() == "parent ended"
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    parent = next(log for log in _logs(stub) if log["path"] == "agent_tool")
    assert "output" not in parent, "not completed before the crash"

    stub.set_faults(latency_ms=0)
    restarted = subprocess.run(
        [sys.executable, str(producer), stub.base_url, str(spool), "0", "--replay-only"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert restarted.returncode == 0, restarted.stderr
    logs = _logs(stub)
    assert len(logs) == 2, "still one parent Log and its child: nothing sent twice"
    parent = next(log for log in logs if log["path"] == "agent_tool")
    child = next(log for log in logs if log["path"] == "step")
    assert child["trace_parent_id"] == parent["id"]
    assert parent["output"] == "agent done" and "end_time" in parent
