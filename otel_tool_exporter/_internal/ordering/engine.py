"""The ordering stage (SPEC §4): which Log each tool Log nests under, and when it may be sent.

Humanloop assigns Log ids, so a child can name its parent only after the parent's Log exists.
OpenTelemetry ends children first. This engine keeps, per trace, what is known of each span
(open, ended-not-logged, pending, logged, failed) and lets a child wait — as data, never as a
blocked thread — on the nearest ancestor that is or will be logged. Every wait is bounded.

It runs on the delivery thread only, so it needs no locks.

Memory and the application's garbage collector: ancestry is kept for up to ``max_tracked_spans``
spans, and every object in it that the cycle collector tracks is walked again by each full
collection the *application* runs (in whichever thread triggers it). So a span whose story is over
— ended, nothing waiting on it — is kept not as a ``Node`` but as an untracked value: an ``int``
(an ordinary span: its parent's id, 0 for none), a ``str`` (a logged tool span: its Log id) or a
tuple of ints and strings (the rare rest, which the collector untracks on its first pass). A
trace's own bookkeeping lives in engine-wide dicts of plain numbers. A remembered trace then costs
the collector nothing once its spans are settled (see ``benchmarks/bench_hot_path.py``).
"""

from __future__ import annotations

import heapq
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from otel_tool_exporter._internal.build.mapping import MappedLog
from otel_tool_exporter._internal.spans import SpanRecord, format_span_id

__all__ = ["Job", "OrderingEngine", "Reason"]


class Reason:
    """Why a child went without ``trace_parent_id`` (``metadata.otel.unresolved_parent.reason``)."""

    TIMEOUT = "max_parent_wait"
    PARENT_FAILED = "parent_failed"
    PENDING_FULL = "max_pending"
    SHUTDOWN = "shutdown"
    RESTART = "parent_lost_in_restart"


# node states
OPEN_TOOL = 1  # started, recognised as a tool at start, not ended yet
OPEN_OTHER = 2  # started, not a tool at start, not ended yet
UNSEEN = 3  # named as a parent, not seen yet (exporter-only mode)
NONTOOL = 4  # ended, not a tool (or not logged by choice): skipped by descendants
PENDING = 5  # tool ended, its Log not created yet
LOGGED = 6
FAILED = 7  # tool whose Log could not be created, or was dropped by the redact hook

# started with nothing to judge by (no attributes yet: OpenInference's LangChain tracer sets them all
# at the end), so it may still turn out to be a tool: descendants wait for its end, as for UNSEEN
OPEN_UNKNOWN = 0

# started, not looked at yet: most spans never have a tool below them, so reading their name and
# attributes waits until a descendant's resolution walks through them (see classify)
OPEN_LAZY = -1

_WAITABLE = (OPEN_TOOL, PENDING, UNSEEN, OPEN_UNKNOWN)
_SETTLED = (NONTOOL, LOGGED, FAILED)  # ended, and nothing about them changes again


@dataclass(slots=True)
class Node:
    parent: int | None
    state: int
    log_id: str | None = None
    explicit: str | None = None
    failure: str | None = None
    waiters: list[Job] | None = None
    live: Any = None  # OPEN_LAZY: the live SDK span, classified only if a descendant asks


@dataclass(slots=True, eq=False)
class Job:
    """One tool Log on its way: mapped request, where it waits, and its bookkeeping."""

    span: SpanRecord
    mapped: MappedLog
    seq: int
    arrived: float
    waiting_on: tuple[int, int] | None = None
    deadline: float = 0.0
    skipped: dict[str, Any] | None = None
    task: Any = None
    row: int | None = None  # spool row, when a spool is configured
    body: bytes | None = None  # final wire body, when it came from the spool
    replayed: bool = False  # rebuilt from the spool after a restart


Settled = int | str | tuple[int | None, int, str | None, str | None, str | None]

# A trace's spans: a live Node while something about the span can still change, else its settled
# value (see the module docstring and _settled).
Nodes = dict[int, "Node | Settled"]


