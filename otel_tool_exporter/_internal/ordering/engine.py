"""The ordering stage: which Log each tool Log nests under, and when it may be sent.

Humanloop assigns Log ids, so a child can name its parent only after the parent's Log exists, and
OpenTelemetry ends children first. The engine takes events — a span started, a span ended, a tool
Log was submitted, a Log was created or failed, time passed — and answers each with the Logs that
may go now (:class:`Release`: the Log, its parent's Log id or why it has none). A Log that must
wait waits as data, never as a blocked thread, and every wait is bounded.

It calls nothing back and reads no clock of its own: time comes in through :meth:`tick` and
:meth:`expire`. The one function it is given, ``classify_open``, is a pure reading of a span that
is still open (is it a tool? does it name an explicit parent?), applied only when a descendant's
walk reaches that span. It runs on the delivery thread only, so it needs no locks.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from otel_tool_exporter._internal.ordering.ancestry import AncestryStore, Facts, Node, Spans
from otel_tool_exporter._internal.ordering.states import Reason, State
from otel_tool_exporter._internal.spans import format_span_id

__all__ = ["LiveParent", "OrderingEngine", "Pending", "Reason", "Release"]

Classifier = Callable[[Any], "tuple[bool | None, str | None]"]
"""``probe -> (is_tool, explicit_parent)``; ``is_tool`` is None when it cannot tell yet."""


@dataclass(slots=True, eq=False)
class Pending:
    """One tool Log in ordering. ``payload`` belongs to the caller and is handed back untouched."""

    trace_id: int
    span_id: int
    parent: int | None
    explicit: str | None
    payload: Any
    seq: int
    arrived: float
    replayed: bool = False
    recovered: bool = False  # read back from the journal after a restart: its parent may come later
    waiting_on: int | None = None  # the span whose Log it waits for
    deadline: float = 0.0


@dataclass(slots=True, frozen=True)
class LiveParent:
    """A tool span still running whose Log should be created now, so its children can nest
    under it at once (``probe`` is the live span, to build that early Log from)."""

    trace_id: int
    span_id: int
    parent: int | None
    explicit: str | None
    probe: Any


@dataclass(slots=True, frozen=True)
class Release:
    """A Log that may go now: under ``parent_log_id``, or without a parent for ``unresolved``'s
    reason. ``skipped`` names a nearer ancestor that was passed over because its Log failed.
    With ``update``, it completes a Log created early (Update Log) instead of creating one."""

    item: Pending
    parent_log_id: str | None
    unresolved: dict[str, str] | None = None
    skipped: dict[str, str] | None = None
    update: tuple[str, str] | None = None  # (tool id, Log id): complete the Log created early


class OrderingEngine:
    def __init__(
        self,
        *,
        classify_open: Classifier | None = None,
        max_parent_wait: float = 300.0,
        max_pending: int = 10_000,
        trace_ttl: float = 900.0,
        max_tracked_spans: int = 200_000,
        ancestry_from_start: bool = False,
        live_parent_after: float | None = None,
        now: float = 0.0,
    ) -> None:
        self._classify = classify_open
        self.live_parent_after = live_parent_after  # None: children wait for their parent's end
        self.max_parent_wait = max_parent_wait
        self.max_pending = max_pending
        self.ancestry_from_start = ancestry_from_start
        self.store = AncestryStore(max_spans=max_tracked_spans, ttl=trace_ttl)
        self.now = now
        self._waiting = 0
        self._deadlines: list[tuple[float, int, Pending]] = []
        self._out: list[Release] = []
        self._waits: list[tuple[Pending, int]] = []
        self._live_due: list[tuple[float, int, int, int]] = []  # (when, seq, trace, span)
        self._live_seq = 0
        self._live: list[LiveParent] = []

    # ------------------------------------------------------------------ introspection
    @property
    def waiting(self) -> int:
        return self._waiting

    @property
    def tracked_spans(self) -> int:
        return self.store.spans

    @property
    def tracked_traces(self) -> int:
        return self.store.traces

    def next_deadline(self) -> float | None:
        while self._deadlines and self._deadlines[0][2].waiting_on is None:
            heapq.heappop(self._deadlines)
        child = self._deadlines[0][0] if self._deadlines else None
        live = self._live_due[0][0] if self._live_due else None
        if child is None or live is None:
            return child if live is None else live
        return min(child, live)

    def take_live_parents(self) -> list[LiveParent]:
        """Tool spans still running whose Log should be created now (``submit_early``)."""
        live, self._live = self._live, []
        return live

    def waiting_items(self) -> Iterator[Pending]:
        for _, _, item in self._deadlines:
            if item.waiting_on is not None:
                yield item

    def take_waits(self) -> list[tuple[Pending, int]]:
        """The waits begun since the last call: ``(item, span it waits for)``."""
        waits, self._waits = self._waits, []
        return waits

    def take_evicted(self) -> list[int]:
        """The traces forgotten since the last call (to forget them on disk too)."""
        evicted, self.store.evicted = self.store.evicted, []
        return evicted

    def is_known_end(self, trace_id: int, span_id: int) -> bool:
        """True when this span's end was handled already (a duplicate hand-off)."""
        return self.store.has_ended(trace_id, span_id)

    # ------------------------------------------------------------------ time
    def tick(self, now: float) -> None:
        """Time passed: remember it, and keep memory within its bounds."""
        self.now = now
        self.store.evict(now)

    def expire(self, now: float) -> Sequence[Release]:
        """Children whose ``max_parent_wait`` has passed go without their parent."""
        self.now = now
        while self._live_due and self._live_due[0][0] <= now:
            _, _, trace_id, span_id = heapq.heappop(self._live_due)
            spans = self.store.peek(trace_id)
            node = spans.get(span_id) if spans is not None else None
            if isinstance(node, Node) and node.waiters:
                self._ask_early(trace_id, span_id, node)
        while self._deadlines and self._deadlines[0][0] <= now:
            _, _, item = heapq.heappop(self._deadlines)
            if item.waiting_on is not None:
                self._give_up(item, Reason.TIMEOUT)
        return self._flush_out()

    def release_all(self, reason: str = Reason.SHUTDOWN) -> Sequence[Release]:
        """Every waiting child goes now, without its parent (shutdown)."""
        while self._deadlines:
            _, _, item = heapq.heappop(self._deadlines)
            if item.waiting_on is not None:
                self._give_up(item, reason)
        return self._flush_out()

    # ------------------------------------------------------------------ span events
    def started(self, trace_id: int, span_id: int, parent: int | None, probe: Any) -> None:
        """A span started (``probe`` is what ``classify_open`` reads if a descendant asks)."""
        self.store.start(self.store.trace(trace_id, self.now), span_id, parent, probe, self.now)

    def ended(
        self,
        trace_id: int,
        span_id: int,
        parent: int | None,
        *,
        explicit: str | None = None,
        failure: str | None = None,
    ) -> Sequence[Release]:
        """A span ended that will not be logged: not a tool, or dropped (``failure`` says why)."""
        store = self.store
        spans = store.trace(trace_id, self.now)
        if explicit is None and failure is None:
            done = store.end_quietly(spans, span_id, parent)  # the common case, in one step
            if done is not None:
                return ()
        elif failure is None and store.get(spans, span_id) is None:
            fresh = store.node(spans, span_id, parent, State.NONTOOL)
            fresh.explicit = explicit
            store.settle(spans, span_id, fresh)
            return ()
        node = store.node(spans, span_id, parent, State.NONTOOL)
        if node.state.has_ended and failure is None:
            return ()  # a duplicate end
        node.probe = None
        node.parent = parent
        node.explicit = node.explicit or explicit
        node.state = State.FAILED if failure else State.NONTOOL
        node.failure = failure
        self._wake(spans, node)
        store.settle(spans, span_id, node)
        return self._flush_out()

    def submit(self, item: Pending) -> Sequence[Release]:
        """A tool span ended and its Log was built: it goes now, or waits for its parent's Log."""
        store = self.store
        spans = store.trace(item.trace_id, self.now)
        node = store.node(spans, item.span_id, item.parent, State.PENDING)
        node.parent = item.parent
        node.state = State.PENDING
        node.probe = None
        node.explicit = item.explicit or node.explicit
        store.busier(item.trace_id, 1)
        if node.early is not None:  # its Log exists already: complete it
            node.state, node.log_id = State.LOGGED, node.early
            assert node.early_tool is not None
            self._out.append(Release(item, None, update=(node.early_tool, node.early)))
            self._wake(spans, node)
            return self._flush_out()
        if node.early_pending and node.completion is None:
            node.completion = item  # its early Log is still being created: complete it then
            return self._flush_out()
        if item.replayed and item.parent is None:
            self._release(item, None, None)  # its trace_parent_id was settled before a restart
        else:
            self._resolve(spans, item)
        return self._flush_out()

    def submit_early(self, item: Pending) -> Sequence[Release]:
        """The early Log of a tool span still running (built from a :class:`LiveParent`): it
        nests like any Log; once created, the span's children nest under it at once."""
        self.store.busier(item.trace_id, 1)
        self._resolve(self.store.trace(item.trace_id, self.now), item)
        return self._flush_out()

    def early_failed(self, trace_id: int, span_id: int) -> Sequence[Release]:
        """No early Log after all (it could not be built): its children wait for the span's end."""
        spans = self.store.peek(trace_id)
        node = spans.get(span_id) if spans is not None else None
        if isinstance(node, Node):
            node.early_failed = True
            if node.completion is not None:
                completion, node.completion = node.completion, None
                self._resolve(spans, completion)  # type: ignore[arg-type]
        return self._flush_out()

    def submit_all(self, items: list[Pending]) -> Sequence[Release]:
        """Several Logs at once (replay): every node is known before any is resolved, so a child
        can wait for a parent that comes later in the list."""
        store = self.store
        for item in items:
            spans = store.trace(item.trace_id, self.now)
            node = store.node(spans, item.span_id, item.parent, State.PENDING)
            node.state = State.PENDING
            store.busier(item.trace_id, 1)
        for item in items:
            if item.replayed and item.parent is None:
                self._release(item, None, None)
            else:
                self._resolve(store.trace(item.trace_id, self.now), item)
        return self._flush_out()

    def settled(
        self,
        trace_id: int,
        span_id: int,
        *,
        log_id: str | None = None,
        tool_id: str | None = None,
        failure: str | None = None,
    ) -> Sequence[Release]:
        """A submitted Log was created (``log_id``, of Tool ``tool_id``) or failed for good."""
        store = self.store
        spans = store.peek(trace_id)
        if spans is None:
            return ()
        store.busier(trace_id, -1)
        if spans.get(span_id) is None:
            return ()
        node = store.node(spans, span_id, None, State.PENDING)
        if node.early_pending:  # the answer to the early Log
            if log_id is not None:
                node.early, node.early_tool = log_id, tool_id or ""
                self._wake(spans, node)  # children nest under the running parent now
                if node.completion is not None:  # the span ended meanwhile: complete the Log
                    completion, node.completion = node.completion, None
                    node.state, node.log_id = State.LOGGED, log_id
                    self._out.append(Release(completion, None, update=(node.early_tool, log_id)))
            else:
                return self.early_failed(trace_id, span_id)
            return self._flush_out()
        if node.early is not None and node.state == State.LOGGED:
            store.settle(spans, span_id, node)  # a completion's answer: the Log was there all along
            return ()
        if log_id is not None:
            node.state, node.log_id = State.LOGGED, log_id
        else:
            node.state, node.failure = State.FAILED, failure or "failed"
        self._wake(spans, node)
        store.settle(spans, span_id, node)
        return self._flush_out()

    def remember_log(self, trace_id: int, span_id: int, log_id: str) -> Sequence[Release]:
        """A Log created earlier (before a restart, from the spool)."""
        spans = self.store.trace(trace_id, self.now)
        node = self.store.node(spans, span_id, None, State.LOGGED)
        node.state, node.log_id = State.LOGGED, log_id
        self._wake(spans, node)
        self.store.settle(spans, span_id, node)
        return self._flush_out()

    # ------------------------------------------------------------------ resolution
    def _resolve(self, spans: Spans, item: Pending) -> None:
        """Walk up from the item's parent to the nearest span that is or will be logged."""
        own = spans.get(item.span_id)
        if type(own) is Node and own.explicit:
            self._release(item, own.explicit, None)
            return
        store = self.store
        current = item.parent
        failed: dict[str, str] | None = None
        steps = 0
        while current is not None and steps < 10_000:
            steps += 1
            found = store.get(spans, current)
            if found is None:
                if item.replayed and self.ancestry_from_start:
                    # the process that saw this span start is gone: its end will never come
                    failed = {"span_id": format_span_id(current), "reason": Reason.RESTART}
                    break
                if self.ancestry_from_start and not item.replayed and not item.recovered:
                    break  # started before we were attached, or remote: nothing to wait for
                # not seen yet (finished spans arrive in any order), or seen only by the process
                # before a restart: it may still come, for the rest of the child's wait
                found = store.node(spans, current, None, State.UNSEEN)
            if type(found) is Node:
                if found.state == State.LAZY:
                    self._judge(found)
                if found.early is not None:  # a running parent whose Log was created early
                    self._release(item, found.early, failed)
                    return
                if found.state.is_waitable:
                    self._wait(found, current, item)
                    return
                facts = Facts(found.parent, found.state, found.log_id, found.explicit, found.failure)
            else:
                facts = found  # type: ignore[assignment]
            if facts.state == State.LOGGED:
                self._release(item, facts.log_id, failed)
                return
            if facts.state == State.FAILED and failed is None:
                failed = {
                    "span_id": format_span_id(current),
                    "reason": Reason.PARENT_FAILED,
                    "detail": facts.failure or "",
                }
            if facts.explicit:
                self._release(item, facts.explicit, failed)
                return
            current = facts.parent
        self._release(item, None, failed)

    def _judge(self, node: Node) -> None:
        """Classify a lazily started span from its live state, as it is now."""
        probe = node.probe
        is_tool: bool | None = False
        explicit: str | None = None
        if self._classify is not None and probe is not None:
            try:
                is_tool, explicit = self._classify(probe)
            except Exception:
                is_tool, explicit = False, None
        node.state = State.OPEN_TOOL if is_tool else State.OPEN_UNKNOWN if is_tool is None else State.OPEN_OTHER
        node.explicit = node.explicit or explicit
        if node.state != State.OPEN_TOOL:
            node.probe = None  # kept only where an early Log may be built from it

    def _wait(self, node: Node, span_id: int, item: Pending) -> None:
        if item.waiting_on is None and item.deadline == 0.0:
            if self._waiting >= self.max_pending:
                self._release(item, None, {"span_id": format_span_id(span_id), "reason": Reason.PENDING_FULL})
                return
            item.deadline = item.arrived + self.max_parent_wait
        if node.waiters is None:
            node.waiters = []
        node.waiters.append(item)
        if item.waiting_on is None:
            self._waiting += 1
            heapq.heappush(self._deadlines, (item.deadline, item.seq, item))
        item.waiting_on = span_id
        self._waits.append((item, span_id))
        if self.live_parent_after is not None and node.state == State.OPEN_TOOL and not node.early_asked:
            due = node.opened + self.live_parent_after
            if due <= self.now:
                self._ask_early(item.trace_id, span_id, node)
            else:
                self._live_seq += 1
                heapq.heappush(self._live_due, (due, self._live_seq, item.trace_id, span_id))

    def _ask_early(self, trace_id: int, span_id: int, node: Node) -> None:
        if node.early_asked or node.state != State.OPEN_TOOL or node.probe is None:
            return
        node.early_asked = True
        self._live.append(LiveParent(trace_id, span_id, node.parent, node.explicit, node.probe))

    def _wake(self, spans: Spans, node: Node) -> None:
        if not node.waiters:
            return
        waiters, node.waiters = node.waiters, None
        for item in waiters:
            if item.waiting_on is not None:
                self._resolve(spans, item)

    def _release(self, item: Pending, parent_log_id: str | None, unresolved: dict[str, str] | None) -> None:
        if item.waiting_on is not None:
            item.waiting_on = None
            self._waiting -= 1
        if parent_log_id is not None and unresolved is not None:
            # nested under a further ancestor: say which nearer one was skipped
            self._out.append(Release(item, parent_log_id, None, unresolved))
        else:
            self._out.append(Release(item, parent_log_id, unresolved))

    def _give_up(self, item: Pending, reason: str) -> None:
        span_id = item.waiting_on
        if span_id is None:
            return
        spans = self.store.peek(item.trace_id)
        node = spans.get(span_id) if spans is not None else None
        if type(node) is Node and node.waiters:
            try:
                node.waiters.remove(item)
            except ValueError:
                pass
        self._release(item, None, {"span_id": format_span_id(span_id), "reason": reason})

    def _flush_out(self) -> Sequence[Release]:
        out = self._out
        if not out:
            return ()  # no allocation on the common path
        self._out = []
        return out
