"""Adaptive concurrency (AIMD): more requests in flight while the server keeps up, half as many
after it pushes back (429/503/timeouts). The limit never exceeds ``max_concurrency``."""

from __future__ import annotations

import asyncio
from collections import deque

__all__ = ["AdaptiveLimiter"]


class AdaptiveLimiter:
    def __init__(self, max_limit: int, *, initial: int | None = None, min_limit: int = 1) -> None:
        self.max_limit = max_limit
        self.min_limit = min_limit
        self._limit = float(initial if initial is not None else max_limit)
        self.in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def limit(self) -> int:
        return max(self.min_limit, int(self._limit))

    async def acquire(self) -> None:
        if self.in_flight < self.limit and not self._waiters:
            self.in_flight += 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        except BaseException:
            if fut.done() and not fut.cancelled():
                self._release_slot()  # we were handed a slot but are leaving: pass it on
            else:
                try:
                    self._waiters.remove(fut)
                except ValueError:
                    pass
            raise

    def release(self, *, pressure: bool = False, success: bool = False) -> None:
        if pressure:
            self._limit = max(float(self.min_limit), self._limit / 2.0)
        elif success and self._limit < self.max_limit:
            self._limit = min(float(self.max_limit), self._limit + 1.0 / self._limit)
        self._release_slot()

    def _release_slot(self) -> None:
        self.in_flight -= 1
        while self._waiters and self.in_flight < self.limit:
            fut = self._waiters.popleft()
            if not fut.done():
                self.in_flight += 1
                fut.set_result(None)
