"""The speed tricks, each behind one named seam, each shown to keep its promise.

Every trick here was kept because a benchmark in ``benchmarks/`` showed it pays
(docs/performance.md). These tests check that each one gives the same answer as the plain way.
"""

from __future__ import annotations

import asyncio
import gc
import json
import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider
from pydantic import ConfigDict

from otel_tool_exporter._internal.build.builder import Builder, LogDraft
from otel_tool_exporter._internal.build.mapping import EXPLICIT_PARENT_KEY
from otel_tool_exporter._internal.burst import BurstPolicy
from otel_tool_exporter._internal.delivery.transports import TRANSPORTS, AiohttpTransport
from otel_tool_exporter._internal.delivery.transports._base import ACCEPT_ENCODING
from otel_tool_exporter._internal.delivery.transports._deadline import Deadlines
from otel_tool_exporter._internal.ordering.ancestry import AncestryStore, Facts, Node
from otel_tool_exporter._internal.ordering.states import State
from otel_tool_exporter._internal.spans import SpanRecord
from otel_tool_exporter._internal.spans.sdk import OrdinaryEnd, attributes_of, read_end
from otel_tool_exporter.models import ToolLogRequest, format_datetime
from otel_tool_exporter.settings import Settings

from .conftest import FIXTURES, load_fixture


# ------------------------------------------------------------------ SDK attributes at C speed
def _finished(name: str, attributes: dict[str, Any]) -> Any:
    provider = TracerProvider()
    span = provider.get_tracer("t").start_span(name, attributes=attributes)
    span.end()
    return span


def test_fast_attributes_read_the_same_items_and_cannot_be_written() -> None:
    span = _finished("s", {"a": 1, "b": "x", "c": (1, 2)})
    fast = attributes_of(span)
    assert dict(fast) == dict(span.attributes)
    assert type(fast) is MappingProxyType
    with pytest.raises(TypeError):
        fast["a"] = 2  # type: ignore[index]


# ------------------------------------------------------------------ ordinary spans are not read
def test_an_ordinary_span_is_read_as_a_link_only_and_a_tool_span_in_full() -> None:
    builder = Builder(Settings(api_key="k"))  # type: ignore[arg-type]
    ordinary = _finished("GET /items", {"http.method": "GET", EXPLICIT_PARENT_KEY: "log_1"})
    tool = _finished("execute_tool t", {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "t"})
    link = read_end(ordinary, builder.may_matter, EXPLICIT_PARENT_KEY)
    assert type(link) is OrdinaryEnd
    assert (link.span_id, link.explicit_parent) == (ordinary.context.span_id, "log_1")
    assert type(read_end(tool, builder.may_matter, EXPLICIT_PARENT_KEY)) is SpanRecord
    # and the shortcut agrees with the full path: the full record of the ordinary span is no tool
    full = SpanRecord.from_readable(ordinary)
    assert builder.registry.recognise(full) is None


# ------------------------------------------------------------------ compact ancestry
@pytest.mark.parametrize(
    "facts",
    [
        Facts(7, State.NONTOOL, None, None, None),
        Facts(None, State.NONTOOL, None, None, None),
        Facts(None, State.LOGGED, "log_9", None, None),
        Facts(7, State.FAILED, None, None, "http_422"),
        Facts(7, State.NONTOOL, None, "log_explicit", None),
    ],
)
def test_a_settled_span_reads_back_as_it_was_stored(facts: Facts) -> None:
    store = AncestryStore()
    spans = store.trace(1, 0.0)
    node = store.node(spans, 5, facts.parent, facts.state)
    node.log_id, node.explicit, node.failure = facts.log_id, facts.explicit, facts.failure
    store.settle(spans, 5, node)
    read = store.get(spans, 5)
    assert not isinstance(read, Node), "settled spans are kept compact"
    if facts.state == State.LOGGED:
        assert (read.state, read.log_id) == (State.LOGGED, "log_9")  # its parent is never needed again
    else:
        assert read == facts
    gc.collect()
    assert not gc.is_tracked(spans[5]), "the compact form costs the application's collector nothing"


# ------------------------------------------------------------------ the burst policy
def test_a_burst_is_held_while_it_lasts_and_never_longer_than_max_hold() -> None:
    policy = BurstPolicy(step=0.002, max_hold=0.01, max_spans=1000, min_arrivals=16)
    policy.begin()
    steps = 0
    while policy.should_hold(waiting=100, urgent=False):
        policy.after_step(arrivals=50)
        steps += 1
    assert steps == 5, "max_hold / step steps, then work"


