"""The zero-code path: ``OTEL_TRACES_EXPORTER=humanloop opentelemetry-instrument python app.py``.

The end-to-end tests run the real ``opentelemetry-instrument`` launcher in a child process against
the real stub over loopback; the in-process tests pin down the start-ancestry hook it installs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from otel_tool_exporter import ToolLogExporter, ToolSpanProcessor
from otel_tool_exporter.autoinstrument import StartAncestryProcessor, find_exporters, post_instrument

from .conftest import logs_by_path, make_exporter
from .spans_util import agent, tool


def clean_env(**extra: str) -> dict[str, str]:
    """The parent's environment without any Humanloop/OTel/exporter setting, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HUMANLOOP_", "OTEL_", "OPENINFERENCE_")) and k != "PYTHONPATH"
    }
    env.update(extra)
    return env


def instrument_command() -> str:
    """The ``opentelemetry-instrument`` launcher of the interpreter running the tests."""
    beside = Path(sys.executable).parent / "opentelemetry-instrument"
    found = str(beside) if beside.exists() else shutil.which("opentelemetry-instrument")
    if not found:
        pytest.fail("opentelemetry-instrument not found: the dev extra installs opentelemetry-distro")
    return found


APP = textwrap.dedent(
    """
    # A plain application: it uses only the OpenTelemetry API, like an instrumented library would,
    # and knows nothing about Humanloop. Children end before their parents, as in any real run.
    import json, sys
    from opentelemetry import trace

    tracer = trace.get_tracer("zero-code-app")

    def tool(name, arguments, fn):
        attributes = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": name,
            "gen_ai.tool.call.arguments": json.dumps(arguments),
        }
        with tracer.start_as_current_span(f"execute_tool {name}", attributes=attributes) as span:
            result = fn(**arguments)
            span.set_attribute("gen_ai.tool.call.result", str(result))
            return result

    def fail(reason):
        raise ValueError("boom: " + reason)

    def research(topic):
        with tracer.start_as_current_span("invoke_agent researcher", attributes={"gen_ai.operation.name": "invoke_agent"}):
            return tool("search_web", {"query": topic}, lambda query: tool("fetch", {"url": "u"}, lambda url: "page"))

    with tracer.start_as_current_span("invoke_agent assistant", attributes={"gen_ai.operation.name": "invoke_agent"}):
        tool("get_weather", {"city": "Paris"}, lambda city: "Sunny in " + city)
        tool("research", {"topic": "otel"}, research)
        try:
            tool("fail_tool", {"reason": "disk full"}, fail)
        except ValueError:
            pass

    from otel_tool_exporter.autoinstrument import find_exporters
    found = find_exporters(trace.get_tracer_provider())
    print("exporters:", len(found), "start_ancestry:", all(starts for _, starts in found))
    """
)


