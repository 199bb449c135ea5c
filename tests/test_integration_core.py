"""End to end over loopback: OTel SDK spans → ToolLogExporter → real stub server (issue 2).

A nested GenAI-semconv agent trace (agent → chat → tools, one tool running a sub-agent that calls
another tool, one tool failing) is recorded with the real SDK and exported through both
supported setups; what the stub stored is checked field by field, including parent ids.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Status, StatusCode, Tracer

from otel_tool_exporter import ToolLogExporter, ToolSpanProcessor
from otel_tool_exporter.stub import StubServer

WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


class Recorder(SpanExporter):
    """Keeps the finished SDK spans so the test can compare ids with what arrived."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Any) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


def tool_call(tracer: Tracer, name: str, arguments: dict[str, Any], body: Any) -> None:
    attributes = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name,
        "gen_ai.tool.call.id": f"call_{name}",
        "gen_ai.tool.call.arguments": json.dumps(arguments),
        "app.custom": "kept",
    }
    with tracer.start_as_current_span(f"execute_tool {name}", attributes=attributes) as span:
        try:
            result = body(**arguments)
        except Exception as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR))  # no description: error comes from the event
            return
        span.add_event("cache miss", {"key": name})
        span.set_attribute("gen_ai.tool.call.result", result if isinstance(result, str) else json.dumps(result))


def agent_run(tracer: Tracer) -> None:
    def fail(reason: str) -> str:
        raise ValueError(f"boom: {reason}")

    def research(topic: str) -> str:
        with tracer.start_as_current_span(
            "invoke_agent researcher", attributes={"gen_ai.operation.name": "invoke_agent"}
        ):
            tool_call(tracer, "search_web", {"query": topic}, lambda query: f"3 results for {query}")
        return f"summary of {topic}"

    with tracer.start_as_current_span("invoke_agent assistant", attributes={"gen_ai.operation.name": "invoke_agent"}):
        definitions = [
            {
                "type": "function",
                "function": {"name": "get_weather", "description": "Weather.", "parameters": WEATHER_SCHEMA},
            }
        ]
        with tracer.start_as_current_span(
            "chat model",
            attributes={"gen_ai.operation.name": "chat", "gen_ai.tool.definitions": json.dumps(definitions)},
        ):
            pass
        tool_call(tracer, "get_weather", {"city": "Paris"}, lambda city: f"Sunny in {city}")
        tool_call(tracer, "lookup_user", {"user_id": 42}, lambda user_id: {"id": user_id, "name": "Ada"})
        tool_call(tracer, "fail_tool", {"reason": "disk full"}, fail)
        tool_call(tracer, "research", {"topic": "otel"}, research)


@pytest.fixture(params=["tool_span_processor", "batch_span_processor"])
def setup(
    request: pytest.FixtureRequest, stub: StubServer
) -> Iterator[tuple[TracerProvider, ToolLogExporter, Recorder]]:
    exporter = ToolLogExporter(api_key="test-key", base_url=stub.base_url, path_prefix="it/")
    provider = TracerProvider(
        resource=Resource.create({"service.name": "it-service", "deployment.environment.name": "ci"})
    )
    if request.param == "tool_span_processor":
        provider.add_span_processor(ToolSpanProcessor(exporter))
    else:
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=50))
    recorder = Recorder()
    provider.add_span_processor(SimpleSpanProcessor(recorder))
    yield provider, exporter, recorder
    provider.shutdown()


