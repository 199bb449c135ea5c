"""``otel-tool-exporter doctor`` through the CLI: settings and their sources, the connection
check against the real stub (creating nothing), the conventions, and ``--span`` files."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from otel_tool_exporter._internal.build.conventions import ConventionRegistry
from otel_tool_exporter.cli import main
from otel_tool_exporter.stub import StubServer

from .echo_server import HeaderEchoServer

ENV = (
    "HUMANLOOP_API_KEY",
    "HUMANLOOP_BASE_URL",
    "OTEL_TOOL_EXPORTER_PATH_PREFIX",
    "OTEL_TOOL_EXPORTER_MAX_PARENT_WAIT",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: Any) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


OFFLINE = ("--offline", "--base-url", "http://127.0.0.1:9/v5")  # a valid setup; nothing is contacted


def doctor(capsys: Any, *argv: str) -> tuple[int, str]:
    code = main(["doctor", *argv])
    return code, capsys.readouterr().out


def setting_line(out: str, name: str) -> str:
    (line,) = [line for line in out.splitlines() if line.startswith(f"  {name} ")]
    return line


def test_healthy_setup_against_the_stub_creates_no_log(stub: StubServer, capsys: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("HUMANLOOP_API_KEY", "hl-secret-key-123")
    monkeypatch.setenv("OTEL_TOOL_EXPORTER_MAX_PARENT_WAIT", "30")
    code, out = doctor(capsys, "--base-url", stub.base_url, "--path-prefix", "agents/")

    assert code == 0 and out.rstrip().endswith("No problems found.")
    assert "hl-secret-key-123" not in out  # the key is never shown
    assert setting_line(out, "api_key").split()[1:] == [
        "***",
        "(17",
        "characters)",
        "environment",
        "(HUMANLOOP_API_KEY)",
    ]
    assert setting_line(out, "base_url").endswith("argument") and stub.base_url in setting_line(out, "base_url")
    assert setting_line(out, "path_prefix").endswith("argument")
    assert setting_line(out, "max_parent_wait").endswith("environment (OTEL_TOOL_EXPORTER_MAX_PARENT_WAIT)")
    assert setting_line(out, "version_id").endswith("default")
    assert f"✓ {stub.base_url} answers" in out
    assert "✓ API key accepted" in out
    assert "this is the local stub" in out
    assert stub.store.count() == 0  # the check created nothing
    assert stub.state.by_status.get(422) == 1  # it asked the Log endpoint with a body that must be refused


def test_rejected_key_is_a_problem(stub: StubServer, capsys: Any) -> None:
    stub.set_faults(fail_next=1, status=401)  # the stub accepts any key; make it answer as a bad key does
    code, out = doctor(capsys, "--base-url", stub.base_url)
    assert code == 1
    assert "✗ API key rejected: HTTP 401" in out and "check HUMANLOOP_API_KEY" in out
    assert _problems(out) == ["API key rejected: HTTP 401: injected fault"]


def test_base_url_that_does_not_answer(capsys: Any) -> None:
    code, out = doctor(capsys, "--base-url", "http://127.0.0.1:9/v5")
    assert code == 1
    assert "✗ http://127.0.0.1:9/v5 does not answer: connection to 127.0.0.1:9 refused" in out
    assert "is the stub running?" in out


def test_wrong_base_url_path_is_explained(stub: StubServer, capsys: Any) -> None:
    code, out = doctor(capsys, "--base-url", stub.root_url + "/v4")
    assert code == 1 and "POST " + stub.root_url + "/v4/tools/log → 404" in out
    assert f"use: HUMANLOOP_BASE_URL={stub.root_url}/v5" in out


def test_misconfiguration_names_the_variable_on_one_screen(capsys: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("HUMANLOOP_BASE_URL", "http://api.example.com/v5")
    code, out = doctor(capsys)
    assert code == 1
    assert "✗ configuration: HUMANLOOP_BASE_URL: refusing plain http://" in out
    assert "set in the environment: HUMANLOOP_BASE_URL" in out
    assert len(out.splitlines()) < 40

    monkeypatch.delenv("HUMANLOOP_BASE_URL")
    code, out = doctor(capsys)  # the real API, no key
    assert code == 1 and "HUMANLOOP_API_KEY is not set" in out


def test_lists_every_recognised_convention(capsys: Any) -> None:
    code, out = doctor(capsys, *OFFLINE)
    assert code == 0 and "not checked (--offline)" in out
    section = out.split("Conventions recognised")[1]
    names = [line.split()[0] for line in section.splitlines()[1:] if line.startswith("  ")]
    assert names[: len(ConventionRegistry().recognisers)] == [r.name for r in ConventionRegistry().recognisers]
    assert "gen_ai.operation.name" in section and "is_tool_span" in section


# ------------------------------------------------------------------------------------ --span
def _record_spans(error: bool = False, requested_call_id: str | None = None) -> list[Any]:
    """A chat span offering the tool (its schema) and one GenAI tool span, from the real SDK.
    With ``requested_call_id`` the chat span also records the call it requested (the tool span
    then carries no id of its own, as with frameworks that record it only there)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("my.agent", "1.2")
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    definitions = [{"type": "function", "function": {"name": "get_weather", "parameters": schema}}]
    with tracer.start_as_current_span("invoke_agent"):
        chat_attributes = {"gen_ai.operation.name": "chat", "gen_ai.tool.definitions": json.dumps(definitions)}
        if requested_call_id:
            part = {"type": "tool_call", "id": requested_call_id, "name": "get_weather", "arguments": {"city": "Paris"}}
            message = {"role": "assistant", "parts": [part]}
            chat_attributes["gen_ai.output.messages"] = json.dumps([message])
        with tracer.start_as_current_span("chat m", attributes=chat_attributes):
            pass
        attributes = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "get_weather",
            "gen_ai.tool.call.arguments": json.dumps(
                {"city": "Paris"} if requested_call_id else {"city": "Paris", "api_key": "sk-live-1"}
            ),
            "gen_ai.tool.call.result": "Sunny",
            "shop.region": "eu",
        }
        with tracer.start_as_current_span("execute_tool get_weather", attributes=attributes) as span:
            if error:
                span.set_status(Status(StatusCode.ERROR, "TimeoutError: upstream"))
    provider.shutdown()
    return list(memory.get_finished_spans())


