"""Helpers to record GenAI-semconv spans the way instrumentations do."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry.trace import Span, Tracer


def tool_attributes(name: str, arguments: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name}
    if arguments is not None:
        attrs["gen_ai.tool.call.arguments"] = json.dumps(arguments)
    attrs.update(extra)
    return attrs


@contextmanager
def tool(
    tracer: Tracer, name: str, arguments: dict[str, Any] | None = None, result: Any = None, **extra: Any
) -> Iterator[Span]:
    with tracer.start_as_current_span(
        f"execute_tool {name}", attributes=tool_attributes(name, arguments, **extra)
    ) as span:
        yield span
        if result is not None:
            span.set_attribute("gen_ai.tool.call.result", result if isinstance(result, str) else json.dumps(result))


@contextmanager
def agent(tracer: Tracer, name: str = "agent") -> Iterator[Span]:
    with tracer.start_as_current_span(
        f"invoke_agent {name}", attributes={"gen_ai.operation.name": "invoke_agent"}
    ) as span:
        yield span
