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


# ------------------------------------------------------------------ wherever a value can land
SECRETS = ("sk-live-1", "tok-2", "hunter3", "rt-4", "pk-5", "sess-6", "cs-7", "raw-8", "ev-9")


def test_secrets_are_redacted_in_json_strings_stdout_raw_copies_and_every_key_spelling(
    stub: StubServer, provider_for: Any
) -> None:
    """Arguments encoded twice, JSON text inside an argument and inside an attribute, a result
    holding camelCase keys, the raw copy of a cut-off argument kept in metadata, and an event line
    in stdout: none of the secrets reaches the server; everything else arrives as sent."""
    provider, exporter = provider_for()
    tracer = provider.get_tracer("test")
    double_encoded = json.dumps(json.dumps({"city": "Paris", "accessToken": "sk-live-1"}))
    with tracer.start_as_current_span(
        "execute_tool get_weather",
        attributes={
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "get_weather",
            "gen_ai.tool.call.arguments": double_encoded,
        },
    ) as span:
        span.set_attribute(
            "gen_ai.tool.call.result",
            json.dumps({"forecast": "Sunny", "auth": json.dumps({"ACCESS-TOKEN": "tok-2", "user": "ada"})}),
        )
        span.set_attribute("app.config", json.dumps({"db": {"PASSWORD": "hunter3"}, "region": "eu"}))
        span.set_attribute("app.session", "{'refreshToken': 'rt-4', 'privateKey': 'pk-5', 'sessionToken': 'sess-6'}")
        span.add_event("login", {"client-secret": "cs-7", "step": "2"})
        span.add_event("request", {"url": "https://api.example/x?api_key=ev-9&page=2"})
    cut = json.dumps({"city": "Paris", "clientSecret": "raw-8", "note": "a long note"})[:-8]
    with tracer.start_as_current_span(
        "running tool",  # pydantic-ai v2: a cut-off argument keeps its raw text in metadata
        attributes={"gen_ai.tool.name": "lookup_user", "tool_arguments": cut, "tool_response": "ok"},
    ):
        pass
    assert exporter.force_flush(10_000)
    logs = logs_by_path(stub)
    stored = json.dumps(logs)
    for secret in SECRETS:
        assert secret not in stored, secret
    weather = logs["get_weather"][0]
    assert weather["inputs"] == {"city": "Paris", "accessToken": "[REDACTED]"}
    output = json.loads(weather["output"])
    assert output["forecast"] == "Sunny"
    assert json.loads(output["auth"]) == {"ACCESS-TOKEN": "[REDACTED]", "user": "ada"}  # re-encoded text
    attributes = weather["metadata"]["attributes"]
    assert json.loads(attributes["app.config"]) == {"db": {"PASSWORD": "[REDACTED]"}, "region": "eu"}
    assert "login" in weather["stdout"] and '"step":"2"' in weather["stdout"]
    assert "page=2" in weather["stdout"]
    lookup = logs["lookup_user"][0]
    assert lookup["inputs"]["city"] == "Paris"
    assert lookup["inputs"]["clientSecret"] == "[REDACTED]"
    assert '"city": "Paris"' in lookup["metadata"]["attributes"]["tool_arguments"]  # the raw copy, redacted


def test_redaction_leaves_requests_without_secrets_untouched() -> None:
    """The fast path: a request with no secret-looking key anywhere is not copied, and text is
    looked into only when a configured key could be spelled in it."""
    from otel_tool_exporter._internal.build.redaction import Redactor
    from otel_tool_exporter.settings import Settings

    redactor = Redactor(Settings().redact_keys)
    inputs = {"city": "Paris", "options": {"units": "C", "max_tokens": 5}, "note": '{"a": "b"}'}
    metadata = {"otel": {"span_id": "ab"}, "attributes": {"gen_ai.usage.input_tokens": 3, "x": "key: value"}}
    request = ToolLogRequest(path="p", inputs=inputs, output='{"temp": 21}', metadata=metadata, stdout="t e {}")
    inputs, metadata = request.inputs, request.metadata
    redactor.apply(request)
    assert request.inputs is inputs and request.metadata is metadata
    assert request.output == '{"temp": 21}' and request.stdout == "t e {}"
    assert not redactor.has_secret(inputs) and not redactor.has_secret(metadata)
    assert redactor.has_secret({"note": '{"Api-Key": "x"}'})


def test_key_matching_in_any_spelling_and_position() -> None:
    from otel_tool_exporter._internal.build.redaction import Redactor
    from otel_tool_exporter.settings import Settings

    redactor = Redactor(Settings().redact_keys)
    secret = [
        "accessToken", "access_token", "ACCESS-TOKEN", "accesstoken", "clientSecret", "client-secret",
        "privateKey", "PRIVATE_KEY", "refreshToken", "sessionToken", "x.apiKey", "Authorization",
        "aws_secret_access_key", "api_key_header", "password_hash", "OPENAI_API_KEY",
    ]  # fmt: skip
    plain = ["max_tokens", "input_tokens", "token_count", "tokenizer", "city", "gen_ai.usage.output_tokens"]
    assert [k for k in secret if not redactor.is_secret_key(k)] == []
    assert [k for k in plain if redactor.is_secret_key(k)] == []


