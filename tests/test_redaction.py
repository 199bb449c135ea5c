"""SPEC §9 through the public surface: secrets never reach the server, and the user's ``redact=``
hook can change or drop a Log; a hook that fails drops that Log (fail closed) and is counted."""

from __future__ import annotations

import json
from typing import Any

from otel_tool_exporter import ToolLogExporter
from otel_tool_exporter.models import ToolLogRequest
from otel_tool_exporter.stub import StubServer

from .conftest import logs_by_path
from .spans_util import tool


def _run(provider_for: Any, **settings: Any) -> tuple[Any, ToolLogExporter]:
    provider, exporter = provider_for(**settings)
    tracer = provider.get_tracer("test")
    with tool(
        tracer,
        "get_weather",
        {"city": "Paris", "api_key": "sk-live-123", "options": {"db_password": "hunter2", "units": "C"}},
        {"forecast": "Sunny", "session_token": "tok-456"},
        **{"http.request.header.authorization": "Bearer abc", "user.note": "keep me"},
    ):
        pass
    with tool(tracer, "lookup_user", {"user_id": 42}, {"id": 42}):
        pass
    assert exporter.force_flush(10_000)
    return provider, exporter


def test_secret_keys_are_redacted_everywhere_by_default(stub: StubServer, provider_for: Any) -> None:
    _run(provider_for)
    log = logs_by_path(stub)["get_weather"][0]
    assert log["inputs"]["city"] == "Paris"
    assert log["inputs"]["api_key"] == "[REDACTED]"
    assert log["inputs"]["options"] == {"db_password": "[REDACTED]", "units": "C"}
    assert json.loads(log["output"]) == {"forecast": "Sunny", "session_token": "[REDACTED]"}
    attributes = log["metadata"]["attributes"]
    assert attributes["http.request.header.authorization"] == "[REDACTED]"
    assert attributes["user.note"] == "keep me"
    stored = json.dumps(log)
    for secret in ("sk-live-123", "hunter2", "tok-456", "Bearer abc"):
        assert secret not in stored


def test_redact_keys_setting_replaces_the_default_list(stub: StubServer, provider_for: Any) -> None:
    _run(provider_for, redact_keys=("city",))
    log = logs_by_path(stub)["get_weather"][0]
    assert log["inputs"]["city"] == "[REDACTED]"
    assert log["inputs"]["api_key"] == "sk-live-123"  # the user chose a list without it


def test_hook_can_change_a_log(stub: StubServer, provider_for: Any) -> None:
    def hook(request: ToolLogRequest) -> ToolLogRequest:
        if request.inputs and "city" in request.inputs:
            request.inputs["city"] = "<city>"
        request.metadata = {}  # even throwing metadata away keeps the Log's identifying ids
        return request

    _run(provider_for, redact=hook)
    log = logs_by_path(stub)["get_weather"][0]
    assert log["inputs"]["city"] == "<city>"
    assert log["metadata"]["otel"]["span_id"]


def test_hook_returning_none_drops_only_that_log(stub: StubServer, provider_for: Any) -> None:
    def hook(request: ToolLogRequest) -> ToolLogRequest | None:
        return None if request.path == "get_weather" else request

    _, exporter = _run(provider_for, redact=hook)
    assert sorted(logs_by_path(stub)) == ["lookup_user"]
    stats = exporter.stats()
    assert stats["dropped"] == {"redacted": 1}
    assert stats["sent"] == 1


def test_hook_that_raises_fails_closed_and_is_counted(stub: StubServer, provider_for: Any) -> None:
    calls = []

    def hook(request: ToolLogRequest) -> ToolLogRequest:
        calls.append(request.path)
        if request.path == "get_weather":
            raise RuntimeError("hook bug")
        return request

    _, exporter = _run(provider_for, redact=hook)  # the application never sees the error
    assert sorted(calls) == ["get_weather", "lookup_user"]
    assert sorted(logs_by_path(stub)) == ["lookup_user"]
    assert exporter.stats()["dropped"] == {"redact_hook_error": 1}


def test_hook_returning_something_else_fails_closed(stub: StubServer, provider_for: Any, recwarn: Any) -> None:
    def hook(request: ToolLogRequest) -> Any:
        if request.path == "get_weather":
            return request.to_dict()  # a dict, not a request
        request.inputs = "not an object"  # type: ignore[assignment]
        return request

    _, exporter = _run(provider_for, redact=hook)
    assert logs_by_path(stub) == {}
    assert exporter.stats()["dropped"] == {"redact_hook_error": 2}
    assert [str(w.message) for w in recwarn] == []  # counted and logged, no warning in the app's output


def test_children_of_a_dropped_log_are_still_sent(stub: StubServer, provider_for: Any) -> None:
    """Dropping a parent's Log must not hold its children back until max_parent_wait."""
    provider, exporter = provider_for(redact=lambda r: None if r.path == "research" else r)
    tracer = provider.get_tracer("test")
    with tool(tracer, "research", {"topic": "otel"}, "done"):
        with tool(tracer, "search_web", {"query": "otel"}, "hits"):
            pass
    assert exporter.force_flush(10_000)
    logs = logs_by_path(stub)
    assert sorted(logs) == ["search_web"]
    child = logs["search_web"][0]
    assert "trace_parent_id" not in child
    assert child["metadata"]["otel"]["unresolved_parent"]["reason"]