def _settled(
    parent: int | None, state: int, log_id: str | None = None, explicit: str | None = None, failure: str | None = None
) -> Settled:
    """The untracked value kept for a span that nothing waits on and that will not change again.
    (The hot paths in ``ended_plain`` write its most common case, ``parent or 0``, themselves.)"""
    if state == NONTOOL and explicit is None and failure is None:
        return parent or 0
    if state == LOGGED and log_id is not None:
        return log_id  # a walk stops at a logged span: its own parent is never read again
    return (parent, state, log_id, explicit, failure)


def _thawed(value: Settled) -> Node:
    """A live Node again for a settled value (only on rare paths: a settled span touched again)."""
    if type(value) is int:
        return Node(value or None, NONTOOL)
    if type(value) is str:
        return Node(None, LOGGED, log_id=value)
    parent, state, log_id, explicit, failure = value  # type: ignore[misc]
    return Node(parent, state, log_id=log_id, explicit=explicit, failure=failure)


class OrderingEngine:
    """Resolve ``trace_parent_id`` for each job, releasing jobs through ``on_ready``.

    ``on_ready(job, parent_log_id, unresolved)`` is called exactly once per submitted job;
    ``unresolved`` is ``None`` or ``{"span_id", "reason"}``.
    """

    def __init__(
        self,
        on_ready: Callable[[Job, str | None, dict[str, str] | None], None],
        *,
        on_wait: Callable[[Job, int], None] | None = None,
        classify: Callable[[Any], tuple[bool | None, str | None]] | None = None,
        max_parent_wait: float = 300.0,
        max_pending: int = 10_000,
        trace_ttl: float = 900.0,
        max_tracked_spans: int = 100_000,
        ancestry_from_start: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._on_ready = on_ready
        self._on_wait = on_wait
        self._classify = classify
        self.max_parent_wait = max_parent_wait
        self.max_pending = max_pending
        self.trace_ttl = trace_ttl
        self.max_tracked_spans = max_tracked_spans
        self.ancestry_from_start = ancestry_from_start
        self._clock = clock
        # trace id -> its spans, least recently touched first; the touch time and the count of
        # pending + waiting jobs (a busy trace is never evicted) are kept beside it
        self._traces: OrderedDict[int, Nodes] = OrderedDict()
        self._touched: dict[int, float] = {}
        self._busy: dict[int, int] = {}
        self.now = clock()  # refreshed by tick(): one clock read per batch of spans, not per span
        self._tracked = 0
        self._waiting = 0
        self._deadlines: list[tuple[float, int, Job]] = []

    # ------------------------------------------------------------------ introspection
    @property
    def waiting(self) -> int:
        return self._waiting

    @property
    def tracked_spans(self) -> int:
        return self._tracked

    @property
    def tracked_traces(self) -> int:
        return len(self._traces)

    def next_deadline(self) -> float | None:
        while self._deadlines and self._deadlines[0][2].waiting_on is None:
            heapq.heappop(self._deadlines)
        return self._deadlines[0][0] if self._deadlines else None

    def waiting_jobs(self) -> Iterator[Job]:
        for _, _, job in self._deadlines:
            if job.waiting_on is not None:
                yield job

    # ------------------------------------------------------------------ span facts
    def _trace(self, trace_id: int) -> Nodes:
        nodes = self._traces.get(trace_id)
        if nodes is None:
            nodes = self._traces[trace_id] = {}
        else:
            self._traces.move_to_end(trace_id)
        self._touched[trace_id] = self.now
        return nodes

    def _node(self, nodes: Nodes, span_id: int, parent: int | None, state: int) -> Node:
        """The live Node of a span, created (or thawed from its settled value) if need be."""
        node = nodes.get(span_id)
        if node is None:
            node = nodes[span_id] = Node(parent, state)
            self._tracked += 1
        elif type(node) is not Node:
            node = nodes[span_id] = _thawed(node)  # type: ignore[arg-type]
        return node  # type: ignore[return-value]

    def _store_settled(self, nodes: Nodes, span_id: int, node: Node) -> None:
        """Replace a node that nothing waits on any more by its settled (untracked) value."""
        if not node.waiters and node.state in _SETTLED and nodes.get(span_id) is node:
            nodes[span_id] = _settled(node.parent, node.state, node.log_id, node.explicit, node.failure)

    def _busier(self, trace_id: int, delta: int) -> None:
        busy = self._busy.get(trace_id, 0) + delta
        if busy > 0:
            self._busy[trace_id] = busy
        else:
            self._busy.pop(trace_id, None)

    def started_lazy(self, trace_id: int, span_id: int, parent: int | None, live: Any) -> None:
        """A span started; what it is gets decided only if a descendant's walk reaches it while it
        is still open (``classify(live) -> (is_tool, explicit_parent)``)."""
        nodes = self._trace(trace_id)
        node = nodes.get(span_id)
        if node is None:
            nodes[span_id] = Node(parent, OPEN_LAZY, live=live)
            self._tracked += 1
        elif type(node) is Node and node.state == UNSEEN:
            node.state = OPEN_LAZY
            node.parent = parent
            node.live = live

    def _settle(self, node: Node) -> None:
        """Classify an OPEN_LAZY node from its live span, as it is now."""
        live, node.live = node.live, None
        is_tool: bool | None = False
        explicit: str | None = None
        if self._classify is not None and live is not None:
            try:
                is_tool, explicit = self._classify(live)
            except Exception:
                is_tool, explicit = False, None
        node.state = OPEN_TOOL if is_tool else OPEN_UNKNOWN if is_tool is None else OPEN_OTHER
        node.explicit = node.explicit or explicit

    def is_known_end(self, trace_id: int, span_id: int) -> bool:
        """True when this span's end was handled already (a duplicate hand-off)."""
        nodes = self._traces.get(trace_id)
        node = nodes.get(span_id) if nodes is not None else None
        if node is None:
            return False
        return type(node) is not Node or node.state >= NONTOOL  # type: ignore[union-attr]

    def ended_not_logged(self, span: SpanRecord, *, explicit: str | None = None, failure: str | None = None) -> None:
        """A span ended that will not be logged: not a tool, or dropped (``failure`` says why)."""
        self.ended_plain(span.trace_id, span.span_id, span.parent_span_id, explicit=explicit, failure=failure)

    def ended_plain(
        self,
        trace_id: int,
        span_id: int,
        parent: int | None,
        *,
        explicit: str | None = None,
        failure: str | None = None,
    ) -> bool:
        """:meth:`ended_not_logged` from bare ids (the pipeline's fast path for ordinary spans).
        Returns False, changing nothing, when this span's end was handled before (a duplicate)."""
        nodes = self._trace(trace_id)
        node = nodes.get(span_id)
        if node is None:
            # the common case, an ordinary span seen only at its end: settled from the start
            nodes[span_id] = (
                (parent or 0)
                if explicit is None and failure is None
                else _settled(parent, FAILED if failure else NONTOOL, explicit=explicit, failure=failure)
            )
            self._tracked += 1
            return True
        if type(node) is not Node:
            if failure is None:
                return False  # settled values are all ended spans: this end is a duplicate
            node = nodes[span_id] = _thawed(node)  # type: ignore[arg-type]
        elif node.state >= NONTOOL and failure is None:
            return False
        elif not node.waiters and failure is None and explicit is None and node.explicit is None:
            nodes[span_id] = parent or 0  # the usual end of a started span: settled at once
            return True
        node.live = None
        node.parent = parent
        node.explicit = node.explicit or explicit
        node.state = FAILED if failure else NONTOOL
        node.failure = failure
        if node.waiters:
            self._wake(nodes, node)
        self._store_settled(nodes, span_id, node)
        return True

    def submit(self, job: Job) -> None:
        """A tool span ended and was mapped: release it now or let it wait for its parent."""
        span = job.span
        nodes = self._trace(span.trace_id)
        node = self._node(nodes, span.span_id, span.parent_span_id, PENDING)
        node.parent = span.parent_span_id
        node.state = PENDING
        node.live = None
        node.explicit = job.mapped.explicit_parent or node.explicit
        self._busier(span.trace_id, 1)
        self._resolve(nodes, job)

    def submit_resolved(self, job: Job) -> None:
        """A job whose ``trace_parent_id`` is already settled (replayed from the spool): it only
        needs its node, so that children can wait for it."""
        span = job.span
        nodes = self._trace(span.trace_id)
        node = self._node(nodes, span.span_id, span.parent_span_id, PENDING)
        node.state = PENDING
        self._busier(span.trace_id, 1)

    def resubmit(self, job: Job) -> None:
        """Resolve a job registered with :meth:`submit_resolved` whose parent is not settled."""
        self._resolve(self._trace(job.span.trace_id), job)

    def logged(self, job: Job, log_id: str) -> None:
        self._finish(job, LOGGED, log_id=log_id)

    def failed(self, job: Job, reason: str) -> None:
        self._finish(job, FAILED, failure=reason)

    def remember_log(self, trace_id: int, span_id: int, parent: int | None, log_id: str) -> None:
        """A Log created earlier (e.g. before a restart, from the spool's map)."""
        nodes = self._trace(trace_id)
        node = self._node(nodes, span_id, parent, LOGGED)
        node.state = LOGGED
        node.log_id = log_id
        self._wake(nodes, node)
        self._store_settled(nodes, span_id, node)

    def _finish(self, job: Job, state: int, *, log_id: str | None = None, failure: str | None = None) -> None:
        """A job's Log was created or finally failed: its node settles, and its waiters move on."""
        span = job.span
        trace_id = span.trace_id
        nodes = self._traces.get(trace_id)
        if nodes is None:
            return
        self._busier(trace_id, -1)
        node = nodes.get(span.span_id)
        if node is None:
            return
        if type(node) is not Node:
            node = nodes[span.span_id] = _thawed(node)  # type: ignore[arg-type]
        node.state = state
        if log_id is not None:
            node.log_id = log_id
        if failure is not None:
            node.failure = failure
        self._wake(nodes, node)
        self._store_settled(nodes, span.span_id, node)

    # ------------------------------------------------------------------ resolution
    def _resolve(self, nodes: Nodes, job: Job) -> None:
        span = job.span
        own = nodes.get(span.span_id)
        if type(own) is Node and own.explicit:
            self._release(job, own.explicit, None)
            return
        current = span.parent_span_id
        failed: dict[str, str] | None = None
        steps = 0
        while current is not None and steps < 10_000:
            steps += 1
            found = nodes.get(current)
            kind = type(found)
            if kind is int:  # a settled ordinary span: go on to its parent
                current = found or None  # type: ignore[assignment]
                continue
            if kind is str:  # a settled logged tool span: the parent this job was looking for
                self._release(job, found, failed)  # type: ignore[arg-type]
                return
            if kind is tuple:
                parent, state, log_id, explicit, failure = found  # type: ignore[misc]
            else:
                if found is None:
                    if job.replayed:
                        # the process that saw this span's ancestors is gone, and so is their ancestry
                        failed = {"span_id": format_span_id(current), "reason": Reason.RESTART}
                        break
                    if self.ancestry_from_start:
                        break  # started before we were attached, or remote: nothing to wait for
                    found = self._node(nodes, current, None, UNSEEN)
                node: Node = found  # type: ignore[assignment]
                if node.state == OPEN_LAZY:
                    self._settle(node)
                if node.state in _WAITABLE:
                    self._wait(node, current, job)
                    return
                parent, state, log_id, explicit, failure = (
                    node.parent,
                    node.state,
                    node.log_id,
                    node.explicit,
                    node.failure,
                )
            if state == LOGGED:
                self._release(job, log_id, failed)
                return
            if state == FAILED and failed is None:
                failed = {
                    "span_id": format_span_id(current),
                    "reason": Reason.PARENT_FAILED,
                    "detail": failure or "",
                }
            if explicit:
                self._release(job, explicit, failed)
                return
            current = parent
        self._release(job, None, failed)

    def _wait(self, node: Node, span_id: int, job: Job) -> None:
        if job.waiting_on is None and job.deadline == 0.0:
            if self._waiting >= self.max_pending:
                self._release(job, None, {"span_id": format_span_id(span_id), "reason": Reason.PENDING_FULL})
                return
            job.deadline = job.arrived + self.max_parent_wait
        if node.waiters is None:
            node.waiters = []
        node.waiters.append(job)
        if job.waiting_on is None:
            self._waiting += 1
            heapq.heappush(self._deadlines, (job.deadline, job.seq, job))
        job.waiting_on = (job.span.trace_id, span_id)
        if self._on_wait is not None:
            self._on_wait(job, span_id)

    def _wake(self, nodes: Nodes, node: Node) -> None:
        if not node.waiters:
            return
        waiters, node.waiters = node.waiters, None
        for job in waiters:
            if job.waiting_on is None:
                continue
            self._resolve(nodes, job)

    def _release(self, job: Job, parent_log_id: str | None, unresolved: dict[str, str] | None) -> None:
        if job.waiting_on is not None:
            job.waiting_on = None
            self._waiting -= 1
        if parent_log_id is not None and unresolved is not None:
            job.skipped = unresolved  # nested under a further ancestor: say which one was skipped
            unresolved = None
        self._on_ready(job, parent_log_id, unresolved)

    def _give_up(self, job: Job, reason: str) -> None:
        key = job.waiting_on
        if key is None:
            return
        nodes = self._traces.get(key[0])
        node = nodes.get(key[1]) if nodes is not None else None
        if type(node) is Node and node.waiters:
            try:
                node.waiters.remove(job)
            except ValueError:
                pass
        self._release(job, None, {"span_id": format_span_id(key[1]), "reason": reason})

    def expire(self, now: float | None = None) -> int:
        """Release children whose ``max_parent_wait`` has passed; returns how many."""
        now = self._clock() if now is None else now
        count = 0
        while self._deadlines and self._deadlines[0][0] <= now:
            _, _, job = heapq.heappop(self._deadlines)
            if job.waiting_on is not None:
                self._give_up(job, Reason.TIMEOUT)
                count += 1
        return count

    def release_all(self, reason: str = Reason.SHUTDOWN) -> int:
        """Send every waiting child now, unresolved (shutdown)."""
        count = 0
        while self._deadlines:
            _, _, job = heapq.heappop(self._deadlines)
            if job.waiting_on is not None:
                self._give_up(job, reason)
                count += 1
        return count

    # ------------------------------------------------------------------ memory bound
    def tick(self) -> None:
        """Once per batch of spans: refresh the cached clock and keep memory within its bounds."""
        self.now = self._clock()
        self._evict()

    def _evict(self) -> None:
        """Drop whole traces, least recently touched first, when over the cap or past the TTL.
        Traces with pending or waiting Logs are kept (their number is bounded by max_pending)."""
        traces = self._traces
        if not traces:
            return
        now = self.now
        touched = self._touched
        rotations = 0
        while traces and rotations < 64:
            trace_id, nodes = next(iter(traces.items()))
            expired = now - touched.get(trace_id, now) > self.trace_ttl
            if not expired and self._tracked <= self.max_tracked_spans:
                return
            if trace_id in self._busy:  # waiting children are pending jobs of this same trace
                traces.move_to_end(trace_id)
                rotations += 1
                continue
            del traces[trace_id]
            touched.pop(trace_id, None)
            self._tracked -= len(nodes)
