"""How many attempts are on the wire at once: adaptive (AIMD) below ``max_concurrency``."""

from __future__ import annotations

from otel_tool_exporter._internal.delivery.limiter import AdaptiveLimiter
from otel_tool_exporter._internal.delivery.outcomes import Logged, Outcome, Outgoing, Retry, Sender

__all__ = ["ConcurrencyLayer"]


class ConcurrencyLayer:
    """A slot per attempt, not per Log: a Log waiting to retry holds none."""

    def __init__(self, inner: Sender, limiter: AdaptiveLimiter) -> None:
        self._inner = inner
        self.limiter = limiter

    async def send(self, log: Outgoing) -> Outcome:
        limiter = self.limiter
        await limiter.acquire()
        outcome: Outcome | None = None
        try:
            outcome = await self._inner.send(log)
            return outcome
        finally:
            limiter.release(
                pressure=isinstance(outcome, Retry) and outcome.pressure, success=isinstance(outcome, Logged)
            )
