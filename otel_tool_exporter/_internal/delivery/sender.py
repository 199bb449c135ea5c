"""The sending stage: ready Log requests → acknowledged Logs, with the spool and bounded memory.

- Up to ``max_concurrency`` requests in flight (the client's AIMD limiter decides how many).
- A request is written to the spool (when configured) before it is sent, deleted when the server
  acknowledged it; its Log id goes into the span → Log-id map.
- Memory is bounded: at most ``max_queue`` requests are held in memory. Beyond that they wait in
  the spool ("parked") and come back as in-flight ones finish; without a spool they are dropped
  and counted (reason ``backlog_full``).
- A request whose retries ran out (server down longer than ``max_elapsed``) stays in the spool and
  is tried again later; without a spool it fails for good and is counted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

from otel_tool_exporter._internal.build.mapping import MappedLog
from otel_tool_exporter._internal.delivery.client import (
    APIStatusError,
    HumanloopClient,
    HumanloopError,
    RetriesExhausted,
)
from otel_tool_exporter._internal.delivery.spool import Spool
from otel_tool_exporter._internal.limits import cap_request
from otel_tool_exporter._internal.ordering import Job, OrderingEngine, Reason
from otel_tool_exporter._internal.spans import SpanRecord, format_span_id
from otel_tool_exporter._internal.stats import Stats
from otel_tool_exporter.models import ToolLogRequest
from otel_tool_exporter.settings import Settings

__all__ = ["Sender"]

logger = logging.getLogger("otel_tool_exporter")

PARK_RETRY_DELAY = 30.0


class Sender:
    def __init__(
        self,
        settings: Settings,
        client: HumanloopClient,
        engine: OrderingEngine,
        stats: Stats,
        *,
        spool: Spool | None,
        log_once: Callable[..., None],
        on_idle: Callable[[], None],
    ) -> None:
        self.settings = settings
        self.client = client
        self.engine = engine
        self.stats = stats
        self.spool = spool
        self._log_once = log_once
        self._on_idle = on_idle
        self.active: set[Job] = set()
        self.parked: deque[Job] = deque()  # body-less jobs whose request waits in the spool
        self._commit_scheduled = False
        self._park_timer: asyncio.TimerHandle | None = None
        self.closing = False
        # Mapped Logs in flight or waiting for a slot. Past two windows' worth there is no point
        # mapping more: the spans wait more cheaply in the queue, and the event loop is better
        # spent sending (see backlog_full / wait_for_room). Measured: 4.0k → 6.4k Logs/s.
        self._backlog_high = 2 * settings.max_concurrency
        self._backlog_low = settings.max_concurrency
        self._room: asyncio.Event | None = None

    # ------------------------------------------------------------------ backlog
    @property
    def backlog_full(self) -> bool:
        """Whether to stop mapping for now. Never with a spool: there, mapping is what puts a Log
        on disk, and a Log on disk survives a crash that a span in the queue does not."""
        return self.spool is None and len(self.active) >= self._backlog_high

    async def wait_for_room(self) -> None:
        """Until the backlog of mapped Logs is down to one window's worth."""
        if self._room is None:
            self._room = asyncio.Event()
        self._room.clear()
        if len(self.active) > self._backlog_low:
            await self._room.wait()

    # ------------------------------------------------------------------ spool bookkeeping
    def _touch_spool(self) -> None:
        if self.spool is not None and not self._commit_scheduled:
            self._commit_scheduled = True
            asyncio.get_running_loop().call_soon(self._commit)

    def _commit(self) -> None:
        self._commit_scheduled = False
        if self.spool is not None:
            try:
                self.spool.commit()
            except Exception:
                logger.exception("otel_tool_exporter: spool commit failed")

    def admit(self, job: Job) -> None:
        """A mapped tool Log entered ordering: put it on disk before anything else happens."""
        if self.spool is None:
            return
        span = job.span
        try:
            job.row = self.spool.add(
                span.trace_id_hex,
                span.span_id_hex,
                job.mapped.request.to_json_bytes(),
                parent_span_id=span.parent_span_id_hex,
                version_id=job.mapped.version_id,
                environment=job.mapped.environment,
            )
        except Exception:
            logger.exception("otel_tool_exporter: spool write failed; this Log is held in memory only")
            return
        self._touch_spool()

    def waiting(self, job: Job, span_id: int) -> None:
        if self.spool is not None and job.row is not None:
            self.spool.waiting(job.row, format_span_id(span_id))
            self._touch_spool()

    # ------------------------------------------------------------------ sending
    def ready(self, job: Job) -> None:
        """Ordering released the job (its ``trace_parent_id`` is final): send it, park it, or drop it."""
        if self.spool is not None and job.row is not None and job.body is None:
            job.body = self._body(job)
            self.spool.ready(job.row, job.body)
            self._touch_spool()
        if len(self.active) >= self.settings.max_queue and not self.closing:
            if self.spool is not None and job.row is not None:
                self._park(job)
                return
            self.stats.drop("backlog_full")
            self._log_once(
                "backlog_full", "delivery backlog full (max_queue=%d): dropping Logs", self.settings.max_queue
            )
            self.engine.failed(job, "backlog_full")
            return
        self._start(job)

    def _start(self, job: Job) -> None:
        job.task = asyncio.get_running_loop().create_task(self._send(job))
        self.active.add(job)

    def _body(self, job: Job) -> bytes:
        request = job.mapped.request
        body = request.to_json_bytes()
        if len(body) > self.settings.max_field_bytes and cap_request(request, self.settings.max_field_bytes):
            body = request.to_json_bytes()
        return body

    async def _send(self, job: Job) -> None:
        body = job.body if job.body is not None else self._body(job)
        mapped = job.mapped
        client = self.client
        try:
            try:
                response = await client.log_tool(body, version_id=mapped.version_id, environment=mapped.environment)
            except APIStatusError as exc:
                if exc.status != 413:
                    raise
                body = self._shrink(body, job)
                response = await client.log_tool(body, version_id=mapped.version_id, environment=mapped.environment)
        except RetriesExhausted as exc:
            if self.spool is not None and job.row is not None and not self.closing:
                self._log_once(
                    f"park:{exc.last}", "server unavailable (%s): Logs kept in the spool, retrying later", exc.last
                )
                self.stats.retries += 1
                job.body = None
                self._park(job, delay=PARK_RETRY_DELAY)
                return
            self._fail(job, exc)
        except HumanloopError as exc:
            self._fail(job, exc)
        except asyncio.CancelledError:
            # shutdown cut the retries short: with a spool the request is replayed on next start
            if self.spool is None or job.row is None:
                self.stats.failed[Reason.SHUTDOWN] += 1
            self.engine.failed(job, Reason.SHUTDOWN)
            raise
        except Exception as exc:
            self.stats.failed["internal_error"] += 1
            logger.exception("otel_tool_exporter: unexpected error sending a Log")
            self.engine.failed(job, f"internal_error:{type(exc).__name__}")
        else:
            self.stats.sent += 1
            if self.spool is not None and job.row is not None:
                self.spool.acknowledged(job.row, job.span.trace_id_hex, job.span.span_id_hex, response.id)
                self._touch_spool()
            self.engine.logged(job, response.id)
        finally:
            self.active.discard(job)
            if self._room is not None and len(self.active) <= self._backlog_low:
                self._room.set()
            self._refill()
            self._on_idle()

    def _shrink(self, body: bytes, job: Job) -> bytes:
        """413: the server's limit is unknown, so aim far below what was refused — each value
        field at most a sixteenth of the refused body — and try once more."""
        request = ToolLogRequest.model_validate_json(body) if job.body is not None else job.mapped.request
        cap_request(request, max(1024, min(len(body) // 16, self.settings.max_field_bytes // 4)))
        return request.to_json_bytes()

    def _fail(self, job: Job, exc: HumanloopError) -> None:
        self.stats.failed[exc.reason] += 1
        path = job.mapped.request.path if job.mapped is not None else "?"
        self._log_once(f"fail:{exc}", "Log for tool %r not created: %s", path, exc)
        if self.spool is not None and job.row is not None:
            self.spool.discard(job.row)
            self._touch_spool()
        self.engine.failed(job, exc.reason)

    # ------------------------------------------------------------------ parking (spool only)
    def _park(self, job: Job, *, delay: float = 0.0) -> None:
        job.body = None
        job.mapped.request = _EMPTY_REQUEST  # the request lives in the spool now, not in memory
        self.parked.append(job)
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
        room = self.settings.max_queue - len(self.active)
        if room <= 0 or (not force and len(self.active) > self.settings.max_queue // 2):
            if self.parked and not self.active:
                self._schedule_unpark(PARK_RETRY_DELAY)
            return
        batch = [self.parked.popleft() for _ in range(min(room, len(self.parked)))]
        bodies = {row.row: row.body for row in self.spool.rows(rows=[j.row for j in batch if j.row is not None])}
        for job in batch:
            body = bodies.get(job.row or -1)
            if body is None:
                continue  # acknowledged meanwhile by an earlier attempt
            job.body = body
            self._start(job)

    # ------------------------------------------------------------------ replay after a restart
    def replay(self) -> int:
        """Requests left in the spool by an earlier run: resend the ready ones, re-order the rest."""
        if self.spool is None:
            return 0
        rows = list(self.spool.rows())
        if not rows:
            return 0
        for trace_hex, span_hex, log_id in self.spool.log_ids({r.trace_id for r in rows}):
            self.engine.remember_log(int(trace_hex, 16), int(span_hex, 16), None, log_id)
        now = time.monotonic()
        waiting: list[Job] = []
        for index, row in enumerate(rows):
            parent = row.waiting_on or row.parent_span_id
            span = SpanRecord(
                trace_id=int(row.trace_id, 16),
                span_id=int(row.span_id, 16),
                parent_span_id=int(parent, 16) if parent and not row.ready else None,
                name="replayed",
            )
            request = ToolLogRequest.model_validate_json(row.body)
            job = Job(
                span=span,
                mapped=MappedLog(request, row.version_id, row.environment, None),
                seq=-len(rows) + index,
                arrived=now,
                row=row.row,
                body=row.body if row.ready else None,
                replayed=True,
            )
            if row.ready:
                self.engine.submit_resolved(job)
                self.ready(job)
            else:
                waiting.append(job)
        for job in waiting:
            self.engine.submit_resolved(job)  # every replayed node first, so children can wait
        for job in waiting:
            self.engine.resubmit(job)
        logger.info("otel_tool_exporter: replaying %d Log requests from the spool", len(rows))
        return len(rows)


_EMPTY_REQUEST = ToolLogRequest()