def run_instrumented(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    app = tmp_path / "app.py"
    app.write_text(APP)
    return subprocess.run(
        [instrument_command(), sys.executable, "app.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )


def zero_code_env(stub: Any, **extra: str) -> dict[str, str]:
    settings = {
        "OTEL_TRACES_EXPORTER": "humanloop",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_SERVICE_NAME": "zero-code-app",
        "HUMANLOOP_BASE_URL": stub.base_url,
        "HUMANLOOP_API_KEY": "test-key",
        "OTEL_TOOL_EXPORTER_PATH_PREFIX": "zero-code/",
    }
    return clean_env(**{**settings, **extra})


@pytest.mark.slow
def test_opentelemetry_instrument_delivers_nested_logs(stub: Any, tmp_path: Path) -> None:
    done = run_instrumented(tmp_path, zero_code_env(stub))
    assert done.returncode == 0, done.stderr
    assert "exporters: 1 start_ancestry: True" in done.stdout, done.stdout + done.stderr
    logs = logs_by_path(stub)
    # every tool span exactly once, under the path prefix read from OTEL_TOOL_EXPORTER_PATH_PREFIX
    assert {path: len(found) for path, found in logs.items()} == {
        "zero-code/get_weather": 1,
        "zero-code/research": 1,
        "zero-code/search_web": 1,
        "zero-code/fetch": 1,
        "zero-code/fail_tool": 1,
    }
    one = {path: found[0] for path, found in logs.items()}
    # nesting follows the span tree, skipping the agent spans in between
    assert one["zero-code/research"].get("trace_parent_id") is None
    assert one["zero-code/search_web"]["trace_parent_id"] == one["zero-code/research"]["id"]
    assert one["zero-code/fetch"]["trace_parent_id"] == one["zero-code/search_web"]["id"]
    assert one["zero-code/get_weather"].get("trace_parent_id") is None
    assert one["zero-code/get_weather"]["output"] == "Sunny in Paris"
    assert one["zero-code/fail_tool"]["error"].startswith("ValueError: boom: disk full")
    assert one["zero-code/fetch"]["metadata"]["otel"]["service_name"] == "zero-code-app"
    assert not any("unresolved_parent" in log["metadata"]["otel"] for log in one.values())


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("OTEL_TOOL_EXPORTER_MAX_CONCURRENCY", "lots", "OTEL_TOOL_EXPORTER_MAX_CONCURRENCY"),
        ("OTEL_TOOL_EXPORTER_MAX_PARENT_WAIT", "-1", "OTEL_TOOL_EXPORTER_MAX_PARENT_WAIT"),
        ("HUMANLOOP_BASE_URL", "http://example.com/v5", "HUMANLOOP_BASE_URL: refusing plain http://"),
    ],
)
def test_wrong_setting_is_reported_by_name_and_the_app_still_runs(
    stub: Any, tmp_path: Path, variable: str, value: str, message: str
) -> None:
    done = run_instrumented(tmp_path, zero_code_env(stub, **{variable: value}))
    # opentelemetry-instrument logs a failed set-up and runs the application uninstrumented
    assert done.returncode == 0, done.stderr
    assert message in done.stderr
    assert "exporters: 0" in done.stdout
    assert stub.store.list(size=10)[1] == 0


def test_missing_api_key_names_the_variable(tmp_path: Path) -> None:
    env = clean_env(OTEL_TRACES_EXPORTER="humanloop", OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none")
    done = run_instrumented(tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert "HUMANLOOP_API_KEY is not set" in done.stderr


@pytest.mark.slow
def test_hook_stays_out_of_runs_that_do_not_use_the_exporter(tmp_path: Path) -> None:
    env = clean_env(OTEL_TRACES_EXPORTER="console", OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none")
    done = run_instrumented(tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert "exporters: 0" in done.stdout
    assert "otel_tool_exporter" not in done.stderr
    assert "execute_tool get_weather" in done.stdout  # the console exporter still got every span


# ---------------------------------------------------------------------- the hook, in process
def _zero_code_provider(stub: Any) -> tuple[TracerProvider, ToolLogExporter]:
    """What the SDK configurator builds for OTEL_TRACES_EXPORTER=humanloop."""
    exporter = make_exporter(stub)
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=60_000))
    return provider, exporter


def test_start_ancestry_lets_a_child_go_while_a_non_tool_ancestor_is_still_open(
    stub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without span starts, the exporter cannot know that the open agent span is not a tool whose
    Log the child must wait for; with the hook it sends the child at once."""
    provider, _ = _zero_code_provider(stub)
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    post_instrument()
    tracer = provider.get_tracer("t")
    with agent(tracer, "long-running"):
        with tool(tracer, "quick", {"a": 1}, "ok"):
            pass
        assert provider.force_flush(10_000)  # batch → pipeline → delivered (StartAncestryProcessor flushes it)
        assert sorted(logs_by_path(stub)) == ["quick"]
    provider.shutdown()


def test_without_the_hook_the_same_child_waits_for_the_open_span(stub: Any) -> None:
    """The contrast case for the test above (exporter-only mode), so that test cannot pass vacuously."""
    provider, exporter = _zero_code_provider(stub)
    tracer = provider.get_tracer("t")
    with agent(tracer, "long-running"):
        with tool(tracer, "quick", {"a": 1}, "ok"):
            pass
        assert provider.force_flush(10_000)
        assert exporter.force_flush(2_000)
        assert logs_by_path(stub) == {}
        assert exporter.stats()["waiting_children"] == 1
    assert provider.force_flush(10_000) and exporter.force_flush(10_000)
    assert sorted(logs_by_path(stub)) == ["quick"]
    provider.shutdown()


def test_hook_never_makes_a_span_into_two_logs(stub: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    provider, exporter = _zero_code_provider(stub)
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    post_instrument()
    post_instrument()  # idempotent: the second call finds the first one's processor
    assert [type(p) for p in provider._active_span_processor._span_processors] == [
        BatchSpanProcessor,
        StartAncestryProcessor,
    ]
    tracer = provider.get_tracer("t")
    for _ in range(20):
        with agent(tracer):
            with tool(tracer, "outer", {}, "o"):
                with tool(tracer, "inner", {}, "i"):
                    pass
    assert provider.force_flush(10_000)
    logs = logs_by_path(stub)
    assert (len(logs["outer"]), len(logs["inner"])) == (20, 20)
    outer_ids = {log["id"] for log in logs["outer"]}
    assert all(log["trace_parent_id"] in outer_ids for log in logs["inner"])
    stats = exporter.stats()
    assert (stats["received"], stats["sent"]) == (60, 40)
    provider.shutdown()


def test_hook_leaves_providers_without_our_exporter_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = TracerProvider()
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    post_instrument()
    assert provider._active_span_processor._span_processors == ()
    assert find_exporters(provider) == []


def test_hook_does_not_add_starts_where_a_tool_span_processor_already_feeds_them(stub: Any) -> None:
    provider = TracerProvider()
    processor = ToolSpanProcessor(make_exporter(stub))
    provider.add_span_processor(processor)
    assert find_exporters(provider) == [(processor.exporter, True)]
    provider.shutdown()
