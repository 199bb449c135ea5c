"""Helpers shared by the trace view, ``logs`` and ``doctor`` tests: real traces sent to the stub."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.trace import TracerProvider

from otel_tool_exporter.cli.demo import run_agent
from otel_tool_exporter.stub import StubServer

ProviderFactory = Callable[..., tuple[TracerProvider, Any]]


def wait_for_logs(stub: StubServer, count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while stub.store.count() < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"stub holds {stub.store.count()} Logs, expected {count}")
        time.sleep(0.02)


def send_demo_trace(provider_for: ProviderFactory) -> None:
    """The demo's agent (four tool calls, one failing, one nesting another) through the exporter."""
    provider, _ = provider_for(path_prefix="demo/")
    run_agent(provider.get_tracer("otel_tool_exporter.cli.demo"))
    assert provider.force_flush(10_000)


def send_single_tool(provider_for: ProviderFactory, name: str = "ok_tool") -> None:
    """A trace with one successful GenAI tool call and nothing else."""
    provider, _ = provider_for(path_prefix="demo/")
    tracer = provider.get_tracer("tests")
    attributes = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name,
        "gen_ai.tool.call.arguments": '{"n": 1}',
        "gen_ai.tool.call.result": "fine",
    }
    with tracer.start_as_current_span(f"execute_tool {name}", attributes=attributes):
        pass
    assert provider.force_flush(10_000)


def send_unresolved_child(stub: StubServer, provider_for: ProviderFactory) -> None:
    """A child tool span whose parent tool span outlives ``max_parent_wait``: the child is sent
    without ``trace_parent_id`` (reason ``max_parent_wait``), the parent's Log arrives later."""
    provider, _ = provider_for(path_prefix="demo/", max_parent_wait=0.3)
    tracer = provider.get_tracer("tests")
    before = stub.store.count()

    def tool(name: str) -> dict[str, Any]:
        return {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name, "gen_ai.tool.call.arguments": "{}"}

    with tracer.start_as_current_span("execute_tool slow_parent", attributes=tool("slow_parent")):
        with tracer.start_as_current_span("execute_tool orphan", attributes=tool("orphan")):
            pass
        wait_for_logs(stub, before + 1)
    assert provider.force_flush(10_000)
    wait_for_logs(stub, before + 2)
