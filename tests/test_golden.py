"""Golden tests: spans captured from the real frameworks → the real pipeline → the real stub.

Every fixture ran the same scenario (tests/fixtures/capture/README.md): get_weather(city="Paris"),
lookup_user(user_id=42) returning a dict, fail_tool(reason="disk full") raising, and research
(topic="otel") whose nested agent calls search_web(query="otel"). For each fixture we feed its
spans in end order to a ``ToolLogExporter`` pointed at the stub, then check, Log by Log, what a
user would look at in Humanloop. Deviations a framework forces are listed per fixture.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pytest

from otel_tool_exporter import SpanRecord
from otel_tool_exporter.stub import StubServer

from .conftest import FIXTURES, load_fixture, make_exporter

ARGS = {
    "get_weather": {"city": "Paris"},
    "lookup_user": {"user_id": 42},
    "fail_tool": {"reason": "disk full"},
    "research": {"topic": "otel"},
    "search_web": {"query": "otel"},
}
OUTPUTS: dict[str, Any] = {
    "get_weather": "Sunny, 21C in Paris",
    "lookup_user": {"id": 42, "name": "Ada", "tags": ["admin", "beta"]},  # compared as JSON
    "research": "Research summary: 3 results for otel",
    "search_web": "3 results for otel",
}
DESCRIPTIONS = {
    "get_weather": "Get the weather for a city.",
    "lookup_user": "Look up a user by id.",
    "fail_tool": "Always fails.",
    "research": "Research a topic with a sub-agent.",
    "search_web": "Search the web.",
}
OPENAI_STYLE_IDS = {
    "get_weather": "call_weather",
    "lookup_user": "call_user",
    "fail_tool": "call_fail",
    "research": "call_research",
    "search_web": "call_search",
}
NUMBERED_IDS = {
    "get_weather": "call_1",
    "lookup_user": "call_2",
    "fail_tool": "call_3",
    "research": "call_4",
    "search_web": "call_sub_1",
}
ADK_IDS = {**NUMBERED_IDS, "fail_tool": None}  # ADK writes the placeholder '<not specified>'
ALL = frozenset(ARGS)


@dataclass(frozen=True)
class Golden:
    """What the framework recorded, hence what its Logs must show."""

    call_ids: dict[str, str | None] = field(default_factory=dict)
    descriptions: bool = True
    schemas: frozenset[str] = ALL  # tools whose JSON Schema was known when their span ended
    inputs: dict[str, Any] = field(default_factory=lambda: dict(ARGS))
    outputs: dict[str, Any] = field(default_factory=lambda: dict(OUTPUTS))
    fail_error: str = "boom: disk full"  # substring of fail_tool's error
    extra_tools: tuple[str, ...] = ()  # tools beyond the scenario's five


GOLDEN: dict[str, Golden] = {
    "pydantic_ai": Golden(call_ids=OPENAI_STYLE_IDS),
    "pydantic_ai_v2": Golden(call_ids=OPENAI_STYLE_IDS),
    "langgraph_openinference": Golden(call_ids=OPENAI_STYLE_IDS),
    "langgraph_openllmetry": Golden(call_ids=OPENAI_STYLE_IDS),
    "traceloop_decorators": Golden(
        descriptions=False,
        schemas=frozenset(),
        # lookup_user was called positionally: the decorator records {"args": [42], "kwargs": {}}
        inputs={**ARGS, "lookup_user": {"args": [42]}},
    ),
    "openai_agents_openinference": Golden(
        call_ids=OPENAI_STYLE_IDS,
        # the SDK's default failure_error_function turns the exception into the tool's output
        outputs={**OUTPUTS, "fail_tool": "An error occurred while running the tool. Please try again."},
        fail_error="Error running tool (non-fatal)",
    ),
    "smolagents": Golden(
        call_ids={**OPENAI_STYLE_IDS, "final_answer": "call_sub_final"},
        extra_tools=("final_answer", "final_answer"),
    ),
    "google_adk": Golden(
        call_ids=ADK_IDS,
        # ADK ends the generate_content span that holds the definitions after the tool span
        schemas=frozenset({"lookup_user", "research", "fail_tool"}),
    ),
    # content capture off: no arguments, no results, and the definitions say "parameters": null
    "google_adk_nocontent": Golden(call_ids=ADK_IDS, schemas=frozenset(), inputs={}, outputs={}),
    "google_adk_v1": Golden(
        call_ids=ADK_IDS,
        schemas=frozenset({"lookup_user", "research", "fail_tool"}),
        # ADK 1.x never gets to record the failing call: that span has no attributes at all
        inputs={k: v for k, v in ARGS.items() if k != "fail_tool"},
    ),
    "strands": Golden(call_ids={**NUMBERED_IDS}, outputs={**OUTPUTS, "fail_tool": "Error: boom: disk full"}),
    "strands_latest": Golden(call_ids={**NUMBERED_IDS}, outputs={**OUTPUTS, "fail_tool": "Error: boom: disk full"}),
    "langfuse": Golden(call_ids=NUMBERED_IDS, descriptions=False, schemas=frozenset()),
    "mlflow": Golden(call_ids=NUMBERED_IDS, descriptions=False, schemas=frozenset()),
    "humanloop_sdk": Golden(),
    "vercel_ai": Golden(call_ids=NUMBERED_IDS),
}


def _fixture_names() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.json"))


def test_every_fixture_has_a_golden_entry() -> None:
    """A fixture landing without expectations must fail loudly, not be skipped silently."""
    assert set(_fixture_names()) <= set(GOLDEN)


def _seed_humanloop_flows(stub: StubServer, doc: dict[str, Any]) -> list[str]:
    """The Humanloop SDK creates each flow's Log through the API before its tools run, and its
    tool spans name that Log in ``humanloop.log.trace_parent_id``: create those Logs first."""
    seeded = []
    for span in doc["spans"]:
        log_id = span["attributes"].get("humanloop.log.id")
        if span["attributes"].get("humanloop.file.type") == "flow" and log_id:
            record = {
                "id": log_id,
                "tool_id": "fl_" + log_id,
                "version_id": "flv_" + log_id,
                "path": span["attributes"]["humanloop.file.path"],
                "trace_id": log_id,
            }
            stub.store.insert(record, received_at=time.time())
            seeded.append(log_id)
    return seeded


def run_fixture(stub: StubServer, name: str, **settings: Any) -> tuple[dict[str, Any], list[dict[str, Any]], Any]:
    """Feed a fixture's spans (end order) through a real exporter; return doc, Logs, exporter."""
    doc = load_fixture(name)
    seeded = _seed_humanloop_flows(stub, doc) if name == "humanloop_sdk" else []
    exporter = make_exporter(stub, **settings)
    for span in doc["spans"]:
        exporter.export([SpanRecord.from_fixture(span)])
    assert exporter.force_flush(20_000)
    logs = [log for log in stub.store.list(size=100_000)[0] if log["id"] not in seeded]
    return doc, logs, exporter


