"""The pipeline behind every entry point: receive → recognise → map → order → deliver.

The application's threads only ever append to a bounded deque (no I/O, no lock shared with the
network, no exception). One background thread runs an asyncio loop that drains the deque,
recognises and maps tool spans, resolves nesting and sends Logs concurrently.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import itertools
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

from otel_tool_exporter._internal.build.conventions import ConventionRegistry
from otel_tool_exporter._internal.build.mapping import EXPLICIT_PARENT_KEY, map_recognised
from otel_tool_exporter._internal.build.redaction import RedactHook, Redactor, apply_hook
from otel_tool_exporter._internal.build.schemas import SchemaMemory
from otel_tool_exporter._internal.delivery.client import HumanloopClient
from otel_tool_exporter._internal.delivery.limiter import AdaptiveLimiter
from otel_tool_exporter._internal.delivery.retry import RetryPolicy
from otel_tool_exporter._internal.delivery.sender import Sender
from otel_tool_exporter._internal.delivery.spool import Spool
from otel_tool_exporter._internal.delivery.transports import Transport, transport_for
from otel_tool_exporter._internal.exitsafe import ExitSafeExecutor
from otel_tool_exporter._internal.metrics import PipelineMetrics
from otel_tool_exporter._internal.ordering import Job, OrderingEngine, Reason
from otel_tool_exporter._internal.spans import SpanRecord, fast_attributes
from otel_tool_exporter._internal.stats import Stats
from otel_tool_exporter.settings import Settings

__all__ = ["Pipeline"]

logger = logging.getLogger("otel_tool_exporter")

_FORK_LEFTOVERS: list[Any] = []

# After the queue runs dry the worker stays awake this long before it sleeps on its event: spans
# that arrive meanwhile need no cross-thread wake-up (a syscall on the application's thread, and
# a loop iteration here, per span). One timer per burst, none while idle.
LINGER_SECONDS = 0.005

# Spans handled between two turns of the event loop: small enough that answers are read and new
# requests written every millisecond while a large queue is worked through (bench_throughput at
# 0 ms: 256 → 4.0k Logs/s, 64 → 4.9k, 32 → 5.1k, 16 → 6.3k, 8 → 6.0k, 4 → 5.7k).
BATCH = 16
IDLE_BATCH = 256  # with no request out there is nothing to interleave: fewer turns, fewer syscalls

# Yielding to a burst. Mapping and sending a tool Log costs ~0.1 ms here, far more than the span
# cost the application; done while the application is making spans, it competes with it for the
# GIL (bench_hot_path: a burst of tool spans cost the app thread 1.12-1.27x BatchSpanProcessor's
# CPU, and 2x its wall time). So while spans pour in (a burst: DEFER_MIN_ARRIVALS or more during
# one DEFER_STEP_SECONDS step) the worker does only the cheap part every step (span starts,
# ordinary span ends, which frees their memory at once) and puts the tool spans aside, for at most
# DEFER_MAX_SECONDS per busy period and while fewer than DEFER_MAX_SPANS are waiting. A quiet
# step, a flush or shutdown ends it at once. The price: the Logs of a burst leave up to
# DEFER_MAX_SECONDS later. Order is kept where it matters: the spans put aside are handled in
# their order, before anything that came after them.
DEFER_STEP_SECONDS = 0.002
DEFER_MAX_SECONDS = 0.05
DEFER_MAX_SPANS = 4096
DEFER_MIN_ARRIVALS = 16  # spans handed in during one step that make it a burst (8k spans/s)


class _Flush:
    __slots__ = ("future", "ticket")

    def __init__(self, ticket: int) -> None:
        self.future: concurrent.futures.Future[bool] = concurrent.futures.Future()
        self.ticket = ticket


class Pipeline:
    """Owns the queue, the delivery thread and every stage after the edge."""

    def __init__(
        self,
        settings: Settings,
        *,
        registry: ConventionRegistry | None = None,
        redact: RedactHook | None = None,
        transport_factory: Callable[[], Transport] | None = None,
        ancestry_from_start: bool = False,
    ) -> None:
        self.settings = settings
        self.registry = registry or ConventionRegistry()
        self.redactor = Redactor(settings.redact_keys)
        self.redact_hook = redact
        self.schemas = SchemaMemory()
        self.stats = Stats()
        self._transport_factory = lambda: transport_for(settings, transport_factory)
        self.ancestry_from_start = ancestry_from_start
        self._queue: deque[Any] = deque()  # finished spans (and flush markers), in hand-off order
        self._starts: deque[Any] = deque()  # started SDK spans (ToolSpanProcessor.on_start)
        self._held: deque[Any] = deque()  # put aside during a burst, handled before the queue
        self._queue_cap = 2 * settings.max_queue  # room for a start and an end per span
        self._seq = itertools.count(1)
        self._lock = threading.Lock()  # guards start/stop of the thread only
        self._reset_runtime()
        self._closed = False
        self._logged_messages: set[str] = set()
        self.metrics = PipelineMetrics.create(self)
        if settings.spool_dir:
            self.start()  # replay what an earlier run left in the spool, even if no span comes
        atexit.register(_atexit_flush, weakref.ref(self))
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_weak_call(self, Pipeline._after_fork_in_child))

    def _reset_runtime(self) -> None:
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._idle = True  # the worker sleeps (or does not exist yet): a hand-off must wake it
        # flushes asked for and reached by the worker: while one waits, it does not yield to a burst
        self._flush_tickets = itertools.count(1)
        self._flush_asked = 0
        self._flush_reached = 0
        self.sender: Sender | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._pid = os.getpid()
        self.engine = OrderingEngine(
            self._on_ready,
            on_wait=self._on_wait,
            max_parent_wait=self.settings.max_parent_wait,
            max_pending=self.settings.max_pending,
            trace_ttl=self.settings.trace_ttl,
            max_tracked_spans=self.settings.max_tracked_spans,
            ancestry_from_start=getattr(self, "ancestry_from_start", False),
            classify=self._classify_open,
        )
        self.client: HumanloopClient | None = None

    def enable_start_ancestry(self) -> None:
        """Called by ``ToolSpanProcessor``: ancestry now comes from ``on_start`` (SPEC §4)."""
        self.ancestry_from_start = True
        self.engine.ancestry_from_start = True

    def _after_fork_in_child(self) -> None:
        """A forked child gets a fresh thread, loop and client; the parent's queue is not ours."""
        self._queue.clear()
        self._starts.clear()
        self._held.clear()
        self._lock = threading.Lock()
        self.stats = Stats()  # counts describe this process's work, not the parent's
        # Keep the parent's loop, client and spool objects alive, untouched: finalising them here
        # would close or unregister descriptors the child shares with the parent (the epoll
        # instance above all), silently breaking the parent's delivery thread.
        _FORK_LEFTOVERS.append((self._loop, self.sender, self.client))
        self._reset_runtime()

    # ================================================================= app-thread side
    def submit_start(self, span: Any) -> None:
        """``on_start`` hand-off: O(1), no I/O, never raises. (``ToolSpanProcessor`` inlines it.)"""
        starts = self._starts
        if len(starts) < self._queue_cap and not self._closed:
            starts.append(span)  # ancestry is best effort under overload; the end hand-off counts
            if self._idle:
                self._notify()

    def submit(self, span: Any) -> None:
        """``on_end``/``export`` hand-off of one finished span (SDK span or ``SpanRecord``)."""
        if self._closed:
            self.stats.drop("after_shutdown")
            return
        queue = self._queue
        if len(queue) >= self._queue_cap:
            self.stats.drop("queue_full")
            self._log_once("queue_full", "queue full (max_queue=%d): dropping spans", self.settings.max_queue)
            return
        queue.append(span)
        if self._idle:
            self._notify()

    def has_room(self, n: int = 1) -> bool:
        """Whether ``n`` more spans fit in the queue now (the sidecar answers 503 when not)."""
        return len(self._queue) + n <= self._queue_cap

    def _notify(self) -> None:
        try:
            if self._thread is None or self._pid != os.getpid():
                self._start()
            loop, wake = self._loop, self._wake
            if loop is not None and wake is not None and self._idle:
                self._idle = False
                loop.call_soon_threadsafe(wake.set)
        except Exception:
            logger.exception("otel_tool_exporter: cannot wake the delivery thread")

    def start(self) -> None:
        """Start the delivery thread now (it otherwise starts with the first span)."""
        self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None and self._pid == os.getpid():
                return
            if self._pid != os.getpid():
                self._reset_runtime()
            ready = threading.Event()
            thread = threading.Thread(target=self._run_thread, args=(ready,), name="otel-tool-exporter", daemon=True)
            self._thread = thread
            thread.start()
            ready.wait(5.0)

    # ================================================================= public control
    def force_flush(self, timeout: float) -> bool:
        """True when every span handed in before the call is delivered or finally handled."""
        if self._thread is None:
            return not self._queue
        marker = _Flush(next(self._flush_tickets))
        self._flush_asked = marker.ticket
        self._queue.append(marker)
        self._idle = True  # force a wake-up even if the worker is busy
        self._notify()
        try:
            return marker.future.result(timeout=max(0.0, timeout))
        except concurrent.futures.TimeoutError:
            return False

    def shutdown(self, timeout: float) -> bool:
        """Flush, send waiting children unresolved, close. Returns by ``timeout``."""
        if self._closed:
            return True
        deadline = time.monotonic() + timeout
        flushed = self.force_flush(max(0.0, timeout * 0.8))
        self._closed = True
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or self._pid != os.getpid():
            return flushed
        try:
            fut = asyncio.run_coroutine_threadsafe(self._final_drain(deadline), loop)
            fut.result(timeout=max(0.1, deadline - time.monotonic()))
        except Exception:
            pass
        try:
            loop.call_soon_threadsafe(loop.stop)
        except RuntimeError:
            pass
        thread.join(max(0.1, deadline - time.monotonic()))
        return flushed

    def snapshot(self) -> dict[str, Any]:
        sender = self.sender
        limiter = self.client.limiter if self.client is not None else None
        return self.stats.snapshot(
            queue_depth=len(self._queue) + len(self._held),
            waiting_children=self.engine.waiting,
            in_flight=len(sender.active) if sender is not None else 0,
            parked_in_spool=len(sender.parked) if sender is not None else 0,
            tracked_spans=self.engine.tracked_spans,
            concurrency_limit=limiter.limit if limiter is not None else self.settings.max_concurrency,
        )

    # ================================================================= delivery thread
    def _run_thread(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        loop.set_default_executor(ExitSafeExecutor(max_workers=4, thread_name_prefix="otel-tool-exporter-io"))
        asyncio.set_event_loop(loop)
        self._loop = loop
        self._wake = asyncio.Event()
        settings = self.settings
        self.client = HumanloopClient(
            api_key=settings.api_key_value,
            base_url=settings.base_url,
            transport=self._transport_factory(),
            policy=RetryPolicy(max_elapsed=settings.max_elapsed, max_retry_after=settings.max_retry_after),
            limiter=AdaptiveLimiter(settings.max_concurrency),
            extra_headers=settings.headers,
            on_retry=self._count_retry,
            on_response=self.metrics.record_request if self.metrics is not None else None,
        )
        spool = None
        if settings.spool_dir:
            try:
                spool = Spool(settings.spool_dir, logmap_ttl=max(settings.trace_ttl, 7 * 24 * 3600))
            except Exception:
                logger.exception(
                    "otel_tool_exporter: cannot open the spool in %s; continuing without it", settings.spool_dir
                )
        self.sender = Sender(
            settings,
            self.client,
            self.engine,
            self.stats,
            spool=spool,
            log_once=self._log_once,
            on_idle=self._arm_timer,
        )
        main = loop.create_task(self._drain_forever())
        ready.set()
        try:
            loop.run_forever()
        finally:
            main.cancel()
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            try:
                loop.run_until_complete(self.client.transport.aclose())
            except Exception:
                pass
            if spool is not None:
                spool.close()
            loop.close()

    def _count_retry(self, reason: str) -> None:
        self.stats.retries += 1

    async def _drain_forever(self) -> None:
        queue = self._queue
        wake = self._wake
        sender = self.sender
        assert wake is not None and sender is not None
        try:
            sender.replay()
        except Exception:
            logger.exception("otel_tool_exporter: replaying the spool failed")
        starts = self._starts
        held = self._held
        lingered = False
        defer_left = DEFER_MAX_SECONDS
        while True:
            if not queue and not starts and not held:
                if not lingered:
                    lingered = True
                    defer_left = DEFER_MAX_SECONDS  # the busy period is over
                    await asyncio.sleep(LINGER_SECONDS)
                    continue
                lingered = False
                self._idle = True
                if queue or starts:  # re-check after publishing 'idle' (see submit)
                    self._idle = False
                    continue
                await wake.wait()
                wake.clear()
                continue
            lingered = False
            if defer_left > 0.0:
                if self._closed or self._flush_asked > self._flush_reached or len(held) >= DEFER_MAX_SPANS:
                    defer_left = 0.0
                else:
                    self.engine.tick()
                    self._take_ends(DEFER_MAX_SPANS, held)
                    self.engine.tick()
                    await asyncio.sleep(DEFER_STEP_SECONDS)
                    # a burst keeps the worker out of the way; a quiet step ends the yielding
                    if len(queue) >= DEFER_MIN_ARRIVALS:
                        defer_left -= DEFER_STEP_SECONDS
                    else:
                        defer_left = 0.0
                    continue
            self.engine.tick()
            if sender.backlog_full:
                await sender.wait_for_room()  # send what is mapped before mapping more
            # short turns only while requests are out (their answers want reading); else long ones
            turn = BATCH if sender.active else IDLE_BATCH
            if held:  # what a burst put aside comes before everything handed in after it
                for _ in range(min(len(held), turn)):
                    self._handle(held.popleft())
            else:
                self._take_ends(turn)
            self.engine.tick()
            self._arm_timer()
            await asyncio.sleep(0)

    def _take_ends(self, limit: int, held: deque[Any] | None = None) -> None:
        """Handle up to ``limit`` queued ends (see :meth:`_handle` for ``held``).

        Ends are counted first, starts drained second: every end among those counted was handed
        in after its span's (and all its ancestors') start, so the engine has seen them all."""
        queue = self._queue
        ends = min(len(queue), limit)
        starts = self._starts
        handle_start = self._handle_start
        while starts:
            try:
                handle_start(starts.popleft())
            except Exception:
                logger.exception("otel_tool_exporter: internal error while recording a span start")
        for _ in range(ends):
            self._handle(queue.popleft(), held)

    def _handle(self, item: Any, held: deque[Any] | None = None) -> None:
        """One item from the queue. With ``held`` (during a burst) only the cheap part is done
        now: anything that may need mapping, and a flush marker, is appended to it instead."""
        try:
            self._handle_item(item, held)
        except Exception:
            self.stats.failed["internal_error"] += 1
            logger.exception("otel_tool_exporter: internal error while processing a span")

    def _handle_item(self, item: Any, held: deque[Any] | None) -> None:
        if type(item) is SpanRecord:
            if held is not None:
                held.append(item)
                return
            self._handle_end(item)
        elif type(item) is _Flush:
            if held is not None:
                held.append(item)
                return
            self._flush_reached = max(self._flush_reached, item.ticket)
            asyncio.get_running_loop().create_task(self._flush(item))
        else:
            ctx = item.get_span_context()
            if not ctx.trace_flags.sampled:  # unsampled (record-only) spans are not exported
                return
            attrs = _attributes_of(item)
            if self.registry.may_claim(item.name, attrs) or self.schemas.wants(attrs):
                if held is not None:
                    held.append(item)
                    return
                self._handle_end(SpanRecord.from_readable(item))
                return
            # an ordinary span (no convention, no tool definitions): only its place in the tree
            # matters, so skip building a SpanRecord for it
            self.stats.received += 1
            parent = item.parent
            explicit = attrs.get(EXPLICIT_PARENT_KEY)
            self.engine.ended_plain(
                ctx.trace_id,
                ctx.span_id,
                parent.span_id if parent is not None else None,
                explicit=str(explicit) if explicit else None,
            )

    def _handle_start(self, span: Any) -> None:
        ctx = span.get_span_context()
        if ctx.trace_flags.sampled:
            parent = span.parent
            self.engine.started_lazy(ctx.trace_id, ctx.span_id, parent.span_id if parent is not None else None, span)

    def _classify_open(self, span: Any) -> tuple[bool | None, str | None]:
        """What a still-open ancestor is, judged when a descendant first needs to know: a tool
        (its Log is awaited), unknown (no attributes yet: it may still become one, so awaited
        too), or an ordinary span (skipped); and its explicit ``trace_parent_id``, if any."""
        attrs = _attributes_of(span)
        explicit = attrs.get(EXPLICIT_PARENT_KEY)
        is_tool = True if self.registry.looks_like_tool(span.name, attrs) else (False if attrs else None)
        return is_tool, str(explicit) if explicit else None

    def _handle_end(self, span: SpanRecord) -> None:
        stats = self.stats
        stats.received += 1
        engine = self.engine
        if engine.is_known_end(span.trace_id, span.span_id):
            return  # the same span handed in twice (two processors): one Log only
        call = self.registry.recognise(span)
        if call is None:
            if self.schemas.wants(span.attributes):
                self.schemas.learn(span)
            explicit = span.attributes.get(EXPLICIT_PARENT_KEY)
            engine.ended_not_logged(span, explicit=str(explicit) if explicit else None)
            return
        stats.tool_spans += 1
        mapped = map_recognised(span, call, self.settings, self.schemas)
        self.redactor.apply(mapped.request)
        if self.redact_hook is not None:
            try:
                result = apply_hook(self.redact_hook, mapped.request)
            except Exception as exc:
                stats.drop("redact_hook_error")
                self._log_once(f"hook:{type(exc).__name__}", "redact hook raised %s: Log dropped", type(exc).__name__)
                engine.ended_not_logged(span, failure="redact_hook_error")
                return
            if result is None:
                stats.drop("redacted")
                engine.ended_not_logged(span, failure="redacted")
                return
            mapped.request = result
        job = Job(span=span, mapped=mapped, seq=next(self._seq), arrived=time.monotonic())
        assert self.sender is not None
        self.sender.admit(job)
        engine.submit(job)

    # ---------------------------------------------------------------- ordering → sending
    def _on_wait(self, job: Job, span_id: int) -> None:
        if self.sender is not None:
            self.sender.waiting(job, span_id)

    def _on_ready(self, job: Job, parent_log_id: str | None, unresolved: dict[str, str] | None) -> None:
        request = job.mapped.request
        if job.body is None:
            if parent_log_id is not None:
                request.trace_parent_id = parent_log_id
            otel = request.metadata.get("otel") if isinstance(request.metadata, dict) else None
            if isinstance(otel, dict):
                if unresolved is not None:
                    otel["unresolved_parent"] = unresolved
                if job.skipped is not None:
                    otel["skipped_parent"] = job.skipped
        if unresolved is not None:
            self.stats.unresolved += 1
        assert self.sender is not None
        self.sender.ready(job)

    # ---------------------------------------------------------------- timers & flushing
    def _arm_timer(self) -> None:
        """One timer for the earliest parent-wait deadline: no polling loop while idle."""
        deadline = self.engine.next_deadline()
        loop = self._loop
        if loop is None:
            return
        if deadline is None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            return
        if self._timer is not None and self._timer.when() <= deadline + 0.01 and not self._timer.cancelled():
            return
        if self._timer is not None:
            self._timer.cancel()
        delay = max(0.0, deadline - time.monotonic())
        self._timer = loop.call_at(loop.time() + delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.engine.expire()
        self._arm_timer()

    async def _flush(self, marker: _Flush) -> None:
        """Wait for every job created before this marker (and the children they release)."""
        generation = next(self._seq)
        sender = self.sender
        assert sender is not None
        while True:
            tasks = [job.task for job in sender.active if job.seq < generation and job.task is not None]
            if not tasks:
                break
            await asyncio.wait(tasks)
            await asyncio.sleep(0)
        if sender.spool is not None:
            sender.spool.commit()
        if not marker.future.done():
            marker.future.set_result(not any(job.seq < generation for job in sender.parked))

    async def _final_drain(self, deadline: float) -> None:
        sender = self.sender
        if sender is None:
            return
        self.engine.release_all(Reason.SHUTDOWN)
        tasks = [job.task for job in sender.active if job.task is not None]
        remaining = deadline - time.monotonic() - 0.05
        if tasks and remaining > 0:
            await asyncio.wait(tasks, timeout=remaining)
        sender.closing = True
        for job in list(sender.active):
            if job.task is not None and not job.task.done():
                job.task.cancel()
        await asyncio.sleep(0)

    def _log_once(self, key: str, message: str, *args: Any) -> None:
        if key in self._logged_messages or len(self._logged_messages) > 1000:
            return
        self._logged_messages.add(key)
        logger.warning(message, *args)


def _attributes_of(span: Any) -> Any:
    """A span's attributes for C-speed look-ups (``or`` would call the SDK's Python ``__len__``)."""
    attributes = getattr(span, "_attributes", None)
    return fast_attributes(span.attributes if attributes is None else attributes)


def _atexit_flush(ref: weakref.ReferenceType[Pipeline]) -> None:
    """Short scripts exit right after their last span: deliver what was handed in.

    Only a flush, not a shutdown: handlers run last-registered-first, so a TracerProvider made
    before the exporter shuts down after this, and its BatchSpanProcessor's final export must
    still find the pipeline open (its ``exporter.shutdown()`` then closes it)."""
    pipeline = ref()
    if pipeline is not None and not pipeline._closed and pipeline._pid == os.getpid():
        pipeline.force_flush(timeout=min(10.0, pipeline.settings.timeout))


def _weak_call(obj: Any, method: Callable[[Any], None]) -> Callable[[], None]:
    ref = weakref.ref(obj)

    def call() -> None:
        target = ref()
        if target is not None:
            method(target)

    return call
