"""The ancestry store: what ordering remembers of each span, bounded in memory.

A span something can still happen to is a :class:`Node`. A span whose story is over — ended,
nothing waiting on it — is kept in a compact form instead, private to this module, because
ancestry is kept for up to ``max_spans`` spans and every object the cycle collector tracks is
walked again by each full collection the *application* runs. The compact forms are plain values
the collector does not track: an ``int`` (an ordinary span: its parent's id, 0 for none), a
``str`` (a logged span: its Log id) or a tuple of ints and strings (the rare rest). Callers see
:class:`Node` (live) or :class:`Facts` (settled), never the encoding.

Whole traces are forgotten after ``ttl`` seconds without activity, least recently touched first
once more than ``max_spans`` spans are remembered; traces with Logs in progress are kept.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, NamedTuple

from otel_tool_exporter._internal.ordering.states import State

__all__ = ["AncestryStore", "Facts", "Node", "Spans"]


@dataclass(slots=True)
class Node:
    """A span something can still happen to."""

    parent: int | None
    state: State
    log_id: str | None = None
    explicit: str | None = None
    failure: str | None = None
    waiters: list[Any] | None = None
    probe: Any = None  # the live span: judged when a descendant asks; kept while an open tool
    opened: float = 0.0  # when its start was seen (engine clock)
    # live parents: a Log created early for a tool span still running
    early: str | None = None  # its Log id once created
    early_tool: str | None = None  # the Tool id the server answered with (for the completion)
    early_asked: bool = False  # asked for (once): in flight, created, or failed
    early_failed: bool = False  # could not be built or created: its children wait for the end
    completion: Any = None  # the span ended while its early Log was still being created

    @property
    def early_pending(self) -> bool:
        """Its early Log was asked for and is not created (nor given up) yet."""
        return self.early_asked and self.early is None and not self.early_failed


class Facts(NamedTuple):
    """A settled span, read-only."""

    parent: int | None
    state: State
    log_id: str | None
    explicit: str | None
    failure: str | None


_Compact = int | str | tuple[int | None, int, str | None, str | None, str | None]
Spans = dict[int, "Node | _Compact"]
"""One trace's spans (opaque: use the store's methods)."""


def _encode(facts: Facts) -> _Compact:
    parent, state, log_id, explicit, failure = facts
    if state == State.NONTOOL and explicit is None and failure is None:
        return parent or 0
    if state == State.LOGGED and log_id is not None:
        return log_id  # a walk stops at a logged span: its own parent is never read again
    return (parent, int(state), log_id, explicit, failure)


def _decode(value: _Compact) -> Facts:
    if type(value) is int:
        return Facts(value or None, State.NONTOOL, None, None, None)
    if type(value) is str:
        return Facts(None, State.LOGGED, value, None, None)
    assert type(value) is tuple
    parent, state, log_id, explicit, failure = value
    return Facts(parent, State(state), log_id, explicit, failure)


class AncestryStore:
    def __init__(self, *, max_spans: int = 200_000, ttl: float = 900.0) -> None:
        self.max_spans = max_spans
        self.ttl = ttl
        self._traces: OrderedDict[int, Spans] = OrderedDict()  # least recently touched first
        self._touched: dict[int, float] = {}
        self._busy: dict[int, int] = {}  # trace -> Logs in progress (such a trace is never evicted)
        self._count = 0
        self.evicted: list[int] = []  # traces forgotten since the owner last took them

    @property
    def spans(self) -> int:
        return self._count

    @property
    def traces(self) -> int:
        return len(self._traces)

    # ------------------------------------------------------------------ traces
    def trace(self, trace_id: int, now: float) -> Spans:
        """A trace's spans, created if new, marked as just touched."""
        spans = self._traces.get(trace_id)
        if spans is None:
            spans = self._traces[trace_id] = {}
        else:
            self._traces.move_to_end(trace_id)
        self._touched[trace_id] = now
        return spans

    def peek(self, trace_id: int) -> Spans | None:
        return self._traces.get(trace_id)

    def busier(self, trace_id: int, delta: int) -> None:
        """Count Logs in progress in a trace; a busy trace is never evicted."""
        busy = self._busy.get(trace_id, 0) + delta
        if busy > 0:
            self._busy[trace_id] = busy
        else:
            self._busy.pop(trace_id, None)

    # ------------------------------------------------------------------ spans
    def get(self, spans: Spans, span_id: int) -> Node | Facts | None:
        found = spans.get(span_id)
        if found is None or isinstance(found, Node):
            return found
        return _decode(found)

    def node(self, spans: Spans, span_id: int, parent: int | None, state: State) -> Node:
        """The live node of a span: created with ``parent``/``state`` if unknown, else the one
        there (a settled span is made live again, as it was)."""
        found = spans.get(span_id)
        if found is None:
            node = spans[span_id] = Node(parent, state)
            self._count += 1
            return node
        if isinstance(found, Node):
            return found
        facts = _decode(found)
        node = spans[span_id] = Node(facts.parent, facts.state, facts.log_id, facts.explicit, facts.failure)
        return node

    def start(self, spans: Spans, span_id: int, parent: int | None, probe: Any, now: float) -> None:
        """A span started; it is judged only if a descendant's walk reaches it while open."""
        found = spans.get(span_id)
        if found is None:
            spans[span_id] = Node(parent, State.LAZY, probe=probe, opened=now)
            self._count += 1
        elif type(found) is Node and found.state == State.UNSEEN:
            found.state = State.LAZY
            found.parent = parent
            found.probe = probe
            found.opened = now

    def end_quietly(self, spans: Spans, span_id: int, parent: int | None) -> bool | None:
        """The end of an ordinary span nobody waits on, stored in its compact form at once.

        True when done; False when this end was handled before (a duplicate: nothing changed);
        None when the span is not that simple (waiters, an explicit parent): the caller handles it.
        """
        found = spans.get(span_id)
        if found is None:
            spans[span_id] = parent or 0
            self._count += 1
            return True
        if type(found) is not Node:
            return False  # every compact form is an ended span
        if found.state.has_ended:
            return False
        if not found.waiters and found.explicit is None:
            spans[span_id] = parent or 0
            return True
        return None

    def has_ended(self, trace_id: int, span_id: int) -> bool:
        spans = self._traces.get(trace_id)
        found = spans.get(span_id) if spans is not None else None
        if found is None:
            return False
        return not isinstance(found, Node) or found.state.has_ended

    def settle(self, spans: Spans, span_id: int, node: Node) -> None:
        """Store a node that is over (settled, no waiters) in its compact form."""
        if not node.waiters and node.state.is_settled and spans.get(span_id) is node:
            spans[span_id] = _encode(Facts(node.parent, node.state, node.log_id, node.explicit, node.failure))

    # ------------------------------------------------------------------ memory bound
    def evict(self, now: float) -> None:
        """Forget whole traces, least recently touched first, past the TTL or over the cap."""
        traces = self._traces
        touched = self._touched
        rotations = 0
        while traces and rotations < 64:
            trace_id, spans = next(iter(traces.items()))
            expired = now - touched.get(trace_id, now) > self.ttl
            if not expired and self._count <= self.max_spans:
                return
            if trace_id in self._busy:
                traces.move_to_end(trace_id)
                rotations += 1
                continue
            del traces[trace_id]
            touched.pop(trace_id, None)
            self._count -= len(spans)
            if len(self.evicted) < 100_000:
                self.evicted.append(trace_id)
