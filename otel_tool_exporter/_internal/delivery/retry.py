"""Retries: what is retried, how long to wait, for how long in total — and the layer that does it."""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timezone
from email.utils import parsedate_to_datetime

from otel_tool_exporter._internal.delivery.outcomes import Failed, Outcome, Outgoing, Retry, Sender

__all__ = ["RETRYABLE_STATUS", "THROTTLE_STATUS", "RetryLayer", "RetryPolicy", "parse_retry_after"]

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
THROTTLE_STATUS = frozenset({429, 503})


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), else ``None``."""
    raw = headers.get("Retry-After") or headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        pass
    else:  # "nan"/"inf" parse as floats but are no delay a server meant
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # '-0000' parses naive; HTTP dates are always UTC, never local time
        when = when.replace(tzinfo=timezone.utc)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


@dataclass(slots=True, frozen=True)
class RetryPolicy:
    initial: float = 0.5
    multiplier: float = 2.0
    max_backoff: float = 30.0
    max_elapsed: float = 300.0
    max_retry_after: float = 120.0
    jitter: float = 0.5  # each wait is drawn from [1 - jitter, 1] × the nominal backoff

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to sleep before retry number ``attempt`` (1-based)."""
        nominal = min(self.max_backoff, self.initial * self.multiplier ** (attempt - 1))
        wait = nominal * (1.0 - self.jitter * random.random())
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_retry_after))
        return wait


class RetryLayer:
    """Sends again while the answer is worth another attempt (:class:`Retry`), with backoff,
    until ``max_elapsed``; then the Log fails with ``retries_exhausted`` (``exhausted=True``: a
    spool keeps it for later). ``sleep`` and ``clock`` are injectable for tests."""

    def __init__(
        self,
        inner: Sender,
        policy: RetryPolicy,
        *,
        on_retry: Callable[[Retry], None] | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self.policy = policy
        self._on_retry = on_retry
        self._sleep = sleep
        self._clock = clock

    async def send(self, log: Outgoing) -> Outcome:
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            outcome = await self._inner.send(log)
            if not isinstance(outcome, Retry):
                return outcome
            wait = self.policy.backoff(attempt, outcome.retry_after)
            elapsed = self._clock() - started
            if elapsed + wait > self.policy.max_elapsed:
                return Failed(
                    "retries_exhausted",
                    f"gave up after {attempt} attempts in {elapsed:.1f}s: {outcome.message}",
                    exhausted=True,
                    last=outcome.message,
                )
            if self._on_retry is not None:
                self._on_retry(outcome)
            await self._sleep(wait)
