"""A deadline for one whole attempt, whatever the transport does inside it."""

from __future__ import annotations

import asyncio

from otel_tool_exporter._internal.delivery.outcomes import Outcome, Outgoing, Retry, Sender

__all__ = ["TimeoutLayer"]


class TimeoutLayer:
    def __init__(self, inner: Sender, seconds: float) -> None:
        self._inner = inner
        self.seconds = seconds

    async def send(self, log: Outgoing) -> Outcome:
        try:
            return await asyncio.wait_for(self._inner.send(log), self.seconds)
        except asyncio.TimeoutError:
            return Retry("timeout", f"no complete answer within {self.seconds:g} s", pressure=True)
