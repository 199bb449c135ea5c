"""The delivery loop: runs the stages, one way, on the delivery thread's event loop.

    inbox ─► read (spans/sdk) ─► build ─► order ─► finalise ─► deliver
                                           ▲                      │
                                           └──── outcomes ◄───────┘

Each turn it reads what delivery finished (outcomes go to ordering, which may release children),
releases children whose wait ran out, then takes a batch of span starts and ends from the inbox
(unless the application is in a burst: see :mod:`burst`). Stages return data; only this loop moves
it from one stage to the next. With a spool, a built Log is written to disk before ordering sees it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from otel_tool_exporter._internal.build.builder import Builder, LogDraft, NotLogged
from otel_tool_exporter._internal.build.mapping import EXPLICIT_PARENT_KEY
from otel_tool_exporter._internal.burst import BurstPolicy
from otel_tool_exporter._internal.delivery.dispatch import Dispatch
from otel_tool_exporter._internal.delivery.outcomes import Logged, Outgoing, Sender
from otel_tool_exporter._internal.delivery.push import UPDATE_UNSUPPORTED
from otel_tool_exporter._internal.delivery.spool import Spool
from otel_tool_exporter._internal.finalise import finalise, finalise_update
from otel_tool_exporter._internal.inbox import DurableMarker, FlushMarker, Inbox
from otel_tool_exporter._internal.ordering import OrderingEngine, Pending, Reason, Release
from otel_tool_exporter._internal.ordering.engine import LiveParent
from otel_tool_exporter._internal.spans import SpanRecord, format_span_id, format_trace_id
from otel_tool_exporter._internal.spans.journal import decode as journal_decode
from otel_tool_exporter._internal.spans.journal import encode as journal_encode
from otel_tool_exporter._internal.spans.sdk import OrdinaryEnd, attributes_of, read_end, record_from_open
from otel_tool_exporter._internal.stats import Stats
from otel_tool_exporter.models import ToolLogRequest
from otel_tool_exporter.settings import Settings

__all__ = ["DeliveryLoop"]

logger = logging.getLogger("otel_tool_exporter")

# After the inbox runs dry the loop stays awake this long before it sleeps: spans that arrive
# meanwhile need no cross-thread wake-up (a syscall on the application's thread, per span).
LINGER_SECONDS = 0.005
# Spans handled between two turns of the event loop while requests are out (their answers want
# reading: bench_throughput at 0 ms, 256 → 4.0k Logs/s, 16 → 6.3k); with none out, long turns.
BATCH = 16
IDLE_BATCH = 256
# Spans written to the spool's journal in one transaction: a few milliseconds of work, so that the
# loop comes back to the journal often while a burst is being built (spans reach the disk fast).
JOURNAL_BATCH = 512


@dataclass(slots=True)
class _Entry:
    """What ordering carries for the loop: the built Log, its spool row, and — for a request
    replayed from the spool in its final form — the body as it was."""

    draft: LogDraft
    row: int | None = None
    body: bytes | None = None
    update: tuple[str, str] | None = None  # a replayed completion: the Log it completes
    early: bool = False  # the Log of a span still running


class DeliveryLoop:
    def __init__(
        self,
        settings: Settings,
        inbox: Inbox,
        builder: Builder,
        stats: Stats,
        sender: Sender,
        *,
        spool: Spool | None = None,
        ancestry_from_start: bool = False,
        burst: BurstPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.inbox = inbox
        self.builder = builder
        self.stats = stats
        self.sender = sender
        self.burst = burst or BurstPolicy()
        self._clock = clock
        self.spool = spool
        self.engine = OrderingEngine(
            classify_open=self._judge_open,
            max_parent_wait=settings.max_parent_wait,
            max_pending=settings.max_pending,
            trace_ttl=settings.trace_ttl,
            max_tracked_spans=settings.max_tracked_spans,
            ancestry_from_start=ancestry_from_start,
            live_parent_after=settings.live_parent_after,
            now=clock(),
        )
        self.dispatch: Dispatch | None = None
        self._seq = itertools.count(1)
        self._flushes: list[tuple[int, FlushMarker]] = []
        # with a spool: spans taken from the inbox and written to the journal, not built yet
        self._accepted: deque[tuple[Any, int | None, bool]] = deque()  # (item, journal row, recovered)
        self._flushes_reached = 0
        self._timer: asyncio.TimerHandle | None = None
        self._wakeup: asyncio.Event | None = None
        self._logged_messages: set[str] = set()

    def _judge_open(self, span: Any) -> tuple[bool | None, str | None]:
        return self.builder.judge_open(span.name, attributes_of(span))

    # ================================================================= the loop
    async def run(self, wakeup: asyncio.Event) -> None:
        self._wakeup = wakeup
        dispatch = self.dispatch = Dispatch(
            self.sender,
            max_queue=self.settings.max_queue,
            max_concurrency=self.settings.max_concurrency,
            stats=self.stats,
            wakeup=wakeup,
            log_once=self.log_once,
            spool=self.spool,
        )
        try:
            self._replay()
            self._recover_journal()
        except Exception:
            logger.exception("otel_tool_exporter: replaying the spool failed")
        inbox, burst = self.inbox, self.burst
        lingered = False
        journaling = self.spool is not None
        while True:
            self._read_outcomes()
            self._expire()
            if journaling and inbox.ends:
                self._journal_ahead()  # accepted means durable: on disk before anything else
                if len(inbox.ends) > JOURNAL_BATCH:
                    await asyncio.sleep(0)
                    continue  # write what was handed in before building any of it
            if inbox.ends or inbox.starts or self._accepted:
                lingered = False
                urgent = inbox.closed or inbox.flushes_asked > self._flushes_reached
                if burst.should_hold(len(inbox) + len(self._accepted), urgent):
                    before = len(inbox) + len(self._accepted)
                    await asyncio.sleep(burst.step)
                    burst.after_step(len(inbox) + len(self._accepted) - before)
                    continue
                if dispatch.backlog_full:
                    await dispatch.wait_for_room()  # send what is built before building more
                    continue
                self.engine.tick(self._clock())
                self._take(BATCH if dispatch.active or self._accepted else IDLE_BATCH)
                self.engine.tick(self._clock())  # back within the memory bound after the batch
                self._after_turn()
                await asyncio.sleep(0)
                continue
            self._after_turn()
            if dispatch.outcomes:
                continue
            if not lingered:
                burst.begin()  # caught up: spans that come next are a new busy period, held if a burst
                lingered = await self._linger(wakeup)
                continue
            lingered = False
            dispatch.failures.say(self._clock(), busy=bool(dispatch.active))  # went quiet: a line per problem
            self._arm_timer()
            inbox.sleeping = True
            if inbox.ends or inbox.starts or self._accepted or dispatch.outcomes:  # re-check after publishing it
                inbox.sleeping = False
                continue
            await wakeup.wait()  # the linger before this renewed the burst budget
            wakeup.clear()
            inbox.sleeping = False

    async def _linger(self, wakeup: asyncio.Event) -> bool:
        """Stay awake for LINGER_SECONDS before going to sleep, so spans that follow closely are
        taken without a wake-up. A flush (or shutdown) ends it at once, and so does the answer
        to the last request out (a flush may wait for it); other answers gather for one turn
        instead of waking the loop one by one. True when it ran its course, False when cut short."""
        loop = asyncio.get_running_loop()
        dispatch = self.dispatch
        assert dispatch is not None
        dispatch.wake_on_outcome = False
        wakeup.clear()
        quiet = loop.call_later(LINGER_SECONDS, wakeup.set)
        try:
            await wakeup.wait()
        finally:
            dispatch.wake_on_outcome = True
        quiet.cancel()
        wakeup.clear()  # what set it is looked at next turn; left set, the sleep after would not sleep
        return quiet.when() <= loop.time()

    # ================================================================= receive → build → order
    def _take(self, limit: int) -> None:
        """Up to ``limit`` ends, after every start handed in so far: each end counted here was
        handed in after its span's (and all its ancestors') start, so ordering has seen them."""
        inbox = self.inbox
        if self.spool is not None:
            self._take_accepted(limit)
            return
        ends = inbox.ends
        count = min(len(ends), limit)
        self._take_starts()
        for _ in range(count):
            self._end_safely(ends.popleft())

    def _take_accepted(self, limit: int) -> None:
        """:meth:`_take` with a spool: the spans come from the journal's side of the inbox, and
        each one's journal row goes once what it became (a Log request, a link) is written."""
        self._take_starts()
        accepted = self._accepted
        done: list[int] = []
        for _ in range(min(len(accepted), limit)):
            item, row, recovered = accepted.popleft()
            self._end_safely(item, recovered)
            if row is not None:
                done.append(row)
        if done and self.spool is not None:
            self.spool.unjournal(done)
            assert self.dispatch is not None
            self.dispatch.touch_spool()

    def _take_starts(self) -> None:
        starts, engine = self.inbox.starts, self.engine
        while starts:
            span = starts.popleft()
            try:
                ctx = span.get_span_context()
                if ctx.trace_flags.sampled:
                    parent = span.parent
                    engine.started(ctx.trace_id, ctx.span_id, parent.span_id if parent is not None else None, span)
            except Exception:
                logger.exception("otel_tool_exporter: internal error while recording a span start")

    def _journal_ahead(self, limit: int = JOURNAL_BATCH) -> None:
        """Take what was handed in and write it to the spool's journal, in one transaction, before
        anything else happens to it (never on the application's thread): a crash from now on
        loses none of it. A sidecar request waiting for the disk is answered once it is there."""
        ends = self.inbox.ends
        spool, dispatch = self.spool, self.dispatch
        assert spool is not None and dispatch is not None
        batch: list[tuple[Any, bytes | None]] = []
        durable: list[DurableMarker] = []
        for _ in range(min(len(ends), limit)):
            item = ends.popleft()
            kind = type(item)
            if kind is DurableMarker:
                self._flushes_reached += 1
                durable.append(item)
                continue
            if kind is FlushMarker:
                batch.append((item, None))
                continue
            try:
                if kind is SpanRecord:
                    batch.append((item, journal_encode(item)))
                    continue
                read = item if kind is OrdinaryEnd else read_end(item, self.builder.may_matter, EXPLICIT_PARENT_KEY)
                if read is None:
                    continue  # not sampled: not exported
                if type(read) is OrdinaryEnd:
                    link = SpanRecord(read.trace_id, read.span_id, read.parent_span_id, "")
                    if read.explicit_parent:
                        link.attributes = {EXPLICIT_PARENT_KEY: read.explicit_parent}
                    batch.append((read, journal_encode(link)))
                else:
                    batch.append((read, journal_encode(read)))  # type: ignore[arg-type]
            except Exception:
                self.stats.failed["internal_error"] += 1
                logger.exception("otel_tool_exporter: internal error while reading a span")
        bodies = [body for _, body in batch if body is not None]
        written = spool.journal(bodies)  # None: the spool failed (said); these spans live in memory
        rows: Iterator[int | None] = iter(written) if written is not None else iter([None] * len(bodies))
        accepted = self._accepted
        for item, body in batch:
            accepted.append((item, next(rows) if body is not None else None, False))
        dispatch.commit()  # on disk now, not at the end of this turn
        on_disk = spool.healthy
        for marker in durable:
            if not marker.future.done():
                marker.future.set_result(on_disk)

    def _end_safely(self, item: Any, recovered: bool = False) -> None:
        """One finished span (or a flush marker) through build and ordering; a failure is
        counted and logged, never raised into the loop."""
        try:
            if recovered:
                self._end_record(item, recovered=True)
            else:
                self._end(item)
        except Exception:
            self.stats.failed["internal_error"] += 1
            logger.exception("otel_tool_exporter: internal error while processing a span")

    def _end(self, item: Any) -> None:
        kind = type(item)
        if kind is SpanRecord:
            self._end_record(item)
            return
        if kind is FlushMarker:
            self._flushes_reached += 1
            self._flushes.append((next(self._seq), item))
            return
        read = item if kind is OrdinaryEnd else read_end(item, self.builder.may_matter, EXPLICIT_PARENT_KEY)
        if read is None:
            return  # not sampled: not exported
        if type(read) is OrdinaryEnd:
            self.stats.received += 1
            self._link(read.trace_id, read.span_id, read.parent_span_id, read.explicit_parent)
            self._release(
                self.engine.ended(read.trace_id, read.span_id, read.parent_span_id, explicit=read.explicit_parent)
            )
            return
        self._end_record(read)  # type: ignore[arg-type]

    def _end_record(self, span: SpanRecord, *, recovered: bool = False) -> None:
        stats = self.stats
        stats.received += 1
        engine = self.engine
        if engine.is_known_end(span.trace_id, span.span_id):
            return  # the same span handed in twice (two processors): one Log only
        built = self.builder.build(span)
        if isinstance(built, NotLogged):
            if built.dropped is not None:
                stats.tool_spans += 1
                stats.drop(built.dropped)
                if built.detail:
                    self.log_once(f"hook:{built.detail}", "redact hook raised %s: Log dropped", built.detail)
            elif logger.isEnabledFor(logging.DEBUG) and f"unclaimed:{span.name}" not in self._logged_messages:
                hint = self.builder.registry.unclaimed_tool_hint(span)  # once per span name, when asked for
                if hint is not None and len(self._logged_messages) <= 1000:
                    self._logged_messages.add(f"unclaimed:{span.name}")
                    logger.debug("span not logged: %s", hint)
            self._link(span.trace_id, span.span_id, span.parent_span_id, built.explicit_parent)
            self._release(
                engine.ended(
                    span.trace_id,
                    span.span_id,
                    span.parent_span_id,
                    explicit=built.explicit_parent,
                    failure=built.dropped,
                )
            )
            return
        stats.tool_spans += 1
        entry = _Entry(built, row=self._write_ahead(span, built))
        pending = Pending(
            span.trace_id,
            span.span_id,
            span.parent_span_id,
            built.explicit_parent,
            entry,
            next(self._seq),
            engine.now,
            recovered=recovered,
        )
        self._release(engine.submit(pending))

    def _create_early(self, parents: list[LiveParent]) -> None:
        """Live parents: a tool span running past ``live_parent_after`` with children waiting gets
        its Log now, from what its span says so far; its children then nest under it at once."""
        engine = self.engine
        for parent in parents:
            try:
                record = record_from_open(parent.probe)
                draft = self.builder.build_open(record)
            except Exception:
                draft = None
            if draft is None:
                self._release(engine.early_failed(parent.trace_id, parent.span_id))
                continue
            entry = _Entry(draft, row=self._write_ahead(record, draft), early=True)
            pending = Pending(
                parent.trace_id,
                parent.span_id,
                parent.parent,
                parent.explicit or draft.explicit_parent,
                entry,
                next(self._seq),
                engine.now,
            )
            self._release(engine.submit_early(pending))

    def _link(self, trace_id: int, span_id: int, parent: int | None, explicit: str | None) -> None:
        """With a spool, a span that is no Log is remembered on disk as a link in its trace, so
        children that nest through it still do after a restart."""
        if self.spool is not None:
            self.spool.link(
                format_trace_id(trace_id),
                format_span_id(span_id),
                None if parent is None else format_span_id(parent),
                explicit,
            )

    def _write_ahead(self, span: SpanRecord, draft: LogDraft) -> int | None:
        """With a spool, the built Log goes on disk before anything else happens to it (None:
        no spool, or the write failed — said by the spool — and the Log lives in memory)."""
        if self.spool is None:
            return None
        row = self.spool.add(
            span.trace_id_hex,
            span.span_id_hex,
            draft.request.to_json_bytes(),
            parent_span_id=span.parent_span_id_hex,
            version_id=draft.version_id,
            environment=draft.environment,
        )
        assert self.dispatch is not None
        self.dispatch.touch_spool()
        return row

    # ================================================================= order → finalise → deliver
    def _release(self, releases: Sequence[Release]) -> None:
        if not releases:
            return
        dispatch = self.dispatch
        assert dispatch is not None
        max_field_bytes = self.settings.max_field_bytes
        for release in releases:
            item = release.item
            entry: _Entry = item.payload
            if release.unresolved is not None:
                self.stats.unresolved += 1
            if release.update is not None:  # completes the Log created while the span ran
                out = finalise_update(
                    entry.draft,
                    trace_id=item.trace_id,
                    span_id=item.span_id,
                    update=release.update,
                    max_field_bytes=max_field_bytes,
                    seq=item.seq,
                    row=entry.row,
                )
            elif entry.body is not None:  # replayed in its final form
                draft = entry.draft
                out = Outgoing(
                    item.trace_id,
                    item.span_id,
                    entry.body,
                    draft.request.path or "?",
                    draft.version_id,
                    draft.environment,
                    item.seq,
                    entry.row,
                    entry.update,
                )
            else:
                out = finalise(
                    entry.draft,
                    trace_id=item.trace_id,
                    span_id=item.span_id,
                    parent_log_id=release.parent_log_id,
                    unresolved=release.unresolved,
                    skipped=release.skipped,
                    max_field_bytes=max_field_bytes,
                    seq=item.seq,
                    row=entry.row,
                )
                out.early = entry.early
            dispatch.submit(out)

    def _read_outcomes(self) -> None:
        """What delivery finished goes back to ordering, which may release waiting children."""
        dispatch = self.dispatch
        assert dispatch is not None
        outcomes = dispatch.outcomes
        engine = self.engine
        while outcomes:
            log, outcome = outcomes.popleft()
            if isinstance(outcome, Logged):
                self._release(engine.settled(log.trace_id, log.span_id, log_id=outcome.log_id, tool_id=outcome.tool_id))
                continue
            if outcome.reason == UPDATE_UNSUPPORTED and engine.live_parent_after is not None:
                engine.live_parent_after = None  # later parents wait for their end, as without live parents
                logger.warning(
                    "otel_tool_exporter: %s does not update Logs (%s): parents still running are no longer "
                    "created early; the Logs already created early keep what they had when created",
                    self.settings.base_url,
                    outcome.message,
                )
            self._release(engine.settled(log.trace_id, log.span_id, failure=outcome.reason))

    def _expire(self) -> None:
        deadline = self.engine.next_deadline()
        if deadline is not None and deadline <= self._clock():
            self._release(self.engine.expire(self._clock()))

    def _after_turn(self) -> None:
        """Early Logs for parents still running, the waits begun and the traces forgotten this
        turn on disk, and the flushes that are done answered."""
        live = self.engine.take_live_parents()
        if live:
            self._create_early(live)
        evicted = self.engine.take_evicted()
        if evicted and self.spool is not None:
            self.spool.forget_traces([format_trace_id(trace_id) for trace_id in evicted])
        waits = self.engine.take_waits()
        if waits and self.spool is not None:
            assert self.dispatch is not None
            for item, span_id in waits:
                row = item.payload.row
                if row is not None:
                    self.spool.waiting(row, format_span_id(span_id), item.deadline - item.arrived)
            self.dispatch.touch_spool()
        if self._flushes:
            self._answer_flushes()

    def _answer_flushes(self) -> None:
        dispatch = self.dispatch
        assert dispatch is not None
        still: list[tuple[int, FlushMarker]] = []
        for seq, marker in self._flushes:
            if dispatch.idle_before(seq):
                dispatch.commit()
                dispatch.failures.say(self._clock())  # what failed is said before the flush returns
                if not marker.future.done():
                    marker.future.set_result(not dispatch.parked_before(seq))
            else:
                still.append((seq, marker))
        self._flushes = still

    def _arm_timer(self) -> None:
        """One timer for the earliest parent-wait deadline: no polling while idle."""
        deadline = self.engine.next_deadline()
        loop = asyncio.get_running_loop()
        if deadline is None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            return
        if self._timer is not None and not self._timer.cancelled() and self._timer.when() <= deadline + 0.01:
            return
        if self._timer is not None:
            self._timer.cancel()
        wakeup = self._wakeup
        assert wakeup is not None
        delay = max(0.0, deadline - self._clock())
        self._timer = loop.call_at(loop.time() + delay, wakeup.set)

    # ================================================================= restart and shutdown
    def _replay(self) -> None:
        """Requests an earlier run left in the spool: resend the final ones, re-order the rest."""
        spool = self.spool
        if spool is None:
            return
        rows = list(spool.rows())
        if not rows:
            return
        engine = self.engine
        traces = {r.trace_id for r in rows}
        for trace_hex, span_hex, log_id in spool.log_ids(traces):
            self._release(engine.remember_log(int(trace_hex, 16), int(span_hex, 16), log_id))
        for trace_hex, span_hex, parent_hex, explicit in spool.links_for(traces):
            engine.ended(
                int(trace_hex, 16), int(span_hex, 16), int(parent_hex, 16) if parent_hex else None, explicit=explicit
            )
        now = engine.now
        max_wait = self.settings.max_parent_wait
        items = []
        for index, row in enumerate(rows):
            parent = row.waiting_on or row.parent_span_id
            request = (
                ToolLogRequest.model_validate_json(row.body) if row.update is None else ToolLogRequest(path="?")
            )  # a completion's body is an update: sent as it is
            draft = LogDraft(request, row.version_id, row.environment, None)
            # a child that was waiting goes on waiting for what was left of its wait, not anew
            left = max_wait if row.wait_left is None else max(0.0, min(row.wait_left, max_wait))
            items.append(
                Pending(
                    int(row.trace_id, 16),
                    int(row.span_id, 16),
                    int(parent, 16) if parent and not row.ready else None,
                    None,
                    _Entry(draft, row.row, row.body if row.ready else None, row.update),
                    -len(rows) + index,
                    now - (max_wait - left),
                    replayed=True,
                )
            )
        self._release(engine.submit_all(items))
        self._after_turn()
        logger.info("otel_tool_exporter: replaying %d Log requests from the spool", len(rows))

    def _recover_journal(self) -> None:
        """Spans an earlier run had accepted but not built: built now, first, in the order they came.
        Their parents may be among them, later: they wait for them even where span starts are seen."""
        spool = self.spool
        if spool is None:
            return
        found = spool.journaled()
        for row, body in found:
            try:
                self._accepted.append((journal_decode(body), row, True))
            except Exception:
                logger.warning("otel_tool_exporter: an unreadable span in the spool's journal was skipped")
                spool.unjournal([row])
        if found:
            logger.info("otel_tool_exporter: recovering %d accepted spans from the spool", len(found))

    async def close(self, deadline: float) -> None:
        """Shutdown: waiting children go unresolved, requests in flight get until ``deadline``
        (loop time) to finish, the rest is cancelled (kept in the spool when there is one)."""
        self._read_outcomes()
        self._after_turn()
        spool = self.spool
        if spool is not None and spool.healthy:
            # children still waiting stay on disk, with what is left of their wait: after a restart
            # they nest under their parent's Log as soon as it exists
            now = self._clock()
            for item in list(self.engine.waiting_items()):
                row = item.payload.row
                if row is not None and item.waiting_on is not None:
                    spool.waiting(row, format_span_id(item.waiting_on), max(0.0, item.deadline - now))
            unsaved = [r for r in self.engine.release_all(Reason.SHUTDOWN) if r.item.payload.row is None]
            self._release(unsaved)
        else:
            self._release(self.engine.release_all(Reason.SHUTDOWN))
        if self.dispatch is not None:
            await self.dispatch.close(deadline - 0.05)
            self.dispatch.commit()  # the spool itself is closed with the runtime, after the last task
            self.dispatch.failures.say(self._clock(), final=True)

    def log_once(self, key: str, message: str, *args: Any) -> None:
        if key in self._logged_messages or len(self._logged_messages) > 1000:
            return
        self._logged_messages.add(key)
        logger.warning(message, *args)

    # ================================================================= gauges
    def unbuilt(self) -> int:
        """Spans handed in and written to the journal, not built yet (with a spool)."""
        return sum(1 for item, _, _ in list(self._accepted) if type(item) is not FlushMarker)

    def gauges(self) -> dict[str, int]:
        dispatch = self.dispatch
        return {
            "waiting_children": self.engine.waiting,
            "in_flight": len(dispatch.active) if dispatch is not None else 0,
            "parked_in_spool": len(dispatch.parked) if dispatch is not None else 0,
            "tracked_spans": self.engine.tracked_spans,
        }
