"""The outermost delivery layer: the queue in front of the senders, with the spool behind it.

Each Log request it is given is sent on its own task through the sender chain (retry → 413 →
concurrency → HTTP, the transport keeping the whole-exchange deadline); what became of it is put in :attr:`Dispatch.outcomes` for the loop
to read, and ``wakeup`` is set. Memory is bounded: at most ``max_queue`` requests are held here.
Beyond that, with a spool, they wait on disk ("parked") and come back as others finish; without
one they fail as ``backlog_full``, counted and said. With a spool, a Log whose retries ran out
(server down longer than ``max_elapsed``) is parked and tried again later instead of failing.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from otel_tool_exporter._internal.delivery.outcomes import Failed, Logged, Outgoing, Sender
from otel_tool_exporter._internal.delivery.report import FailureReport
from otel_tool_exporter._internal.delivery.spool import Spool
from otel_tool_exporter._internal.spans import format_span_id, format_trace_id
from otel_tool_exporter._internal.stats import Stats

__all__ = ["Dispatch"]

logger = logging.getLogger("otel_tool_exporter")

PARK_RETRY_DELAY = 30.0
SHUTDOWN = "shutdown"


class Dispatch:
    def __init__(
        self,
        sender: Sender,
        *,
        max_queue: int,
        max_concurrency: int,
        stats: Stats,
        wakeup: asyncio.Event,
        log_once: Callable[..., None],
        spool: Spool | None = None,
        park_delay: float | None = None,
    ) -> None:
        self.sender = sender
        self.max_queue = max_queue
        self.stats = stats
        self.spool = spool
        self.park_delay = PARK_RETRY_DELAY if park_delay is None else park_delay
        self._wakeup = wakeup
        self._log_once = log_once
        self.active: dict[Outgoing, asyncio.Task[Any]] = {}
        self.parked: deque[Outgoing] = deque()  # requests waiting in the spool (body dropped here)
        self.outcomes: deque[tuple[Outgoing, Logged | Failed]] = deque()
        self.failures = FailureReport()  # said by the loop when delivery goes quiet
        self.closing = False
        self.wake_on_outcome = True  # the loop turns it off while it lingers: answers gather
        self._park_timer: asyncio.TimerHandle | None = None
        self._commit_scheduled = False
        # Past two windows' worth of requests in flight there is no point mapping more: the spans
        # wait more cheaply in the inbox, and the event loop is better spent sending.
        self._backlog_high = 2 * max_concurrency
        self._backlog_low = max_concurrency
        self._room = asyncio.Event()

    # ------------------------------------------------------------------ backlog
    @property
    def backlog_full(self) -> bool:
        """Whether the loop should stop building for now. Never with a spool: there, building is
        what puts a Log on disk, and a Log on disk survives a crash that a span in memory does not."""
        return self.spool is None and len(self.active) >= self._backlog_high

    async def wait_for_room(self) -> None:
        self._room.clear()
        if len(self.active) > self._backlog_low:
            await self._room.wait()

    def idle_before(self, seq: int) -> bool:
        """No request built before ``seq`` is in flight, and no outcome is unread."""
        return not self.outcomes and not any(log.seq < seq for log in self.active)

    def parked_before(self, seq: int) -> bool:
        return any(log.seq < seq for log in self.parked)

    # ------------------------------------------------------------------ spool bookkeeping
    def touch_spool(self) -> None:
        """Group this tick's spool writes into one transaction, committed before any send starts."""
        if self.spool is not None and not self._commit_scheduled:
            self._commit_scheduled = True
            asyncio.get_running_loop().call_soon(self.commit)

    def commit(self) -> None:
        self._commit_scheduled = False
        if self.spool is not None:
            self.spool.commit()  # a failure is said by the spool, once; delivery goes on from memory

    # ------------------------------------------------------------------ sending
    def submit(self, log: Outgoing) -> None:
        """Send a final Log request now, park it, or fail it (``backlog_full``)."""
        if self.spool is not None and log.row is not None:
            self.spool.ready(log.row, log.body, log.update)
            self.touch_spool()
        if len(self.active) >= self.max_queue and not self.closing:
            if self._may_park(log):
                self._park(log)
                return
            self.stats.drop("backlog_full")
            self._log_once("backlog_full", "delivery backlog full (max_queue=%d): dropping Logs", self.max_queue)
            self._done(log, Failed("backlog_full", "delivery backlog full"))
            return
        self._start(log)

    def _start(self, log: Outgoing) -> None:
        self.active[log] = asyncio.get_running_loop().create_task(self._send(log))

    async def _send(self, log: Outgoing) -> None:
        try:
            outcome = await self.sender.send(log)
        except asyncio.CancelledError:
            # shutdown cut the retries short: with a spool the request is replayed on next start
            if self.spool is None or log.row is None:
                self.stats.failed[SHUTDOWN] += 1
            self._finish(log)
            self._done(log, Failed(SHUTDOWN, "the exporter shut down before the Log was sent"))
            raise
        except Exception as exc:
            logger.exception("otel_tool_exporter: unexpected error sending a Log")
            outcome = Failed(f"internal_error:{type(exc).__name__}", str(exc))
            self.stats.failed["internal_error"] += 1
            self._discard(log)
        else:
            if isinstance(outcome, Logged):
                if log.update is not None:
                    self.stats.completed += 1
                else:
                    self.stats.sent += 1
                    self.stats.early += log.early
                if self.spool is not None and log.row is not None:
                    self.spool.acknowledged(
                        log.row, format_trace_id(log.trace_id), format_span_id(log.span_id), outcome.log_id
                    )
                    self.touch_spool()
            elif isinstance(outcome, Failed) and outcome.exhausted and self._may_park(log):
                self._log_once(
                    f"park:{outcome.last}",  # once per cause, not once per Log
                    "server unavailable (%s): Logs kept in the spool, retrying later",
                    outcome.last,
                )
                self.stats.retries += 1
                self._finish(log)
                self._park(log, delay=self.park_delay)
                return
            elif log.early:  # the span's end still gets its Log, the usual way: nothing failed yet
                assert isinstance(outcome, Failed)
                self._discard(log)
            else:
                assert isinstance(outcome, Failed)
                self.stats.failed[outcome.reason] += 1
                if log.update is None:  # a completion that failed leaves a Log that exists: said by the loop
                    self.failures.record(outcome.message, log.path)
                self._discard(log)
        self._finish(log)
        self._done(log, outcome)

    def _may_park(self, log: Outgoing) -> bool:
        """Only a request whose row is on disk, in a spool that works, may leave memory."""
        return self.spool is not None and self.spool.healthy and log.row is not None and not self.closing

    def _discard(self, log: Outgoing) -> None:
        if self.spool is not None and log.row is not None:
            self.spool.discard(log.row)
            self.touch_spool()

    def _finish(self, log: Outgoing) -> None:
        self.active.pop(log, None)
        if len(self.active) <= self._backlog_low:
            self._room.set()
        self._refill()

    def _done(self, log: Outgoing, outcome: Logged | Failed) -> None:
        self.outcomes.append((log, outcome))
        if self.wake_on_outcome or not self.active:  # the last answer out may be what a flush waits for
            self._wakeup.set()

    # ------------------------------------------------------------------ parking (spool only)
    def _park(self, log: Outgoing, *, delay: float = 0.0) -> None:
        log.body = b""  # the request lives in the spool now, not in memory
        self.parked.append(log)
        if delay:
            self._schedule_unpark(delay)

    def _schedule_unpark(self, delay: float) -> None:
        if self._park_timer is None:
            self._park_timer = asyncio.get_running_loop().call_later(delay, self._unpark_timer)

    def _unpark_timer(self) -> None:
        self._park_timer = None
        self._refill(force=True)

    def _refill(self, *, force: bool = False) -> None:
        if not self.parked or self.spool is None:
            return
        room = self.max_queue - len(self.active)
        if room <= 0 or (not force and len(self.active) > self.max_queue // 2):
            if self.parked and not self.active:
                self._schedule_unpark(self.park_delay)
            return
        batch = [self.parked.popleft() for _ in range(min(room, len(self.parked)))]
        rows = [log.row for log in batch if log.row is not None]
        bodies = {row.row: row.body for row in self.spool.rows(rows=rows)}
        if not self.spool.healthy:  # the bodies could not be read back: they stay parked, for later
            self.parked.extendleft(reversed(batch))
            self._schedule_unpark(self.park_delay)
            return
        for log in batch:
            body = bodies.get(log.row if log.row is not None else -1)
            if body is None:
                continue  # acknowledged meanwhile by an earlier attempt
            log.body = body
            self._start(log)

    # ------------------------------------------------------------------ shutdown
    async def close(self, deadline: float) -> None:
        """Let requests in flight finish until ``deadline`` (loop time), then cancel the rest."""
        loop = asyncio.get_running_loop()
        tasks = list(self.active.values())
        remaining = deadline - loop.time()
        if tasks and remaining > 0:
            await asyncio.wait(tasks, timeout=remaining)
        self.closing = True
        for task in list(self.active.values()):
            if not task.done():
                task.cancel()
        await asyncio.sleep(0)
