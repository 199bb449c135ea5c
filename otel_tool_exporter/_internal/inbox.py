"""The receive stage: where the application's threads hand spans over.

Every method an application thread calls is O(1): a length check and a deque append (deques are
thread-safe for appends and pops from opposite ends), plus a wake-up of the delivery thread when
it sleeps. No I/O, no lock the network holds, and nothing raises.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from otel_tool_exporter._internal.stats import Stats

__all__ = ["DurableMarker", "FlushMarker", "Inbox"]


class FlushMarker:
    """Put in the queue of ends by ``force_flush``: resolved once everything before it is done."""

    __slots__ = ("future",)

    def __init__(self) -> None:
        self.future: concurrent.futures.Future[bool] = concurrent.futures.Future()


class DurableMarker:
    """Follows a batch of spans that must be on disk before the hand-off returns (the sidecar
    answers 200 only then): resolved once the loop has written them to the spool's journal."""

    __slots__ = ("future",)

    def __init__(self) -> None:
        self.future: concurrent.futures.Future[bool] = concurrent.futures.Future()


class Inbox:
    def __init__(self, max_queue: int, stats: Stats) -> None:
        self.cap = 2 * max_queue  # room for a start and an end per span
        self.max_queue = max_queue
        self.stats = stats
        self.starts: deque[Any] = deque()  # started SDK spans (only with start ancestry)
        self.ends: deque[Any] = deque()  # finished spans and flush markers, in hand-off order
        self.closed = False
        self.flushes_asked = 0  # a flush waiting in the queue ends a burst's hold
        self.sleeping = True  # the delivery thread sleeps (or does not exist yet): wake it
        self.wake: Callable[[], None] = lambda: None  # set by the runtime
        self._warned = False
        self._warn_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.ends) + len(self.starts)

    def offer_start(self, span: Any) -> None:
        """``on_start``: ancestry is best effort under overload (the end's hand-off counts drops)."""
        starts = self.starts
        if len(starts) < self.cap and not self.closed:
            starts.append(span)
            if self.sleeping:  # one wake-up per sleep, not one per span
                self.sleeping = False
                self.wake()

    def offer_end(self, span: Any) -> bool:
        """``on_end``/``export``/the sidecar: False when the span was dropped (counted, said once)."""
        if self.closed:
            self.stats.drop("after_shutdown")
            return False
        ends = self.ends
        if len(ends) >= self.cap:
            self.stats.drop("queue_full")
            self._warn_full()
            return False
        ends.append(span)
        if self.sleeping:  # one wake-up per sleep, not one per span
            self.sleeping = False
            self.wake()
        return True

    def has_room(self, n: int = 1) -> bool:
        """Whether ``n`` more spans fit now (the sidecar answers 503 when not)."""
        return len(self.ends) + n <= self.cap

    def offer_durable(self, spans: list[Any]) -> concurrent.futures.Future[bool]:
        """Hand in ``spans`` (the caller checked :meth:`has_room`); the future resolves once they
        are on disk (True), or in memory only because the spool failed (False)."""
        for span in spans:
            self.offer_end(span)
        marker = DurableMarker()
        self.flushes_asked += 1  # urgent: no holding back for a burst while a sender waits
        self.ends.append(marker)
        self.wake()
        return marker.future

    def offer_flush(self) -> FlushMarker:
        marker = FlushMarker()
        self.flushes_asked += 1
        self.ends.append(marker)
        self.wake()
        return marker

    def reset_after_fork(self, stats: Stats) -> None:
        """In a forked child: the parent's spans are not ours, and no thread is running yet."""
        self.starts.clear()
        self.ends.clear()
        self.stats = stats
        self.sleeping = True
        self._warn_lock = threading.Lock()

    def _warn_full(self) -> None:
        with self._warn_lock:
            if self._warned:
                return
            self._warned = True
        import logging

        logging.getLogger("otel_tool_exporter").warning("queue full (max_queue=%d): dropping spans", self.max_queue)