def _body(out: str, index: int = 0) -> dict[str, Any]:
    """The Log body doctor printed (the indented JSON after 'maps to POST')."""
    block = out.split("with this body (after redaction and field caps):\n")[index + 1]
    lines = []
    for line in block.splitlines():
        if not line.startswith("      "):
            break
        lines.append(line)
    return json.loads("\n".join(lines))


def test_sdk_to_json_span_shows_convention_and_the_log_it_maps_to(capsys: Any, tmp_path: Path) -> None:
    tool_span = _record_spans()[1]
    path = tmp_path / "span.json"
    path.write_text(tool_span.to_json())
    code, out = doctor(capsys, *OFFLINE, "--path-prefix", "agents/", "--span", str(path))

    assert code == 0
    assert "✓ tool span: convention 'genai', tool 'get_weather'; arguments recorded, result recorded" in out
    body = _body(out)
    assert body["path"] == "agents/get_weather"
    assert body["inputs"] == {"city": "Paris", "api_key": "[REDACTED]"}  # redacted, as the exporter would
    assert body["output"] == "Sunny"
    assert body["metadata"]["attributes"] == {"shop.region": "eu"}
    assert body["metadata"]["otel"]["span_id"] == format(tool_span.get_span_context().span_id, "016x")
    assert "sk-live-1" not in out
    assert "trace_parent_id: set at export time" in out