# ------------------------------------------------------------------ the fast checks never miss
# keys in many spellings (secret-looking or not), and texts that hold them in every way the scrub
# looks into text: JSON (also inside JSON strings and encoded twice), Python reprs, key=value
_KEYS = (
    "api_key", "API-KEY", "apiKey", "a_p_i_key", "x.Api-Key", "Authorization", "db_password", "passwd",
    "client-secret", "PRIVATE_KEY", "sessionToken", "max_tokens", "tokenizer", "city", "note", "step",
    "api\u2011key", "K\u0130LO", "\u212aey",
)  # fmt: skip
_VALUES = ("Paris", "sk-1", "", "a: b", "x=y", "Bearer abc", 42, None, 1.5, True)


def _texts() -> Any:
    from hypothesis import strategies as st

    key, value = st.sampled_from(_KEYS), st.sampled_from(_VALUES)
    flat = st.dictionaries(key, value, max_size=3)
    return st.one_of(
        st.text(max_size=40),
        flat.map(json.dumps),
        flat.map(lambda d: json.dumps(json.dumps(d))),
        flat.map(lambda d: json.dumps({"outer": json.dumps(d)}, ensure_ascii=True)),
        flat.map(repr),
        st.tuples(key, value).map(lambda kv: f"GET /x?{kv[0]}={kv[1]}&page=2"),
        st.tuples(key, value).map(lambda kv: f"{kv[0]}: {kv[1]}"),
        st.tuples(key, st.text(max_size=8)).map(lambda kv: json.dumps({kv[0]: kv[1]})[:-3]),  # cut off
        key.map(lambda k: f'{{"\\u{ord(k[0]):04x}{k[1:]}": "sk-1"}}'),  # a key spelled with an escape
    )


def _values() -> Any:
    from hypothesis import strategies as st

    leaves = st.one_of(_texts(), st.sampled_from(_VALUES))
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(_KEYS), inner, max_size=3)
        ),
        max_leaves=8,
    )


def test_the_fast_checks_never_pass_over_what_the_scrub_would_change() -> None:
    """``has_secret`` (run on every Log) and the text check may say yes too often, never no where
    a scrub that looks into every text would change something; and a remembered verdict is the
    one a fresh look gives (the second redactor sees every text for the first time)."""
    from hypothesis import given, settings

    from otel_tool_exporter._internal.build.redaction import Redactor
    from otel_tool_exporter.settings import Settings

    class Thorough(Redactor):
        def _may_name_secret(self, text: str) -> bool:
            return True  # no shortcut: every text is decoded or searched for key-value pairs

    keys = Settings().redact_keys
    seen, fresh, thorough = Redactor(keys), Redactor(keys), Thorough(keys)

    @settings(max_examples=500, deadline=None)
    @given(_values())
    def check(value: Any) -> None:
        for _ in range(2):  # the second time from what was remembered
            said = seen.has_secret(value)
            assert said or thorough.scrub(value) == value
            assert said == Redactor(keys).has_secret(value)
        if isinstance(value, str):
            assert seen._may_name_secret(value) or thorough.scrub_text(value) == value
            assert seen._may_name_secret(value) == fresh._may_name_secret(value)

    check()
    assert seen.has_secret({"note": json.dumps({"Api-Key": "x"})})
    assert seen.has_secret(["GET /x?api_key=1"]) and not seen.has_secret(["GET /x?page=1", {"a": "b: c"}])


def test_the_gated_probe_search_finds_what_a_search_for_every_probe_finds() -> None:
    """Probes are looked for only where their rarest letter occurs: the answer is the one a plain
    search for each probe gives, for the default keys and for keys with digits, dots and
    letters outside English."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from otel_tool_exporter._internal.build.redaction import Redactor, _contains_any, _gated
    from otel_tool_exporter.settings import Settings

    probe_sets = [Redactor(keys)._probes for keys in (Settings().redact_keys, ["x9", "db.pw", "clé", "ßtoken", "zz"])]

    @settings(max_examples=300, deadline=None)
    @given(st.sampled_from(probe_sets), st.data())
    def check(probes: tuple[str, ...], data: Any) -> None:
        piece = st.one_of(st.sampled_from(probes), st.text(alphabet="aceikoprstwxz9.é", max_size=6))
        text = "".join(data.draw(st.lists(piece, max_size=5)))
        for candidate in (text, text[1:], text[:-1]):
            assert _contains_any(candidate, _gated(probes)) == any(p in candidate for p in probes)

    check()


def test_remembered_text_verdicts_stay_bounded() -> None:
    """Texts that differ in every Log (times, ids) neither grow the redactor's memory without end
    nor change a verdict."""
    from otel_tool_exporter._internal.build.redaction import _MAX_REMEMBERED_TEXTS, Redactor
    from otel_tool_exporter.settings import Settings

    redactor = Redactor(Settings().redact_keys)
    for i in range(_MAX_REMEMBERED_TEXTS + 500):
        assert not redactor.has_secret({"at": f"08:{i}:00", "note": "city=Paris"})
    assert len(redactor._texts) <= _MAX_REMEMBERED_TEXTS
    assert redactor.has_secret({"note": "token=abc"}) and redactor.has_secret({"note": "token=abc"})