def test_nested_trace_arrives_with_correct_fields_and_parents(
    setup: tuple[TracerProvider, ToolLogExporter, Recorder], stub: StubServer
) -> None:
    provider, exporter, recorder = setup
    agent_run(provider.get_tracer("it.agent", "9.9"))
    assert provider.force_flush(20_000)
    assert exporter.force_flush(20_000)

    logs, total = stub.store.list(size=100)
    assert total == 5, [log["path"] for log in logs]
    by_path = {log["path"]: log for log in logs}
    assert set(by_path) == {"it/get_weather", "it/lookup_user", "it/fail_tool", "it/research", "it/search_web"}
    spans = {s.name: s for s in recorder.spans}

    weather = by_path["it/get_weather"]
    assert weather["inputs"] == {"city": "Paris"}
    assert weather["output"] == "Sunny in Paris"
    assert "error" not in weather
    assert weather["tool"] == {
        "function": {"name": "get_weather", "description": "Weather.", "parameters": WEATHER_SCHEMA}
    }
    assert weather["source"] == "it.agent"
    assert weather["environment"] == "ci"
    span = spans["execute_tool get_weather"]
    otel = weather["metadata"]["otel"]
    assert otel["trace_id"] == format(span.context.trace_id, "032x")
    assert otel["span_id"] == format(span.context.span_id, "016x")
    assert otel["parent_span_id"] == format(span.parent.span_id, "016x")  # type: ignore[union-attr]
    assert otel["service_name"] == "it-service"
    assert otel["call_id"] == "call_get_weather"
    assert weather["metadata"]["attributes"] == {"app.custom": "kept"}
    assert weather["stdout"].endswith('cache miss {"key":"get_weather"}')
    assert weather["provider_latency"] == pytest.approx((span.end_time - span.start_time) / 1e9, abs=1e-6)  # type: ignore[operator]
    assert weather["start_time"].endswith("Z") and weather["created_at"] == weather["end_time"]

    assert by_path["it/lookup_user"]["output"] == '{"id":42,"name":"Ada"}'
    failed = by_path["it/fail_tool"]
    assert failed["error"] == "ValueError: boom: disk full"
    assert "output" not in failed
    assert failed["inputs"] == {"reason": "disk full"}

    # nesting: the agent/chat spans are not logged, so top-level tools are roots;
    # search_web ran inside research (through a non-tool agent span) and nests under it
    for path in ("it/get_weather", "it/lookup_user", "it/fail_tool", "it/research"):
        assert "trace_parent_id" not in by_path[path], path
    assert by_path["it/search_web"]["trace_parent_id"] == by_path["it/research"]["id"]
    assert by_path["it/search_web"]["output"] == "3 results for otel"
    assert "unresolved_parent" not in by_path["it/search_web"]["metadata"]["otel"]

    stats = exporter.stats()
    assert stats["tool_spans"] == 5 and stats["sent"] == 5
    assert not stats["failed"] and not stats["dropped"]


def test_every_body_the_exporter_sent_was_valid(
    setup: tuple[TracerProvider, ToolLogExporter, Recorder], stub: StubServer
) -> None:
    """The stub validates with the same models; no request may have been refused."""
    provider, exporter, _ = setup
    agent_run(provider.get_tracer("it.agent"))
    assert provider.force_flush(20_000) and exporter.force_flush(20_000)
    assert stub.state.by_status == {200: 5}


def test_hostile_attribute_values_still_arrive(stub: StubServer) -> None:
    """Bad input end to end: every OTel attribute type, NaN, broken JSON and a huge argument are
    mapped, capped and accepted by the server — one Log, nothing refused, nothing dropped."""
    exporter = ToolLogExporter(api_key="test-key", base_url=stub.base_url, max_field_bytes=64 * 1024)
    provider = TracerProvider()
    provider.add_span_processor(ToolSpanProcessor(exporter))
    tracer = provider.get_tracer("hostile")
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "hostile",
        "gen_ai.tool.call.arguments": json.dumps({"blob": "x" * 1_000_000}),
        "gen_ai.tool.call.result": '{"a": NaN, "b": [1, 2',
        "f": float("nan"),
        "inf": float("-inf"),
        "seq": (1.0, float("inf")),
        "bools": (True, False),
        "big": 2**63 - 1,
        "text": "ünï \u2028 line",
    }
    with tracer.start_as_current_span("execute_tool hostile", attributes=attributes) as span:
        span.add_event("odd", {"nan": float("nan"), "seq": ("a", "b")})
        span.set_status(Status(StatusCode.ERROR, "x" * 500_000))
    assert provider.force_flush(20_000)
    provider.shutdown()
    assert stub.state.by_status == {200: 1}, stub.state.by_status
    (log,), _ = stub.store.list()
    assert log["path"] == "hostile"
    assert len(json.dumps(log["inputs"])) < 70 * 1024
    assert "truncated" in log["inputs"]["blob"]
    assert {"inputs", "error"} <= set(log["metadata"]["otel"]["truncated"])
    assert log["metadata"]["attributes"]["big"] == 2**63 - 1
    assert isinstance(log["metadata"]["attributes"]["f"], str)
    assert log["error"].startswith("xxx")
