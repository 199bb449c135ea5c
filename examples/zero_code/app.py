"""An application that knows nothing about Humanloop: it only uses the OpenTelemetry API.

Its tool calls are spans in the OpenTelemetry GenAI conventions, as an instrumented agent library
would record them. Run it with no code change:

    OTEL_TRACES_EXPORTER=humanloop OTEL_METRICS_EXPORTER=none OTEL_LOGS_EXPORTER=none \\
      HUMANLOOP_API_KEY=... opentelemetry-instrument python examples/zero_code/app.py

or let ``run.py`` beside it do that against a local stub.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

tracer = trace.get_tracer("zero_code_app")


def call_tool(name: str, fn: Callable[..., Any], **arguments: Any) -> Any:
    attributes = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name,
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


def fail_tool(reason: str) -> str:
    raise ValueError(f"boom: {reason}")


def research(topic: str) -> str:
    with tracer.start_as_current_span("invoke_agent researcher", attributes={"gen_ai.operation.name": "invoke_agent"}):
        return "Research summary: " + call_tool("search_web", lambda query: f"3 results for {query}", query=topic)


def main() -> None:
    with tracer.start_as_current_span("invoke_agent assistant", attributes={"gen_ai.operation.name": "invoke_agent"}):
        call_tool("get_weather", lambda city: f"Sunny, 21C in {city}", city="Paris")
        call_tool("lookup_user", lambda user_id: {"id": user_id, "name": "Ada"}, user_id=42)
        call_tool("fail_tool", fail_tool, reason="disk full")
        print(call_tool("research", research, topic="otel"))
    # No flush, no shutdown: the exporter delivers what is left when the interpreter exits.


if __name__ == "__main__":
    main()