@pytest.mark.parametrize(
    ("waiting", "urgent", "arrivals", "held_after_one_step"),
    [
        (100, False, 3, False),  # a quiet step ends it
        (100, True, 50, False),  # a flush or shutdown ends it
        (1000, False, 50, False),  # max_spans waiting ends it
        (100, False, 50, True),  # still pouring in: keep holding
    ],
)
def test_what_ends_a_hold(waiting: int, urgent: bool, arrivals: int, held_after_one_step: bool) -> None:
    policy = BurstPolicy(step=0.002, max_hold=0.05, max_spans=1000, min_arrivals=16)
    policy.begin()
    if policy.should_hold(waiting=waiting, urgent=urgent):
        policy.after_step(arrivals=arrivals)
        assert policy.should_hold(waiting=waiting, urgent=urgent) is held_after_one_step
    else:
        assert not held_after_one_step


# ------------------------------------------------------------------ one timer for every deadline
# Before Python 3.11 (no Task.uncancel) each request keeps its own timer (asyncio.wait_for): the
# deadlines are the same, only the one shared timer is 3.11+.
ONE_TIMER = sys.version_info >= (3, 11)


def test_deadlines_time_out_each_request_at_its_own_deadline_with_one_timer() -> None:
    """Requests started at different times each get the whole timeout; the late ones still
    answer in time; one timer does for all of them; a cancellation from outside stays one."""

    async def scenario() -> None:
        deadlines = Deadlines(0.2)
        loop = asyncio.get_running_loop()
        started = loop.time()

        async def request(delay: float, answer: str) -> tuple[str, float]:
            try:
                await deadlines.run(asyncio.sleep(delay))
            except TimeoutError:
                return "timeout", loop.time() - started
            return answer, loop.time() - started

        slow = asyncio.ensure_future(request(5.0, "never"))
        await asyncio.sleep(0.1)
        later_slow = asyncio.ensure_future(request(5.0, "never"))
        quick = [asyncio.ensure_future(request(0.05, f"ok{i}")) for i in range(50)]
        await asyncio.sleep(0)  # every request under way
        if ONE_TIMER:
            assert len(deadlines) == 52
            scheduled = [h for h in loop._scheduled if not h.cancelled()]  # type: ignore[attr-defined]
            assert sum(1 for h in scheduled if getattr(h, "_callback", None) == deadlines._expire) == 1
        outcome, at = await slow
        assert outcome == "timeout" and 0.19 <= at < 0.29
        assert [r[0] for r in await asyncio.gather(*quick)] == [f"ok{i}" for i in range(50)]
        outcome, at = await later_slow
        assert outcome == "timeout" and 0.29 <= at < 0.39  # its own deadline, not the first one's
        assert len(deadlines) == 0

        outside = asyncio.ensure_future(deadlines.run(asyncio.sleep(5.0)))
        await asyncio.sleep(0.01)
        outside.cancel()  # shutdown, say: not a timeout
        with pytest.raises(asyncio.CancelledError):
            await outside
        assert len(deadlines) == 0

    asyncio.run(scenario())


# ------------------------------------------------------------------ aiohttp's headers, made once
def test_wire_headers_are_made_once_per_headers_given_and_follow_a_change() -> None:
    transport = AiohttpTransport()
    given = {"X-API-KEY": "k1", "Content-Type": "application/json"}
    first = transport._wire_headers(given)
    assert dict(first) == {**given, "Accept-Encoding": ACCEPT_ENCODING}
    assert transport._wire_headers(given) is first  # the same headers: the same wire form
    changed = {**given, "X-API-KEY": "k2"}  # e.g. an Authorization from ~/.netrc added per request
    assert transport._wire_headers(changed)["x-api-key"] == "k2"
    assert dict(transport._wire_headers(given)) == dict(first)


# ------------------------------------------------------------------ datetimes written by pydantic-core
def _fixture_requests() -> list[ToolLogRequest]:
    builder = Builder(Settings(api_key="k", base_url="http://127.0.0.1:9/v5"))
    requests = []
    for path in sorted(FIXTURES.glob("*.json")):
        for span in load_fixture(path.stem).get("spans", ()):
            built = builder.build(SpanRecord.from_fixture(span))
            if isinstance(built, LogDraft):
                requests.append(built.request)
    return requests


def test_every_fixtures_body_is_written_byte_for_byte_as_the_models_own_serializer_writes_it() -> None:
    requests = _fixture_requests()
    assert len(requests) > 30
    for request in requests:
        assert request.to_json_bytes() == request.__pydantic_serializer__.to_json(request, exclude_none=True)


