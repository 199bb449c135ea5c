"""The delivery layers: what is retried, how long it waits, what an outcome carries.

Each layer is tested through the chain the exporter builds (retry → 413 → concurrency → timeout →
HTTP push, whose transport keeps the whole-exchange deadline) over ``httpx.MockTransport`` behind the real ``HttpxTransport``, with an injected
sleep/clock, so waits are recorded instead of slept. The last tests check, through the real
exporter and stub, that the API key never shows up anywhere a user could read it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime as http_date
from typing import Any

import httpx
import pytest

from otel_tool_exporter import ToolLogExporter
from otel_tool_exporter._internal.delivery.concurrency import ConcurrencyLayer
from otel_tool_exporter._internal.delivery.limiter import AdaptiveLimiter
from otel_tool_exporter._internal.delivery.outcomes import Failed, Logged, Outcome, Outgoing, Retry
from otel_tool_exporter._internal.delivery.push import HttpPush
from otel_tool_exporter._internal.delivery.report import FailureReport
from otel_tool_exporter._internal.delivery.retry import RetryLayer, RetryPolicy
from otel_tool_exporter._internal.delivery.shrink import ShrinkOn413
from otel_tool_exporter._internal.delivery.transports import ConnectError, HttpxTransport, RequestTimeoutError
from otel_tool_exporter.models import ToolFunction, ToolKernel, ToolLogRequest
from otel_tool_exporter.settings import Settings

API_KEY = "hl_sk_TOPSECRET_0123456789"
BASE = "https://api.example.test/v5"
OK_BODY = {"id": "log_1", "tool_id": "tl_1", "version_id": "tv_1", "future_field": [1]}

Handler = Callable[[httpx.Request], httpx.Response]


class FakeTime:
    """A clock that only moves when the client sleeps; records every wait."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


class Script:
    """Answers requests from a list of responses/exceptions; records what was sent."""

    def __init__(self, *steps: httpx.Response | Exception) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, Exception):
            raise step
        return step


class Chain:
    """The exporter's sender chain over a scripted transport; ``limiter`` shows the AIMD slots."""

    def __init__(self, handler: Handler, fake: FakeTime, **policy: Any) -> None:
        self.push = HttpPush(
            HttpxTransport(client=httpx.AsyncClient(transport=httpx.MockTransport(handler))),
            base_url=BASE,
            api_key=API_KEY,
        )
        self.limiter = AdaptiveLimiter(8)
        self.retries: list[Retry] = []
        self.sender = RetryLayer(
            ShrinkOn413(ConcurrencyLayer(self.push, self.limiter), 262_144),
            RetryPolicy(**policy),
            on_retry=self.retries.append,
            sleep=fake.sleep,
            clock=fake.clock,
        )


def make_client(handler: Handler, fake: FakeTime, **policy: Any) -> Chain:
    return Chain(handler, fake, **policy)


def request() -> ToolLogRequest:
    return ToolLogRequest(path="t", tool=ToolKernel(function=ToolFunction(name="t")), inputs={"q": "PAYLOAD"})


def run(chain: Chain, **kwargs: Any) -> Outcome:
    log = Outgoing(1, 2, request().to_json_bytes(), "t", **kwargs)

    async def go() -> Outcome:
        try:
            return await chain.sender.send(log)
        finally:
            await chain.push.aclose()

    return asyncio.run(go())


def ok() -> httpx.Response:
    return httpx.Response(200, json=OK_BODY)


# ------------------------------------------------------------------------------ the request
def test_request_shape_headers_and_response() -> None:
    script = Script(ok())
    outcome = run(make_client(script, FakeTime()))
    assert outcome == Logged("log_1", "tl_1")
    sent = script.requests[0]
    assert sent.method == "POST"
    assert str(sent.url) == f"{BASE}/tools/log"
    assert sent.headers["X-API-KEY"] == API_KEY
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.content) == {"path": "t", "tool": {"function": {"name": "t"}}, "inputs": {"q": "PAYLOAD"}}


def test_query_params_only_when_set() -> None:
    script = Script(ok())
    run(make_client(script, FakeTime()), version_id="tv_9", environment="prod")
    assert dict(script.requests[0].url.params) == {"version_id": "tv_9", "environment": "prod"}
    script = Script(ok())
    run(make_client(script, FakeTime()))
    assert script.requests[0].url.query == b""


# ---------------------------------------------------------------------------------- retries
@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_retryable_status_is_retried(status: int) -> None:
    script = Script(httpx.Response(status, json={"detail": "busy"}), httpx.Response(status), ok())
    fake = FakeTime()
    assert run(make_client(script, fake)) == Logged("log_1", "tl_1")
    assert len(script.requests) == 3
    assert len(fake.waits) == 2


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("connection refused"),
        httpx.ConnectTimeout("connect timed out"),
        httpx.ReadTimeout("read timed out"),
        httpx.RemoteProtocolError("server disconnected"),
    ],
)
def test_transport_errors_are_retried(error: Exception) -> None:
    script = Script(error, ok())
    fake = FakeTime()
    assert run(make_client(script, fake)) == Logged("log_1", "tl_1")
    assert len(script.requests) == 2 and len(fake.waits) == 1