def _tool_of(log: dict[str, Any]) -> str:
    return log["tool"]["function"]["name"]


class Run(NamedTuple):
    name: str
    golden: Golden
    doc: dict[str, Any]
    logs: list[dict[str, Any]]
    exporter: Any


@pytest.fixture(params=sorted(GOLDEN))
def golden_run(request: pytest.FixtureRequest, stub: StubServer) -> Iterator[Run]:
    name = request.param
    if not (FIXTURES / f"{name}.json").exists():
        pytest.skip(f"fixture {name}.json not captured in this checkout")
    doc, logs, exporter = run_fixture(stub, name)
    yield Run(name, GOLDEN[name], doc, logs, exporter)
    exporter.shutdown()
    del exporter
    gc.collect()  # process-wide metrics sum live pipelines: let this one go before the next test


def test_one_log_per_tool_call_and_none_for_other_spans(golden_run: Run) -> None:
    golden = golden_run.golden
    doc = golden_run.doc
    logs = golden_run.logs
    exporter = golden_run.exporter
    expected = sorted([*ARGS, *golden.extra_tools])
    assert sorted(_tool_of(log) for log in logs) == expected
    stats = exporter.stats()
    assert stats["sent"] == len(expected)
    assert stats["tool_spans"] == len(expected)
    assert stats["received"] == len(doc["spans"])
    assert not stats["failed"] and not stats["dropped"]
    span_names = {s["span_id"]: s["name"] for s in doc["spans"]}
    for log in logs:  # each Log points at a real span of the fixture
        assert span_names[log["metadata"]["otel"]["span_id"]] == log["metadata"]["otel"]["span_name"]


