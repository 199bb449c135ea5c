"""Plain OpenTelemetry: your own spans, an SDK provider you already have, one processor added.

    python examples/manual_spans.py

The spans follow the OpenTelemetry GenAI semantic conventions (``execute_tool {name}`` with
``gen_ai.operation.name = "execute_tool"``), the same shape pydantic-ai, Strands or Google ADK
record. Four tool calls: a plain one, a dict-returning one, a failing one, and one that runs a
nested agent which calls a tool itself — that Log nests under ``research`` even though an agent
span sits between them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from _common import destination
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Status, StatusCode, Tracer

from otel_tool_exporter import ToolLogExporter, ToolSpanProcessor


def call_tool(tracer: Tracer, name: str, description: str, fn: Callable[..., Any], **arguments: Any) -> Any:
    attributes = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name,
        "gen_ai.tool.description": description,
        "gen_ai.tool.call.arguments": json.dumps(arguments),
    }
    with tracer.start_as_current_span(f"execute_tool {name}", attributes=attributes) as span:
        try:
            result = fn(**arguments)
        except Exception as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            return None
        span.set_attribute("gen_ai.tool.call.result", result if isinstance(result, str) else json.dumps(result))
        return result


def run_agent(tracer: Tracer) -> None:
    def get_weather(city: str) -> str:
        return f"Sunny, 21C in {city}"

    def lookup_user(user_id: int) -> dict[str, Any]:
        return {"id": user_id, "name": "Ada", "tags": ["admin", "beta"]}

    def fail_tool(reason: str) -> str:
        raise ValueError(f"boom: {reason}")

    def research(topic: str) -> str:
        with tracer.start_as_current_span(
            "invoke_agent researcher", attributes={"gen_ai.operation.name": "invoke_agent"}
        ):
            found = call_tool(
                tracer, "search_web", "Search the web.", lambda query: f"3 results for {query}", query=topic
            )
        return f"Research summary: {found}"

    with tracer.start_as_current_span("invoke_agent assistant", attributes={"gen_ai.operation.name": "invoke_agent"}):
        call_tool(tracer, "get_weather", "Get the weather for a city.", get_weather, city="Paris")
        call_tool(tracer, "lookup_user", "Look up a user by id.", lookup_user, user_id=42)
        call_tool(tracer, "fail_tool", "Always fails.", fail_tool, reason="disk full")
        call_tool(tracer, "research", "Research a topic with a sub-agent.", research, topic="otel")


def main() -> int:
    with destination("examples/manual/") as dest:
        # The setup you would have anyway ...
        provider = TracerProvider(resource=Resource.create({"service.name": "manual-spans-example"}))
        # ... plus one line: every setting not given here comes from the environment.
        exporter = ToolLogExporter(**dest.settings)
        provider.add_span_processor(ToolSpanProcessor(exporter))

        run_agent(provider.get_tracer("examples.manual_spans"))
        code = dest.report(exporter)
        provider.shutdown()
        return code


if __name__ == "__main__":
    sys.exit(main())
