"""``configure()``, the one-line setup (SPEC §1): global provider, one processor, never two Logs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from otel_tool_exporter import ConfigurationError, ToolSpanProcessor, configure
from otel_tool_exporter.autoinstrument import StartAncestryProcessor

from .conftest import logs_by_path, make_exporter
from .spans_util import agent, tool
from .test_autoinstrument import clean_env


def _processors(provider: TracerProvider) -> tuple[Any, ...]:
    return provider._active_span_processor._span_processors


def test_fresh_process_gets_a_global_sdk_provider_and_nested_logs(stub: Any) -> None:
    """In a new interpreter (the global provider can be set once per process): one call sets
    everything up, a second call changes nothing, every tool span becomes exactly one Log."""
    script = textwrap.dedent(
        """
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from otel_tool_exporter import configure

        assert not isinstance(trace.get_tracer_provider(), TracerProvider)
        first = configure(path_prefix="one-line/")
        second = configure()
        provider = trace.get_tracer_provider()
        assert isinstance(provider, TracerProvider), provider
        assert first is second
        assert list(provider._active_span_processor._span_processors) == [first]

        tracer = trace.get_tracer("app")
        with tracer.start_as_current_span("invoke_agent a", attributes={"gen_ai.operation.name": "invoke_agent"}):
            with tracer.start_as_current_span("execute_tool research", attributes={
                    "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "research"}):
                with tracer.start_as_current_span("execute_tool search", attributes={
                        "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search",
                        "gen_ai.tool.call.arguments": '{"q": "otel"}'}):
                    pass
        assert first.force_flush(10_000)
        print("stats", first.exporter.stats()["sent"])
        """
    )
    env = clean_env(HUMANLOOP_BASE_URL=stub.base_url, HUMANLOOP_API_KEY="test-key", OTEL_SERVICE_NAME="one-line-app")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "stats 2" in done.stdout
    logs = logs_by_path(stub)
    assert sorted((path, len(found)) for path, found in logs.items()) == [
        ("one-line/research", 1),
        ("one-line/search", 1),
    ]
    research, search = logs["one-line/research"][0], logs["one-line/search"][0]
    assert search["trace_parent_id"] == research["id"]
    assert search["inputs"] == {"q": "otel"}
    # the created provider reads the standard resource variables
    assert search["metadata"]["otel"]["service_name"] == "one-line-app"


def test_calling_twice_attaches_one_processor_and_logs_once(stub: Any) -> None:
    provider = TracerProvider()
    first = configure(tracer_provider=provider, base_url=stub.base_url, api_key="k")
    second = configure(tracer_provider=provider)
    assert isinstance(first, ToolSpanProcessor)
    assert first is second
    assert _processors(provider) == (first,)
    tracer = provider.get_tracer("t")
    with tool(tracer, "once", {"x": 1}, "r"):
        pass
    assert first.force_flush(10_000)
    assert len(logs_by_path(stub)["once"]) == 1
    provider.shutdown()


def test_a_second_call_with_other_settings_keeps_the_first_and_warns(
    stub: Any, caplog: pytest.LogCaptureFixture
) -> None:
    provider = TracerProvider()
    first = configure(tracer_provider=provider, base_url=stub.base_url, api_key="k", path_prefix="a/")
    with caplog.at_level("WARNING", logger="otel_tool_exporter"):
        second = configure(tracer_provider=provider, path_prefix="b/")
    assert second is first
    assert second.exporter.settings.path_prefix == "a/"
    assert "settings passed to this call are ignored" in caplog.text
    provider.shutdown()


def test_a_tool_span_processor_added_by_hand_is_reused(stub: Any) -> None:
    provider = TracerProvider()
    mine = ToolSpanProcessor(make_exporter(stub))
    provider.add_span_processor(mine)
    assert configure(tracer_provider=provider) is mine
    assert _processors(provider) == (mine,)
    provider.shutdown()


def test_zero_code_exporter_is_reused_not_doubled(stub: Any) -> None:
    """``configure()`` inside an app run with OTEL_TRACES_EXPORTER=humanloop: the SDK already wraps
    our exporter in a BatchSpanProcessor; configure must not add a second exporter."""
    provider = TracerProvider()
    exporter = make_exporter(stub)
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=60_000))
    processor = configure(tracer_provider=provider)
    assert processor.exporter is exporter
    kinds = [type(p) for p in _processors(provider)]
    assert kinds == [BatchSpanProcessor, StartAncestryProcessor]
    assert configure(tracer_provider=provider) is processor
    tracer = provider.get_tracer("t")
    with agent(tracer):
        with tool(tracer, "parent", {}, "p"):
            with tool(tracer, "child", {}, "c"):
                pass
    assert provider.force_flush(10_000)
    logs = logs_by_path(stub)
    assert (len(logs["parent"]), len(logs["child"])) == (1, 1)
    assert logs["child"][0]["trace_parent_id"] == logs["parent"][0]["id"]
    assert exporter.stats()["received"] == 3
    provider.shutdown()


def test_wrong_setting_fails_before_anything_is_attached(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = TracerProvider()
    monkeypatch.setenv("OTEL_TOOL_EXPORTER_MAX_QUEUE", "many")
    with pytest.raises(ConfigurationError, match="OTEL_TOOL_EXPORTER_MAX_QUEUE"):
        configure(tracer_provider=provider, base_url="http://127.0.0.1:9/v5")
    assert _processors(provider) == ()
    monkeypatch.delenv("OTEL_TOOL_EXPORTER_MAX_QUEUE")
    processor = configure(tracer_provider=provider, base_url="http://127.0.0.1:9/v5")
    assert _processors(provider) == (processor,)
    provider.shutdown()


def test_argument_names_the_argument_not_the_variable() -> None:
    with pytest.raises(ConfigurationError, match=r"max_concurrency"):
        configure(tracer_provider=TracerProvider(), base_url="http://127.0.0.1:9/v5", max_concurrency=0)


def test_missing_key_for_the_real_api_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUMANLOOP_API_KEY", raising=False)
    monkeypatch.delenv("HUMANLOOP_BASE_URL", raising=False)
    with pytest.raises(ConfigurationError, match="HUMANLOOP_API_KEY"):
        configure(tracer_provider=TracerProvider())


def test_a_tool_span_that_starts_bare_still_gets_its_children(stub: Any) -> None:
    """OpenInference's LangChain tracer starts every span without attributes and sets
    ``openinference.span.kind = "TOOL"`` at the end. A child tool that ends first must still wait
    for that span's Log instead of taking it for a non-tool span."""
    provider = TracerProvider()
    processor = configure(tracer_provider=provider, base_url=stub.base_url, api_key="k")
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("research") as research:
        with tracer.start_as_current_span("researcher"):  # a chain span in between, also bare at start
            with tracer.start_as_current_span("search_web") as search:
                search.set_attributes({"openinference.span.kind": "TOOL", "tool.name": "search_web"})
        research.set_attributes({"openinference.span.kind": "TOOL", "tool.name": "research"})
    assert processor.force_flush(10_000)
    logs = logs_by_path(stub)
    assert sorted(logs) == ["research", "search_web"]
    assert logs["search_web"][0]["trace_parent_id"] == logs["research"][0]["id"]
    provider.shutdown()