def test_inputs_outputs_and_errors(golden_run: Run) -> None:
    golden = golden_run.golden
    logs = golden_run.logs
    by_tool = {_tool_of(log): log for log in logs}
    for tool, log in by_tool.items():
        if tool in golden.inputs:
            assert log["inputs"] == golden.inputs[tool], tool
        elif tool in ARGS:
            assert "inputs" not in log, tool
        if tool in golden.outputs:
            want = golden.outputs[tool]
            assert isinstance(log["output"], str)
            if isinstance(want, dict):
                assert json.loads(log["output"]) == want, tool
            else:
                assert log["output"] == want, tool  # a string as is, never JSON-quoted
        elif tool in ARGS:
            assert "output" not in log, tool
        if tool == "fail_tool":
            assert golden.fail_error in log["error"]
        else:
            assert "error" not in log, tool


def test_descriptions_schemas_and_call_ids(golden_run: Run) -> None:
    golden = golden_run.golden
    logs = golden_run.logs
    for log in logs:
        tool = _tool_of(log)
        function = log["tool"]["function"]
        if tool not in ARGS:
            continue
        if golden.descriptions:
            assert function["description"] == DESCRIPTIONS[tool]
        else:
            assert "description" not in function
        if tool in golden.schemas:
            schema = function["parameters"]
            assert schema["type"] == "object"
            assert set(schema["properties"]) == set(ARGS[tool]), tool
        else:
            assert "parameters" not in function, tool
        otel = log["metadata"]["otel"]
        assert otel.get("call_id") == golden.call_ids.get(tool), tool


def test_nesting_matches_the_span_tree(golden_run: Run) -> None:
    name = golden_run.name
    doc = golden_run.doc
    logs = golden_run.logs
    by_tool = {_tool_of(log): log for log in logs}
    if name == "humanloop_sdk":
        # explicit humanloop.log.trace_parent_id wins: the flows' Logs the SDK created
        assert by_tool["search_web"]["trace_parent_id"] == "fl_capture_2"
        for tool in ("get_weather", "lookup_user", "fail_tool", "research"):
            assert by_tool[tool]["trace_parent_id"] == "fl_capture_1"
        return
    assert by_tool["search_web"]["trace_parent_id"] == by_tool["research"]["id"]
    for tool in ("get_weather", "lookup_user", "fail_tool", "research"):
        assert by_tool[tool].get("trace_parent_id") is None, tool
    # the general rule: nearest logged ancestor in the captured tree
    parents = {s["span_id"]: s["parent_span_id"] for s in doc["spans"]}
    by_span = {log["metadata"]["otel"]["span_id"]: log for log in logs}
    for span_id, log in by_span.items():
        ancestor = parents.get(span_id)
        while ancestor is not None and ancestor not in by_span:
            ancestor = parents.get(ancestor)
        assert log.get("trace_parent_id") == (by_span[ancestor]["id"] if ancestor else None)