def _otlp_json(spans: list[Any]) -> dict[str, Any]:
    """OTLP/JSON as the spec writes it: the real OTLP encoder's message, ids in hex."""
    doc = MessageToDict(encode_spans(spans))
    for resource_spans in doc["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    return doc


def test_otlp_json_request_learns_schema_from_the_sibling_chat_span(capsys: Any, tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(_otlp_json(_record_spans(error=True))))
    code, out = doctor(capsys, *OFFLINE, "--span", str(path))

    assert code == 0
    assert "3 spans; 1 tool span\n" in out
    assert "- 'chat m': not a tool span" in out
    body = _body(out)
    assert body["tool"]["function"]["parameters"] == {"type": "object", "properties": {"city": {"type": "string"}}}
    assert body["error"] == "TimeoutError: upstream"
    assert body["source"] == "my.agent"  # the instrumentation scope travels in OTLP
    assert body["metadata"]["otel"]["service_name"] == "shop"


def test_call_id_recorded_only_on_the_chat_span_is_shown_as_the_exporter_sends_it(capsys: Any, tmp_path: Path) -> None:
    """doctor builds the body with the same step as the exporter: the call id an LLM span
    requested fills in a tool span that has none."""
    path = tmp_path / "export.json"
    path.write_text(json.dumps(_otlp_json(_record_spans(requested_call_id="call_77"))))
    code, out = doctor(capsys, *OFFLINE, "--span", str(path))
    assert code == 0
    assert _body(out)["metadata"]["otel"]["call_id"] == "call_77"


def test_a_bare_otlp_span_and_a_non_tool_span(capsys: Any, tmp_path: Path) -> None:
    spans = _otlp_json(_record_spans())["resourceSpans"][0]["scopeSpans"][0]["spans"]
    chat = next(span for span in spans if span["name"] == "chat m")
    path = tmp_path / "chat.json"
    path.write_text(json.dumps(chat))
    code, out = doctor(capsys, *OFFLINE, "--span", str(path))
    assert code == 1
    assert "✗ not a tool span: genai matched its markers but declined it" in out
    assert "gen_ai.operation.name" in out  # the related attributes it did carry
    assert "is_tool_span" in out


def test_unreadable_span_file(capsys: Any, tmp_path: Path) -> None:
    path = tmp_path / "junk.json"
    path.write_text('{"hello": "world"}')
    code, out = doctor(capsys, *OFFLINE, "--span", str(path))
    assert code == 1 and "✗ cannot read" in out and "not a span" in out
    code, out = doctor(capsys, *OFFLINE, "--span", str(tmp_path / "missing.json"))
    assert code == 1 and "✗ cannot read" in out


def _fixture_span(name: str, attributes: dict[str, Any], span_id: str = "00000000000000b2") -> dict[str, Any]:
    return {"trace_id": "0" * 31 + "1", "span_id": span_id, "name": name, "attributes": attributes}


def test_unclaimed_span_that_looks_like_a_tool_call_is_a_problem_with_a_way_to_claim_it(
    capsys: Any, tmp_path: Path
) -> None:
    """Beside a claimed tool span, a span no convention claims but that carries a tool key and
    arguments: doctor names what it saw and how to claim it, and exits non-zero."""
    claimed = _fixture_span(
        "execute_tool get_weather",
        {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather"},
        span_id="00000000000000b1",
    )
    unclaimed = _fixture_span("step", {"myapp.tool": "lookup_user", "myapp.args": '{"user_id": 42}'})
    plain = _fixture_span("GET /users", {"http.method": "GET"}, span_id="00000000000000b3")
    path = tmp_path / "spans.json"
    path.write_text(json.dumps({"spans": [claimed, unclaimed, plain]}))
    code, out = doctor(capsys, *OFFLINE, "--span", str(path))
    assert code == 1
    assert "No problems found" not in out
    assert "'step': not claimed, but looks like a tool call" in out
    assert "myapp.args, myapp.tool" in out
    assert "is_tool_span=lambda span: span.name == 'step'" in out and "recognisers=" in out
    assert "- 'GET /users': not a tool span" in out  # an ordinary span is no problem


def test_a_span_the_general_recogniser_claims_is_shown_as_a_tool(capsys: Any, tmp_path: Path) -> None:
    span = _fixture_span(
        "acme.agent.step.tool",
        {"acme.tool.name": "get_weather", "acme.agent.step.tool.input": '{"city": "Paris"}'},
    )
    path = tmp_path / "span.json"
    path.write_text(json.dumps(span))
    code, out = doctor(capsys, *OFFLINE, "--span", str(path))
    assert code == 0
    assert "convention 'generic', tool 'get_weather'" in out
    assert _body(out)["inputs"] == {"city": "Paris"}


def test_the_hint_is_a_pure_function_of_the_span() -> None:
    from otel_tool_exporter._internal.spans import SpanRecord

    registry = ConventionRegistry()

    def hint(name: str, attrs: dict[str, Any]) -> str | None:
        return registry.unclaimed_tool_hint(SpanRecord(1, 2, None, name, attributes=attrs))

    assert hint("run", {"x.tool_used": "search", "x.output": "3 results"}) is not None
    assert hint("call tool", {}) is not None  # the name speaks of a tool call
    assert hint("execute_tool", {}) is not None
    # a tool that happens to be named *_tool is not evidence: the MCP SDK's client span for it
    assert hint("MCP send tools/call fail_tool", {"mcp.method.name": "tools/call"}) is None
    assert hint("tools", {"langgraph.node": "tools"}) is None
    assert hint("chat", {"gen_ai.tool.definitions": "[]", "gen_ai.input.messages": "[]"}) is None
    assert hint("chat", {"llm.tools.0.tool.name": "x", "llm.input": "hi"}) is None
    assert hint("agent", {"openinference.span.kind": "AGENT", "tool.name": "x", "input.value": "{}"}) is None


# ---------------------------------------------------------------- every problem it can see, in the list
def _problems(out: str) -> list[str]:
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if re.fullmatch(r"\d+ problems? found:", line))
    return [line.split(". ", 1)[1] for line in lines[at + 1 :] if re.match(r"  \d+\. ", line)]


def test_misspelt_variables_are_problems_with_the_fix(capsys: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("OTEL_TOOL_EXPORTER_PATH_PREFX", "agents/")
    monkeypatch.setenv("HUMANLOOP_BASEURL", "http://127.0.0.1:8000/v5")
    code, out = doctor(capsys, *OFFLINE)
    err = capsys.readouterr().err
    assert code == 1
    assert _problems(out) == [
        "unknown setting HUMANLOOP_BASEURL ignored (did you mean HUMANLOOP_BASE_URL?)",
        "unknown setting OTEL_TOOL_EXPORTER_PATH_PREFX ignored (did you mean OTEL_TOOL_EXPORTER_PATH_PREFIX?)",
    ]
    assert "set in the environment: HUMANLOOP_BASEURL, OTEL_TOOL_EXPORTER_PATH_PREFX" in out
    assert "PATH_PREFX" not in err  # not a warning in the middle of the screen


def test_environment_listing_is_accurate_without_a_base_url(capsys: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("OTEL_TOOL_EXPORTER_TIMEOUT_MS", "5000")
    code, out = doctor(capsys)  # no key for the real API: a problem, but the listing still says what is set
    assert code == 1
    assert "set in the environment: OTEL_TOOL_EXPORTER_TIMEOUT_MS" in out
    assert "HUMANLOOP_API_KEY is not set" in "\n".join(_problems(out))


def test_base_url_missing_its_api_path_is_told_to_add_it(stub: StubServer, capsys: Any) -> None:
    code, out = doctor(capsys, "--base-url", stub.root_url)
    assert code == 1
    (problem,) = _problems(out)
    assert f"{stub.root_url}/v5/tools/log answers" in problem
    assert f"add the API path: HUMANLOOP_BASE_URL={stub.root_url}/v5" in out
    assert stub.store.count() == 0


def test_unwritable_spool_is_a_problem(capsys: Any, monkeypatch: Any, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("OTEL_TOOL_EXPORTER_SPOOL_DIR", str(blocker / "spool"))
    code, out = doctor(capsys, *OFFLINE)
    assert code == 1
    (problem,) = _problems(out)
    assert problem.startswith(f"spool directory {blocker / 'spool'} cannot be written")
    assert "OTEL_TOOL_EXPORTER_SPOOL_DIR" in out


def test_writable_spool_is_checked(capsys: Any, monkeypatch: Any, tmp_path: Path) -> None:
    monkeypatch.setenv("OTEL_TOOL_EXPORTER_SPOOL_DIR", str(tmp_path / "spool"))
    code, out = doctor(capsys, *OFFLINE)
    assert code == 0, out
    assert f"✓ spool directory {tmp_path / 'spool'} is writable" in out
    assert list((tmp_path / "spool").iterdir()) == []  # the probe file is gone


def test_set_takes_every_setting_in_its_environment_form(capsys: Any) -> None:
    code, out = doctor(
        capsys,
        *OFFLINE,
        "--set", "headers=X-Team=agents%2Fcore,X-Other=2",
        "--set", "redact_keys=ssn,Card",
        "--set", "timeout=2m",
        "--set", "connect_timeout_ms=1500",
        "--set", "OTEL_TOOL_EXPORTER_MAX_PENDING=7",
        "--set", "save=false",
    )  # fmt: skip
    assert code == 0, out
    assert setting_line(out, "headers").split()[:3] == ["headers", "X-Team=***,", "X-Other=***"]
    assert setting_line(out, "redact_keys").split()[1] == "ssn,card"
    assert setting_line(out, "timeout").split()[1] == "120.0"
    assert setting_line(out, "connect_timeout").split()[1] == "1.5"
    assert setting_line(out, "max_pending").split()[1] == "7"
    assert setting_line(out, "save").split()[1] == "False"


def test_set_with_a_bad_name_or_value_is_a_listed_problem(capsys: Any) -> None:
    code, out = doctor(capsys, *OFFLINE, "--set", "tmeout=3", "--set", "timeout=10000", "--set", "oops")
    assert code == 1
    assert _problems(out) == [
        "--set tmeout: no such setting (did you mean timeout?)",
        "--set timeout=10000: 10000 s is almost 3 hours; did you mean 10000ms or "
        "OTEL_TOOL_EXPORTER_TIMEOUT_MS=10000? (write 10000s if you meant seconds)",
        "--set expects NAME=VALUE, got 'oops'",
    ]


def test_the_cli_script_exits_non_zero_on_problems(stub: StubServer) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUMANLOOP_", "OTEL_TOOL_EXPORTER_"))}
    env["HUMANLOOP_BASE_URL"] = stub.root_url  # missing /v5
    exe = shutil.which("otel-tool-exporter")
    if exe is None:
        pytest.skip("the otel-tool-exporter console script is not installed (pip install -e .)")
    run = subprocess.run([exe, "doctor"], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert "add the API path" in run.stdout and run.stderr == ""


def test_unknown_host_is_one_line_naming_it(capsys: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("HUMANLOOP_API_KEY", "k")
    code, out = doctor(capsys, "--base-url", "https://nosuch.invalid/v5")  # .invalid never resolves
    assert code == 1
    (problem,) = _problems(out)
    assert problem.startswith("https://nosuch.invalid/v5 does not answer: host 'nosuch.invalid' not found (DNS")


def test_a_server_quoting_the_key_back_never_puts_it_on_the_screen(capsys: Any) -> None:
    """The server's detail is shown; the key it quoted is not."""
    with HeaderEchoServer(401) as server:
        code, out = doctor(
            capsys, "--base-url", f"http://127.0.0.1:{server.port}/v5", "--set", "api_key=sk-echoed-secret-1234"
        )
    assert code == 1 and "API key rejected: HTTP 401: refused; headers were: " in out
    assert "sk-echoed-secret-1234" not in out and "x-api-key: ***" in out.lower()
