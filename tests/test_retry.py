"""SPEC §5 retry policy: backoff growth with jitter and cap, and ``Retry-After`` parsing."""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime as http_date

import pytest

from otel_tool_exporter._internal.delivery.retry import RETRYABLE_STATUS, RetryPolicy, parse_retry_after


def test_retryable_codes_are_exactly_the_spec_list() -> None:
    assert frozenset({408, 429, 500, 502, 503, 504}) == RETRYABLE_STATUS
    for final in (400, 401, 403, 404, 409, 413, 422):
        assert final not in RETRYABLE_STATUS


def test_defaults_match_the_spec() -> None:
    policy = RetryPolicy()
    assert (policy.initial, policy.multiplier, policy.max_backoff, policy.max_elapsed) == (0.5, 2.0, 30.0, 300.0)


def test_backoff_grows_exponentially_within_jitter_bounds_and_is_capped() -> None:
    policy = RetryPolicy()
    for attempt in range(1, 15):
        nominal = min(30.0, 0.5 * 2 ** (attempt - 1))
        waits = [policy.backoff(attempt) for _ in range(200)]
        assert all(nominal * (1 - policy.jitter) <= w <= nominal for w in waits), attempt
        assert max(waits) - min(waits) > nominal * 0.1, "waits must be jittered, not identical"
    assert max(policy.backoff(50) for _ in range(100)) <= 30.0


def test_jitter_spreads_simultaneous_retries() -> None:
    random.seed(1)
    waits = {round(RetryPolicy().backoff(3), 6) for _ in range(50)}
    assert len(waits) > 40


def test_retry_after_is_honoured_but_capped() -> None:
    policy = RetryPolicy(max_retry_after=60.0)
    assert policy.backoff(1, retry_after=7.0) == 7.0
    assert policy.backoff(1, retry_after=10_000.0) == 60.0
    # a Retry-After shorter than the backoff does not make us retry faster than backoff says
    assert 4.0 <= policy.backoff(5, retry_after=0.0) <= 8.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [("3", 3.0), (" 12 ", 12.0), ("0", 0.0), ("1.5", 1.5), ("-4", 0.0)],
)
def test_retry_after_seconds(header: str, expected: float) -> None:
    assert parse_retry_after({"Retry-After": header}) == expected


def test_retry_after_header_name_is_case_insensitive_for_plain_dicts() -> None:
    assert parse_retry_after({"retry-after": "5"}) == 5.0


def test_retry_after_http_date() -> None:
    now = time.time()
    when = datetime.fromtimestamp(now, tz=timezone.utc) + timedelta(seconds=30)
    assert parse_retry_after({"Retry-After": http_date(when, usegmt=True)}, now=now) == pytest.approx(30.0, abs=1.0)


def test_retry_after_http_date_in_the_past_means_now() -> None:
    assert parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0


@pytest.mark.parametrize("header", ["soon", "", "Mon, 99 Foo 2020", "nan", "inf"])
def test_retry_after_garbage_is_ignored(header: str) -> None:
    value = parse_retry_after({"Retry-After": header})
    assert value is None or (value >= 0.0 and value < float("inf") and value == value)


def test_no_retry_after_header() -> None:
    assert parse_retry_after({}) is None


def test_retry_after_http_date_is_utc_whatever_the_local_timezone(monkeypatch: pytest.MonkeyPatch) -> None:
    """RFC 5322 '-0000' dates parse as naive datetimes; they must still be read as UTC."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        now = time.time()
        when = datetime.fromtimestamp(now + 30, tz=timezone.utc).strftime("%a, %d %b %Y %H:%M:%S -0000")
        assert parse_retry_after({"Retry-After": when}, now=now) == pytest.approx(30.0, abs=1.0)
    finally:
        monkeypatch.undo()
        time.tzset()
