"""What a ``ToolLogExporter`` owns: the inbox, the stages, and the delivery thread that runs them.

This object only assembles the parts and answers the exporter's calls (hand-offs go to the
inbox, ``force_flush``/``shutdown`` to the loop); the stages and the loop that moves data between
them live in their own modules (see ``loop.py``).
"""

from __future__ import annotations

import atexit
import concurrent.futures
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from otel_tool_exporter._internal.build.builder import Builder
from otel_tool_exporter._internal.build.conventions import ConventionRegistry
from otel_tool_exporter._internal.build.redaction import RedactHook
from otel_tool_exporter._internal.delivery.concurrency import ConcurrencyLayer
from otel_tool_exporter._internal.delivery.limiter import AdaptiveLimiter
from otel_tool_exporter._internal.delivery.outcomes import Retry, Sender
from otel_tool_exporter._internal.delivery.push import HttpPush
from otel_tool_exporter._internal.delivery.reach import Reachability
from otel_tool_exporter._internal.delivery.retry import RetryLayer, RetryPolicy
from otel_tool_exporter._internal.delivery.shrink import ShrinkOn413
from otel_tool_exporter._internal.delivery.spool import Spool
from otel_tool_exporter._internal.delivery.spool import reason as spool_reason
from otel_tool_exporter._internal.delivery.transports import Transport, transport_for
from otel_tool_exporter._internal.inbox import FlushMarker, Inbox
from otel_tool_exporter._internal.loop import DeliveryLoop
from otel_tool_exporter._internal.metrics import PipelineMetrics
from otel_tool_exporter._internal.runtime import Runtime
from otel_tool_exporter._internal.stats import Stats
from otel_tool_exporter.settings import Settings, env_name

__all__ = ["Pipeline", "pipeline_of"]

_FORK_LEFTOVERS: list[Any] = []

# Seconds a process may spend at exit delivering what is left, in all: flushes and shutdown share it.
EXIT_BUDGET = 10.0