def test_transport_errors_are_typed() -> None:
    async def go(error: Exception) -> Exception:
        transport = HttpxTransport(client=httpx.AsyncClient(transport=httpx.MockTransport(Script(error))))
        try:
            await transport.post(BASE, params={}, headers={}, content=b"")
        except Exception as exc:
            return exc
        finally:
            await transport.aclose()
        raise AssertionError("no error")

    assert isinstance(asyncio.run(go(httpx.ConnectError("x"))), ConnectError)
    assert isinstance(asyncio.run(go(httpx.ReadTimeout("x"))), RequestTimeoutError)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_final_status_is_not_retried(status: int) -> None:
    detail: Any = [{"loc": ["body", "x"], "msg": "bad", "type": "t"}] if status == 422 else "nope"
    script = Script(httpx.Response(status, json={"detail": detail}))
    fake = FakeTime()
    outcome = run(make_client(script, fake))
    assert isinstance(outcome, Failed) and not outcome.exhausted
    assert outcome.status == status
    assert outcome.reason == f"http_{status}"
    assert len(script.requests) == 1 and fake.waits == []


def test_422_error_names_every_field_the_server_refused() -> None:
    detail = [
        {"loc": ["body", "tool", "function", "name"], "msg": "Field required", "type": "missing"},
        {"loc": ["body", "inputs"], "msg": "Input should be a valid dictionary", "type": "dict_type"},
    ]
    outcome = run(make_client(Script(httpx.Response(422, json={"detail": detail})), FakeTime()))
    assert isinstance(outcome, Failed) and outcome.reason == "http_422"
    assert "body.tool.function.name: Field required" in outcome.message
    assert "body.inputs: Input should be a valid dictionary" in outcome.message


def test_error_messages_do_not_echo_large_bodies() -> None:
    outcome = run(make_client(Script(httpx.Response(400, text="<html>" + "x" * 10_000)), FakeTime()))
    assert isinstance(outcome, Failed) and len(outcome.message) < 600


def test_unreadable_success_body_is_a_final_failure_never_retried() -> None:
    script = Script(httpx.Response(200, text="not json"))
    outcome = run(make_client(script, FakeTime()))
    assert isinstance(outcome, Failed) and outcome.reason == "invalid_response"
    assert len(script.requests) == 1


def test_retry_after_seconds_is_honoured() -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": "7"}), ok())
    fake = FakeTime()
    run(make_client(script, fake))
    assert fake.waits == [7.0]


def test_retry_after_http_date_is_honoured() -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=20)
    script = Script(httpx.Response(503, headers={"Retry-After": http_date(when, usegmt=True)}), ok())
    fake = FakeTime()
    run(make_client(script, fake))
    assert fake.waits[0] == pytest.approx(20.0, abs=1.5)


def test_retry_after_is_capped() -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": "86400"}), ok())
    fake = FakeTime()
    run(make_client(script, fake, max_retry_after=60.0))
    assert fake.waits == [60.0]


def test_backoff_grows_with_jitter_up_to_the_cap() -> None:
    script = Script(*[httpx.Response(500)] * 12, ok())
    fake = FakeTime()
    run(make_client(script, fake, max_elapsed=10_000.0))
    assert len(fake.waits) == 12
    for attempt, wait in enumerate(fake.waits, start=1):
        nominal = min(30.0, 0.5 * 2 ** (attempt - 1))
        assert nominal / 2 <= wait <= nominal, (attempt, wait)
    assert fake.waits[-1] <= 30.0
    assert len({round(w, 6) for w in fake.waits[-4:]}) > 1, "capped waits are still jittered"


def test_gives_up_at_max_elapsed() -> None:
    script = Script(httpx.Response(503, json={"detail": "down"}))
    fake = FakeTime()
    started = fake.now
    outcome = run(make_client(script, fake, max_elapsed=60.0))
    assert fake.now - started <= 60.0
    assert sum(fake.waits) > 20.0, "it kept trying for most of the budget"
    assert len(script.requests) > 3
    assert isinstance(outcome, Failed) and outcome.exhausted and outcome.reason == "retries_exhausted"
    assert f"after {len(script.requests)} attempts" in outcome.message and "HTTP 503: down" in outcome.message
    assert outcome.last == "HTTP 503: down", "the cause alone, the same for every Log of the outage"


