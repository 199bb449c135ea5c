"""A deadline for one whole attempt, whatever the transport does inside it.

The built-in transports keep the same deadline themselves (and a transport you pass in is held to
it too); this layer is what makes it a property of delivery rather than of each transport.
"""

from __future__ import annotations

import asyncio
import sys

from otel_tool_exporter._internal.delivery.outcomes import Outcome, Outgoing, Retry, Sender

__all__ = ["TimeoutLayer"]


class TimeoutLayer:
    def __init__(self, inner: Sender, seconds: float) -> None:
        self._inner = inner
        self.seconds = seconds

    async def send(self, log: Outgoing) -> Outcome:
        try:
            if sys.version_info >= (3, 11):  # no extra task per attempt (wait_for makes one before 3.12)
                async with asyncio.timeout(self.seconds):
                    return await self._inner.send(log)
            return await asyncio.wait_for(self._inner.send(log), self.seconds)
        except (asyncio.TimeoutError, TimeoutError):
            return Retry("timeout", f"no complete answer within {self.seconds:g} s", pressure=True)
