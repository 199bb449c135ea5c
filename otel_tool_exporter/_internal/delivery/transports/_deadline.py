"""The whole-exchange deadline of every request of a transport, kept by one timer.

A transport gives every request the same timeout, so deadlines fall due in the order requests
start: one timer set for the oldest request does for all of them. ``asyncio.timeout`` schedules
and cancels a timer per request, about 5 µs each, which is a measurable share of the delivery
thread's time at thousands of Logs a second (docs/performance.md). What a request sees is the
same: past its deadline its task is cancelled and the exchange raises ``TimeoutError``; a
cancellation from anyone else stays a cancellation.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from typing import Any, TypeVar

__all__ = ["Deadlines"]

T = TypeVar("T")


class Deadlines:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._live: dict[object, tuple[float, asyncio.Task[Any]]] = {}  # oldest first
        self._expired: set[object] = set()
        self._timer: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._live)

    async def run(self, awaitable: Awaitable[T]) -> T:
        """``await awaitable``, raising ``TimeoutError`` once ``timeout`` seconds have passed."""
        task = asyncio.current_task()
        if task is None or sys.version_info < (3, 11):  # Task.uncancel is 3.11+: a timer per request
            try:
                return await asyncio.wait_for(awaitable, self.timeout)
            except asyncio.TimeoutError:  # not yet the built-in TimeoutError before 3.11
                raise TimeoutError(f"no complete answer within {self.timeout:g} s") from None
        loop = asyncio.get_running_loop()
        token = object()
        self._live[token] = (loop.time() + self.timeout, task)
        if self._timer is None:
            self._arm(loop)
        try:
            return await awaitable
        except asyncio.CancelledError:
            if token in self._expired and task.uncancel() == 0:
                raise TimeoutError(f"no complete answer within {self.timeout:g} s") from None
            raise
        finally:
            self._live.pop(token, None)
            self._expired.discard(token)

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        oldest = next(iter(self._live.values()), None)
        self._timer = None if oldest is None else loop.call_at(oldest[0], self._expire, loop)

    def _expire(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        overdue = []
        for token, (deadline, task) in self._live.items():
            if deadline > now:
                break
            overdue.append((token, task))
        for token, task in overdue:
            del self._live[token]
            self._expired.add(token)
            task.cancel()
        self._arm(loop)