def test_gives_up_on_persistent_connect_errors() -> None:
    fake = FakeTime()
    outcome = run(make_client(Script(httpx.ConnectError("refused")), fake, max_elapsed=5.0))
    assert isinstance(outcome, Failed) and outcome.exhausted and "cannot connect" in outcome.message


# ---------------------------------------------------------------------- the key stays secret
def test_api_key_not_in_repr_or_outcomes() -> None:
    fake = FakeTime()
    chain = make_client(Script(httpx.Response(401, json={"detail": "Invalid API key"})), fake)
    assert API_KEY not in repr(chain.push)
    outcomes: list[Outcome] = []
    for script in (
        Script(httpx.Response(401, json={"detail": "Invalid API key"})),
        Script(httpx.Response(422, json={"detail": [{"loc": ["body"], "msg": "m", "type": "t"}]})),
        Script(httpx.ConnectError("refused")),
        Script(httpx.Response(200, text="garbage")),
    ):
        outcomes.append(run(make_client(script, FakeTime(), max_elapsed=2.0)))
    assert all(isinstance(o, Failed) for o in outcomes)
    for outcome in outcomes:
        assert API_KEY not in repr(outcome)
        assert "PAYLOAD" not in repr(outcome)


def test_api_key_not_in_settings_or_exporter_repr() -> None:
    settings = Settings.resolve({}, api_key=API_KEY)
    assert API_KEY not in repr(settings) and API_KEY not in str(settings)
    exporter = ToolLogExporter(api_key=API_KEY, base_url="https://api.example.test/v5")
    try:
        assert API_KEY not in repr(exporter)
    finally:
        exporter.shutdown()


def test_api_key_and_payload_never_in_log_records(stub: Any, caplog: pytest.LogCaptureFixture) -> None:
    """Failures are logged (nothing hidden), but never with the key or the payload."""
    from opentelemetry.sdk.trace import TracerProvider

    from otel_tool_exporter import ToolSpanProcessor

    caplog.set_level(logging.DEBUG)
    exporter = ToolLogExporter(api_key=API_KEY, base_url=stub.base_url, max_elapsed=1.0)
    provider = TracerProvider()
    provider.add_span_processor(ToolSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    stub.set_faults(status=401, fail_next=1)
    for status in (401, 422, 400):
        stub.set_faults(status=status, fail_next=1)
        with tracer.start_as_current_span(
            "execute_tool leak",
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": f"leak{status}",
                "gen_ai.tool.call.arguments": json.dumps({"q": "PAYLOAD-MARKER"}),
            },
        ):
            pass
        assert provider.force_flush(10_000)
    stub.set_faults(status=503, error_rate=1.0, retry_after="0")
    with tracer.start_as_current_span(
        "execute_tool leak", attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "retried"}
    ):
        pass
    deadline = time.monotonic() + 10
    while not exporter.stats()["failed"].get("retries_exhausted") and time.monotonic() < deadline:
        time.sleep(0.05)
    provider.shutdown()
    stats = exporter.stats()
    assert sum(stats["failed"].values()) == 4, stats
    records = [r for r in caplog.records if r.name.startswith("otel_tool_exporter")]
    assert records, "failures must be logged"
    for record in records:
        text = record.getMessage() + (record.exc_text or "") + repr(record.args)
        assert API_KEY not in text
        assert "PAYLOAD-MARKER" not in text


# ------------------------------------------------------- real transports, real loopback timeouts
def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("kind", ["aiohttp", "httpx"])
def test_transport_timeout_and_connect_error_over_loopback(stub: Any, kind: str) -> None:
    """A slow server becomes RequestTimeoutError within the configured timeout; a closed port a
    ConnectError; both are what the client retries."""
    from otel_tool_exporter._internal.delivery.transports import make_transport

    stub.set_faults(latency_ms=2000)
    body = request().to_json_bytes()

    async def go() -> tuple[Exception, float, Exception, Any]:
        transport = make_transport(kind, timeout=0.3, connect_timeout=0.3, pool_size=4)
        try:
            started = time.monotonic()
            try:
                await transport.post(f"{stub.base_url}/tools/log", params={}, headers={"X-API-KEY": "k"}, content=body)
            except Exception as exc:
                slow: Exception = exc
            took = time.monotonic() - started
            try:
                await transport.post(
                    f"http://127.0.0.1:{_free_port()}/v5/tools/log", params={}, headers={}, content=b""
                )
            except Exception as exc:
                refused: Exception = exc
            stub.set_faults(latency_ms=0)
            ok_reply = await transport.post(
                f"{stub.base_url}/tools/log",
                params={"environment": "e"},
                headers={"X-API-KEY": "k", "Content-Type": "application/json"},
                content=body,
            )
            return slow, took, refused, ok_reply
        finally:
            await transport.aclose()

    slow, took, refused, ok_reply = asyncio.run(go())
    assert isinstance(slow, RequestTimeoutError)
    assert took < 1.5
    assert isinstance(refused, ConnectError)
    assert ok_reply.status == 200 and json.loads(ok_reply.body)["id"].startswith("log_")
    stored = stub.store.get(json.loads(ok_reply.body)["id"])
    assert stored is not None and stored["query"] == {"environment": "e"}