logger = logging.getLogger("otel_tool_exporter")


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        *,
        registry: ConventionRegistry | None = None,
        redact: RedactHook | None = None,
        transport_factory: Callable[[], Transport] | None = None,
    ) -> None:
        self.settings = settings
        self.stats = Stats()
        self.inbox = Inbox(settings.max_queue, self.stats)
        self.builder = Builder(settings, registry, redact)
        self.ancestry_from_start = False
        self._transport_factory = lambda: transport_for(settings, transport_factory)
        self._closed = False
        self._exit_deadline: float | None = None
        self._reported = False
        self.metrics = PipelineMetrics.create(self)
        self._assemble()
        if settings.spool_dir:
            self.runtime.start()  # replay what an earlier run left in the spool, even if no span comes
        atexit.register(_atexit_flush, weakref.ref(self))
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_weak_call(self, Pipeline._after_fork_in_child))

    @property
    def registry(self) -> ConventionRegistry:
        return self.builder.registry

    def _assemble(self) -> None:
        """A fresh loop, sender chain and delivery thread (at construction, and in a forked child)."""
        settings = self.settings
        self.limiter = AdaptiveLimiter(settings.max_concurrency)
        self.reach = Reachability(settings.base_url)
        self.push = HttpPush(
            self._transport_factory(),
            base_url=settings.base_url,
            api_key=settings.api_key_value,
            headers=settings.headers,
            observe=self.metrics.record_request if self.metrics is not None else None,
            reach=self.reach,
        )
        sender: Sender = RetryLayer(
            ShrinkOn413(ConcurrencyLayer(self.push, self.limiter), settings.max_field_bytes),
            RetryPolicy(max_elapsed=settings.max_elapsed, max_retry_after=settings.max_retry_after),
            on_retry=self._count_retry,
        )
        self.loop = DeliveryLoop(
            settings,
            self.inbox,
            self.builder,
            self.stats,
            sender,
            spool=self._open_spool(),  # on this thread: the banner and stats() know at once
            ancestry_from_start=self.ancestry_from_start,
        )
        self.runtime = Runtime(self.loop.run, self._cleanup)
        self.inbox.wake = self.runtime.wake

    def _open_spool(self) -> Spool | None:
        self._spool_failure: str | None = None
        if not self.settings.spool_dir:
            return None
        try:
            return Spool(self.settings.spool_dir, logmap_ttl=max(self.settings.trace_ttl, 7 * 24 * 3600))
        except Exception as exc:
            self._spool_failure = f"failed: {spool_reason(exc)}"
            logger.warning(
                "otel_tool_exporter: cannot use the spool in %s (%s); going on without it: Logs live in memory only",
                self.settings.spool_dir,
                spool_reason(exc),
            )
            return None

    @property
    def spool_state(self) -> str:
        """``on``, ``off`` or ``failed: <reason>``: whether what is accepted is on disk."""
        if not self.settings.spool_dir:
            return "off"
        spool = self.loop.spool
        if spool is not None:
            return spool.state
        return self._spool_failure or "off"

    async def _cleanup(self) -> None:
        try:
            await self.push.aclose()
        finally:
            spool = self.loop.spool
            if spool is not None:
                spool.close()

    def _count_retry(self, retry: Retry) -> None:
        self.stats.retries += 1

    def enable_start_ancestry(self) -> None:
        """Span starts will be handed in too (``ToolSpanProcessor``): ancestry is known at start."""
        self.ancestry_from_start = True
        self.loop.engine.ancestry_from_start = True

    def _after_fork_in_child(self) -> None:
        """A forked child gets a fresh thread, loop and client; the parent's queue is not ours."""
        self.stats = Stats()  # counts describe this process's work, not the parent's
        self.inbox.reset_after_fork(self.stats)
        # Keep the parent's loop, client and spool objects alive, untouched: finalising them here
        # would close or unregister descriptors the child shares with the parent.
        _FORK_LEFTOVERS.append((self.runtime, self.loop, self.push))
        self._assemble()

    # ================================================================= the exporter's calls
    def force_flush(self, timeout: float) -> bool:
        """True when every span handed in before the call is delivered or finally handled."""
        if not self.runtime.started:
            return not self.inbox.ends
        timeout = self._within_exit_budget(timeout)
        marker: FlushMarker = self.inbox.offer_flush()
        try:
            return self.runtime.wait(marker.future, timeout)
        except concurrent.futures.TimeoutError:
            return False
        except KeyboardInterrupt:
            if not _exiting():
                raise
            self._interrupted_at_exit()
            return False

    def shutdown(self, timeout: float) -> bool:
        """Flush, send waiting children unresolved (or keep them in the spool), close. Returns
        by ``timeout`` — and at interpreter exit within what is left of the exit budget."""
        if self._closed:
            return True
        timeout = self._within_exit_budget(timeout)
        deadline = time.monotonic() + timeout
        flushed = self.force_flush(max(0.0, timeout * 0.8))
        if not flushed:
            self._report_undelivered()
        self._closed = True
        self.inbox.closed = True
        runtime = self.runtime
        if not runtime.started or runtime.pid != os.getpid():
            return flushed
        loop = runtime.loop
        try:
            if loop is not None:
                remaining = deadline - time.monotonic()
                runtime.call(self.loop.close(loop.time() + remaining), max(0.1, remaining))
        except KeyboardInterrupt:
            if not _exiting():
                raise
            self._interrupted_at_exit()
        except Exception:
            pass
        runtime.stop(max(0.1, deadline - time.monotonic()))
        return flushed

    # ================================================================= exit
    def _within_exit_budget(self, timeout: float) -> float:
        """At interpreter exit every flush and shutdown of this pipeline shares one budget
        (``EXIT_BUDGET`` seconds in all, whatever the entry path calls in what order)."""
        if not _exiting():
            return timeout
        now = time.monotonic()
        if self._exit_deadline is None:
            self._exit_deadline = now + EXIT_BUDGET
        return max(0.0, min(timeout, self._exit_deadline - now))

    def _interrupted_at_exit(self) -> None:
        """Ctrl-C during the exit flush: say what was not sent, then wait for nothing more."""
        self._exit_deadline = time.monotonic()
        self._report_undelivered("interrupted")

    def undelivered(self) -> tuple[int, int]:
        """(Logs built but not yet created, spans not yet looked at) — read from outside the
        delivery thread, for the exit report."""
        dispatch = self.loop.dispatch
        logs = self.loop.engine.waiting
        if dispatch is not None:
            logs += len(dispatch.active) + len(dispatch.parked)
        spans = sum(1 for item in list(self.inbox.ends) if not isinstance(item, FlushMarker))
        spans += self.loop.unbuilt()
        return logs, spans

    def _report_undelivered(self, why: str | None = None) -> None:
        """One warning, once: how many Logs were not delivered, why, and where they are now."""
        if self._reported:
            return
        try:
            logs, spans = self.undelivered()
        except Exception:
            return
        if not logs and not spans:
            return
        self._reported = True
        what = f"{logs} Log{'s' if logs != 1 else ''}"
        if spans:
            what += f" and {spans} span{'s' if spans != 1 else ''} not yet processed"
        cause = why or self.reach.why or "the server did not answer in time"
        if self.loop.spool is not None and self.loop.spool.healthy:
            where = f"kept in the spool at {self.settings.spool_dir}; they are sent on the next start"
        else:
            where = f"lost (set {env_name('spool_dir')} to keep them across restarts)"
        logger.warning("otel_tool_exporter: %s not delivered by exit (%s): %s", what, cause, where)

    def snapshot(self) -> dict[str, Any]:
        return self.stats.snapshot(
            queue_depth=len(self.inbox.ends) + self.loop.unbuilt(),  # handed in, not built yet
            **self.loop.gauges(),
            concurrency_limit=self.limiter.limit,
            spool=self.spool_state,
        )


def pipeline_of(exporter: Any) -> Pipeline:
    """The pipeline behind a ``ToolLogExporter`` (for the processor and the sidecar)."""
    pipeline: Pipeline = exporter._pipeline
    return pipeline


def _exiting() -> bool:
    """The interpreter is exiting (atexit handlers run after the main thread has finished)."""
    return not threading.main_thread().is_alive()


def _atexit_flush(ref: weakref.ReferenceType[Pipeline]) -> None:
    """Short scripts exit right after their last span: deliver what was handed in, within the
    exit budget, and say what could not be.

    Only a flush, not a shutdown: handlers run last-registered-first, so a TracerProvider made
    before the exporter shuts down after this, and its BatchSpanProcessor's final export must
    still find the pipeline open (its ``exporter.shutdown()`` then closes it)."""
    pipeline = ref()
    if pipeline is not None and not pipeline._closed and pipeline.runtime.pid == os.getpid():
        try:
            if not pipeline.force_flush(timeout=EXIT_BUDGET):
                pipeline._report_undelivered()
        except KeyboardInterrupt:
            pipeline._interrupted_at_exit()


def _weak_call(obj: Any, method: Callable[[Any], None]) -> Callable[[], None]:
    ref = weakref.ref(obj)

    def call() -> None:
        target = ref()
        if target is not None:
            method(target)

    return call
