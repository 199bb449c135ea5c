"""``otel-tool-exporter demo``: an instrumented agent run, exported, and the Log tree it became.

The agent is scripted (no model, no network) and records its spans exactly as the OpenTelemetry
GenAI semantic conventions say, like pydantic-ai or Strands would: an agent span, a chat span
offering the tools, and one ``execute_tool`` span per call — a plain tool, a dict-returning tool,
a failing tool, and a tool that runs a nested agent which itself calls a tool.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Status, StatusCode, Tracer

from otel_tool_exporter._internal.logtree import build_trees, render_text
from otel_tool_exporter.exporter import ToolLogExporter
from otel_tool_exporter.processor import ToolSpanProcessor

TOOLS: dict[str, dict[str, Any]] = {
    "get_weather": {
        "description": "Get the weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
    "lookup_user": {
        "description": "Look up a user by id.",
        "parameters": {"type": "object", "properties": {"user_id": {"type": "integer"}}, "required": ["user_id"]},
    },
    "fail_tool": {
        "description": "Always fails.",
        "parameters": {"type": "object", "properties": {"reason": {"type": "string"}}},
    },
    "research": {
        "description": "Research a topic with a sub-agent.",
        "parameters": {"type": "object", "properties": {"topic": {"type": "string"}}, "required": ["topic"]},
    },
    "search_web": {
        "description": "Search the web.",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
    },
}


def get_weather(city: str) -> str:
    return f"Sunny, 21C in {city}"


def lookup_user(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "name": "Ada", "tags": ["admin", "beta"]}


def fail_tool(reason: str) -> str:
    raise ValueError(f"boom: {reason}")


def search_web(query: str) -> str:
    return f"3 results for {query}"


def _definitions(names: list[str]) -> str:
    return json.dumps([{"type": "function", "function": {"name": n, **TOOLS[n]}} for n in names])


def _call_tool(tracer: Tracer, name: str, arguments: dict[str, Any], call_id: str, fn: Any) -> Any:
    attributes = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name,
        "gen_ai.tool.call.id": call_id,
        "gen_ai.tool.description": TOOLS[name]["description"],
        "gen_ai.tool.call.arguments": json.dumps(arguments),
    }
    with tracer.start_as_current_span(f"execute_tool {name}", attributes=attributes) as span:
        try:
            result = fn(**arguments)
        except Exception as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            span.set_attribute("error.type", type(exc).__name__)
            return None
        span.set_attribute("gen_ai.tool.call.result", result if isinstance(result, str) else json.dumps(result))
        return result


def _agent(tracer: Tracer, name: str, calls: list[tuple[str, dict[str, Any], Any]]) -> None:
    with tracer.start_as_current_span(
        f"invoke_agent {name}", attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": name}
    ):
        with tracer.start_as_current_span(
            "chat scripted-model",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "scripted-model",
                "gen_ai.tool.definitions": _definitions([c[0] for c in calls]),
            },
        ):
            pass
        for i, (tool, arguments, fn) in enumerate(calls):
            _call_tool(tracer, tool, arguments, f"call_{name}_{i}", fn)


def run_agent(tracer: Tracer) -> None:
    """The demo scenario: four tool calls, one of which runs a nested agent."""

    def research(topic: str) -> str:
        _agent(tracer, "researcher", [("search_web", {"query": topic}, search_web)])
        return f"Summary of {topic}: 3 results found"

    _agent(
        tracer,
        "assistant",
        [
            ("get_weather", {"city": "Paris"}, get_weather),
            ("lookup_user", {"user_id": 42}, lookup_user),
            ("fail_tool", {"reason": "disk full"}, fail_tool),
            ("research", {"topic": "otel"}, research),
        ],
    )


def run_demo(*, port: int = 0, wait: bool = False, out: Any = None) -> int:
    import sys

    out = out or sys.stdout
    if os.environ.get("HUMANLOOP_API_KEY"):
        return _run_against(None, out)
    from otel_tool_exporter.stub import StubServer

    with StubServer(port=port) as stub:
        code = _run_against(stub, out)
        print(f"\nTrace view: {stub.root_url}/   (Logs API: {stub.base_url}/logs)", file=out)
        if wait:
            print("Stub running; press Ctrl-C to stop.", file=out, flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
        return code


def _run_against(stub: Any, out: Any) -> int:
    settings: dict[str, Any] = {"path_prefix": "demo/"}
    if stub is not None:
        settings.update(base_url=stub.base_url, api_key="local-stub")
    exporter = ToolLogExporter(**settings)
    provider = TracerProvider(resource=Resource.create({"service.name": "otel-tool-exporter-demo"}))
    provider.add_span_processor(ToolSpanProcessor(exporter))
    run_agent(provider.get_tracer("otel_tool_exporter.cli.demo"))
    delivered = provider.force_flush(30_000)
    stats = exporter.stats()
    provider.shutdown()
    print(
        f"Exported {stats['tool_spans']} tool spans -> {stats['sent']} Logs to {exporter.settings.base_url}", file=out
    )
    if stub is None:
        print("Open Humanloop to see them under the 'demo/' folder.", file=out)
        return 0 if delivered and not stats["failed"] else 1
    logs, _ = stub.store.list(size=1000)
    print("\nLog tree received by the stub:\n", file=out)
    print(render_text(build_trees(logs)), file=out)
    return 0 if delivered and stats["sent"] == stats["tool_spans"] and not stats["failed"] else 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("demo", help="run an instrumented agent and print the Log tree it produced")
    parser.add_argument("--port", type=int, default=0, help="port of the in-process stub (default: any free port)")
    parser.add_argument("--wait", action="store_true", help="keep the stub (and its trace view) running afterwards")
    parser.set_defaults(func=lambda args: run_demo(port=args.port, wait=args.wait))