def test_consumed_content_is_not_repeated_in_metadata(golden_run: Run) -> None:
    """What became inputs/output/tool details is not copied into metadata.attributes again,
    while nothing else on the span is lost."""
    doc = golden_run.doc
    logs = golden_run.logs
    spans = {s["span_id"]: s for s in doc["spans"]}
    for log in logs:
        span = spans[log["metadata"]["otel"]["span_id"]]
        attributes = log["metadata"].get("attributes", {})
        assert set(attributes) <= set(span["attributes"])
        shown = json.dumps([log.get("inputs"), log.get("output")])
        for key, value in attributes.items():
            if isinstance(value, str) and len(value) > 12:
                assert value not in shown, (key, value)
        if "stdout" in log:  # content events were consumed; only unrelated events remain
            assert "gen_ai.tool.message" not in log["stdout"]
            assert "gen_ai.choice" not in log["stdout"]


def test_smolagents_schema_conversion_matches_what_the_model_saw() -> None:
    """smolagents' own ``tool.parameters`` dict is converted to the JSON Schema smolagents sent
    to the model (llm.tools.N.tool.json_schema), so both map to one Tool version."""
    from otel_tool_exporter._internal.build.conventions.openinference import tool_schema

    doc = _require("smolagents")
    seen_by_model: dict[str, Any] = {}
    for span in doc["spans"]:
        for key, value in span["attributes"].items():
            if key.startswith("llm.tools.") and key.endswith(".tool.json_schema"):
                function = json.loads(value)["function"]
                seen_by_model[function["name"]] = function["parameters"]
    checked = 0
    for span in doc["spans"]:
        attrs = span["attributes"]
        if attrs.get("openinference.span.kind") == "TOOL":
            assert tool_schema(attrs["tool.parameters"]) == seen_by_model[attrs["tool.name"]]
            checked += 1
    assert checked == 7


def _require(name: str) -> dict[str, Any]:
    if not (FIXTURES / f"{name}.json").exists():
        pytest.skip(f"fixture {name}.json not captured in this checkout")
    return load_fixture(name)


def _shift_trace(doc: dict[str, Any], salt: int) -> dict[str, Any]:
    shifted = json.loads(json.dumps(doc))
    for span in shifted["spans"]:
        span["trace_id"] = format(int(span["trace_id"], 16) ^ salt, "032x")
    return shifted


@pytest.mark.parametrize("name", ["pydantic_ai", "langgraph_openinference", "smolagents", "vercel_ai", "strands"])
def test_a_second_run_reuses_the_same_tool_versions(stub: StubServer, name: str) -> None:
    """Canonical tool kernels: the same tool in two runs (two traces) is one Tool version."""
    doc = _require(name)
    exporter = make_exporter(stub)
    try:
        for run in (doc, _shift_trace(doc, 0xABCDEF)):
            for span in run["spans"]:
                exporter.export([SpanRecord.from_fixture(span)])
        assert exporter.force_flush(20_000)
    finally:
        exporter.shutdown()
    versions: dict[str, set[str]] = {}
    for log in stub.store.list(size=100_000)[0]:
        versions.setdefault(log["path"], set()).add(log["version_id"])
    assert versions and all(len(v) == 1 for v in versions.values()), versions


def test_adk_tool_defined_late_gets_its_schema_on_the_next_run(stub: StubServer) -> None:
    """ADK ends the LLM span carrying the definitions after the tool span, so a tool's first call
    in a process has no schema; the definition is then remembered by tool name (bounded)."""
    doc = _require("google_adk")
    exporter = make_exporter(stub)
    try:
        for run in (doc, _shift_trace(doc, 0x1234)):
            for span in run["spans"]:
                exporter.export([SpanRecord.from_fixture(span)])
        assert exporter.force_flush(20_000)
    finally:
        exporter.shutdown()
    weather = sorted(
        (log for log in stub.store.list(size=100_000)[0] if log["path"] == "get_weather"),
        key=lambda log: log["start_time"],
    )
    assert len(weather) == 2
    assert "parameters" not in weather[0]["tool"]["function"]
    assert set(weather[1]["tool"]["function"]["parameters"]["properties"]) == {"city"}