_UTC_OR_NOT = st.sampled_from([timezone.utc, None, timezone(timedelta(hours=2)), timezone(timedelta(0))])


@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=_UTC_OR_NOT),
    st.sampled_from([0, 1, 500_000, 999_999, None]),
    st.one_of(st.none(), st.datetimes(timezones=_UTC_OR_NOT)),
)
def test_datetimes_are_written_with_microseconds_in_utc_whichever_serializer_writes_them(
    start: datetime, microsecond: int | None, end: datetime | None
) -> None:
    """The fast path leaves datetimes to pydantic-core, which drops a fraction of zero and writes
    other zones as offsets: only datetimes it writes exactly alike may take it."""
    if microsecond is not None:
        start = start.replace(microsecond=microsecond)
    request = ToolLogRequest.model_construct(path="p", start_time=start, end_time=end, created_at=end, output="o")
    body = json.loads(request.to_json_bytes())
    assert body["start_time"] == format_datetime(start)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", body["start_time"])
    assert request.to_json_bytes() == request.__pydantic_serializer__.to_json(request, exclude_none=True)


def test_a_subclass_of_the_request_keeps_its_own_fields_on_the_wire() -> None:
    class Extended(ToolLogRequest):
        model_config = ConfigDict(extra="allow")

    request = Extended.model_construct(path="p", start_time=datetime(2026, 1, 1, 0, 0, 0, 5, tzinfo=timezone.utc))
    request.__pydantic_extra__ = {"custom": 1}
    assert json.loads(request.to_json_bytes())["custom"] == 1


# ------------------------------------------------------------------ an ended span's events and links, read in place
def test_a_finished_spans_events_links_kind_and_status_read_as_the_sdk_shows_them() -> None:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.trace import Link, SpanKind, StatusCode

    from otel_tool_exporter._internal.spans.sdk import record_from_readable

    provider = TracerProvider()
    tracer = provider.get_tracer("t")
    other = tracer.start_span("other")
    span = tracer.start_span("s", kind=SpanKind.CLIENT, links=[Link(other.get_span_context(), {"l": 1})])
    span.add_event("e1", {"a": 1})
    span.add_event("e2")
    span.set_status(StatusCode.ERROR, "boom")
    span.end()
    plain = ReadableSpan(  # not the SDK's live span: no inner lists to read in place
        name="s",
        context=span.get_span_context(),
        events=span.events,
        links=span.links,
        kind=SpanKind.CLIENT,
        status=span.status,
        start_time=1,
        end_time=2,
    )
    for source in (span, plain):
        record = record_from_readable(source)
        assert [(e.name, dict(e.attributes)) for e in record.events] == [("e1", {"a": 1}), ("e2", {})]
        assert [(link.span_id, dict(link.attributes)) for link in record.links] == [
            (other.get_span_context().span_id, {"l": 1})
        ]
        assert (record.kind, record.status_code) == ("CLIENT", "ERROR")
    bare = tracer.start_span("bare")
    bare.end()
    assert (record_from_readable(bare).events, record_from_readable(bare).links) == ((), ())


# ------------------------------------------------------------------ one CA store per source of CAs


def test_transports_asking_for_the_same_cas_share_one_context_until_the_cas_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading a CA store takes tens of milliseconds: it is done once per source of CAs, and
    again as soon as that source says something else."""
    trustme = pytest.importorskip("trustme", reason="needs trustme's throwaway CAs (pip install -e '.[dev]')")
    ca_file = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(ca_file))
    first = TRANSPORTS["aiohttp"](ca_file=str(ca_file))._ssl_context()
    assert TRANSPORTS["httpx"](ca_file=str(ca_file))._ssl_context() is first
    system = TRANSPORTS["aiohttp"]()._ssl_context()
    assert system is not first and TRANSPORTS["aiohttp"]()._ssl_context() is system

    replaced = trustme.CA()
    replaced.cert_pem.write_to_path(str(ca_file))  # rotated in place: same path, other CA
    rotated = TRANSPORTS["aiohttp"](ca_file=str(ca_file))._ssl_context()
    assert rotated is not first
    assert rotated.get_ca_certs()[0]["serialNumber"] != first.get_ca_certs()[0]["serialNumber"]

    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    by_env = TRANSPORTS["aiohttp"]()._ssl_context()
    assert by_env is not system
    assert [c["serialNumber"] for c in by_env.get_ca_certs()] == [c["serialNumber"] for c in rotated.get_ca_certs()]