# ---------------------------------------------------------------------- one layer at a time
def test_413_is_sent_once_more_with_the_largest_fields_cut() -> None:
    big = {"q": "x" * 200_000}
    script = Script(httpx.Response(413, json={"detail": "too large"}), ok())
    chain = make_client(script, FakeTime())
    log = Outgoing(1, 2, ToolLogRequest(path="t", inputs=big).to_json_bytes(), "t")

    async def go() -> Outcome:
        try:
            return await chain.sender.send(log)
        finally:
            await chain.push.aclose()

    assert asyncio.run(go()) == Logged("log_1", "tl_1")
    assert len(script.requests) == 2
    second = json.loads(script.requests[1].content)
    assert len(script.requests[1].content) < len(script.requests[0].content) // 4
    assert second["metadata"]["otel"]["truncated"] == ["inputs"]


def test_413_twice_is_a_final_failure() -> None:
    script = Script(httpx.Response(413, json={"detail": "too large"}))
    outcome = run(make_client(script, FakeTime()))
    assert isinstance(outcome, Failed) and outcome.status == 413
    assert len(script.requests) == 2


def test_pushback_halves_the_concurrency_limit_and_success_grows_it_back() -> None:
    script = Script(httpx.Response(429), httpx.Response(503), ok())
    chain = make_client(script, FakeTime())
    run(chain)
    assert chain.limiter.limit == 2, "8 → 4 → 2 after two push-backs"
    assert chain.limiter.in_flight == 0, "every slot was given back"
    assert [r.reason for r in chain.retries] == ["http_429", "http_503"]


def test_a_waiting_attempt_holds_no_slot_while_it_backs_off() -> None:
    """Retries sleep outside the concurrency layer: one Log backing off does not block others."""
    limiter = AdaptiveLimiter(1)
    seen: list[int] = []

    class Once:
        calls = 0

        async def send(self, log: Outgoing) -> Outcome:
            seen.append(limiter.in_flight)
            Once.calls += 1
            return Retry("http_503", "busy") if Once.calls == 1 else Logged("l")

    async def sleep(seconds: float) -> None:
        seen.append(-limiter.in_flight)  # negative: recorded while backing off

    layer = RetryLayer(ConcurrencyLayer(Once(), limiter), RetryPolicy(), sleep=sleep)
    assert asyncio.run(layer.send(Outgoing(1, 2, b"{}", "t"))) == Logged("l")
    assert seen == [1, 0, 1]


# ------------------------------------------------------------------ the failure report
def _said(caplog: pytest.LogCaptureFixture) -> list[str]:
    lines = [r.getMessage() for r in caplog.records if "not created" in r.getMessage()]
    caplog.clear()
    return lines


def test_a_failure_waits_for_the_requests_still_out_then_is_said_once_with_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Five Logs refused alike, their answers a few ms apart: one line for five, not 1 + 4."""
    caplog.set_level(logging.WARNING, logger="otel_tool_exporter")
    report = FailureReport(repeat_after=60.0, busy_grace=2.0)
    report.record("HTTP 409: conflict", "a")
    report.say(0.0, busy=True)  # four more still out
    assert _said(caplog) == []
    for tool in "bcde":
        report.record("HTTP 409: conflict", tool)
    report.say(0.01, busy=False)
    assert _said(caplog) == ["otel_tool_exporter: 5 Logs not created (HTTP 409: conflict); tools: a, b, c, d, e"]
    report.record("HTTP 409: conflict", "f")
    report.say(0.02)
    assert _said(caplog) == [], "the same problem again within a minute waits"
    report.say(0.03, final=True)
    assert _said(caplog) == ["otel_tool_exporter: 1 Log not created (HTTP 409: conflict); tool: f"]


def test_a_failure_under_steady_load_is_said_after_the_grace() -> None:
    report = FailureReport(repeat_after=60.0, busy_grace=2.0)
    report.record("HTTP 401: bad key", "a")
    said: list[str] = []
    logger = logging.getLogger("otel_tool_exporter")
    handler = logging.Handler()
    handler.emit = lambda record: said.append(record.getMessage())  # type: ignore[method-assign]
    logger.addHandler(handler)
    try:
        for now in (0.0, 0.5, 1.5):
            report.say(now, busy=True)
        assert said == []
        report.say(2.0, busy=True)  # requests never stop: said anyway, two seconds on
        assert said == ["otel_tool_exporter: 1 Log not created (HTTP 401: bad key); tool: a"]
    finally:
        logger.removeHandler(handler)
