"""The ordering engine on its own: events in, releases out, time given by the test.

Each case is a small trace told as events — spans start and end, tool Logs are submitted, the
server answers, the clock moves — and the expectation is which Logs go, in what order, under
which parent Log id, or without one and why. One case per way a child can go.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from otel_tool_exporter._internal.ordering import OrderingEngine, Pending, Reason, Release

TRACE = 0xABC
ROOT, AGENT, PARENT, CHILD, GRANDCHILD = 1, 2, 3, 4, 5
NAMES = {ROOT: "root", AGENT: "agent", PARENT: "parent", CHILD: "child", GRANDCHILD: "grandchild"}


@dataclass
class Story:
    """Drives one engine and records every release as ``(name, parent log id, reason)``."""

    engine: OrderingEngine
    released: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    seq: int = 0

    def _take(self, releases: Sequence[Release]) -> None:
        for r in releases:
            reason = r.unresolved["reason"] if r.unresolved else None
            self.released.append((NAMES[r.item.span_id], r.parent_log_id, reason))

    def start(self, span: int, parent: int | None, *, tool: bool | None = False, explicit: str | None = None) -> None:
        self.engine.started(TRACE, span, parent, (tool, explicit))

    def end(self, span: int, parent: int | None, **kw: Any) -> None:
        self._take(self.engine.ended(TRACE, span, parent, **kw))

    def submit(self, span: int, parent: int | None, *, explicit: str | None = None, replayed: bool = False) -> None:
        self.seq += 1
        item = Pending(TRACE, span, parent, explicit, NAMES[span], self.seq, self.engine.now, replayed=replayed)
        self._take(self.engine.submit(item))

    def logged(self, span: int, log_id: str) -> None:
        self._take(self.engine.settled(TRACE, span, log_id=log_id))

    def failed(self, span: int, reason: str = "http_422") -> None:
        self._take(self.engine.settled(TRACE, span, failure=reason))

    def at(self, now: float) -> None:
        self.engine.tick(now)
        self._take(self.engine.expire(now))

    def shutdown(self) -> None:
        self._take(self.engine.release_all(Reason.SHUTDOWN))


def story(*, from_start: bool = True, max_parent_wait: float = 300.0, max_pending: int = 100) -> Story:
    def classify(probe: Any) -> tuple[bool | None, str | None]:
        tool, explicit = probe
        return tool, explicit

    return Story(
        OrderingEngine(
            classify_open=classify,
            max_parent_wait=max_parent_wait,
            max_pending=max_pending,
            ancestry_from_start=from_start,
        )
    )


def _parent_logged(s: Story) -> None:
    s.start(PARENT, None, tool=True)
    s.start(AGENT, PARENT)
    s.start(CHILD, AGENT, tool=True)
    s.submit(CHILD, AGENT)  # ends first: waits for the parent's Log, through the agent span
    s.end(AGENT, PARENT)
    s.submit(PARENT, None)
    s.logged(PARENT, "log_parent")


def _parent_failed(s: Story) -> None:
    s.start(ROOT, None, tool=True)
    s.start(PARENT, ROOT, tool=True)
    s.start(CHILD, PARENT, tool=True)
    s.submit(CHILD, PARENT)
    s.submit(PARENT, ROOT)
    s.submit(ROOT, None)
    s.logged(ROOT, "log_root")
    s.failed(PARENT)  # the child nests under the next logged ancestor instead


def _parent_dropped_by_the_hook(s: Story) -> None:
    s.start(PARENT, None, tool=True)
    s.start(CHILD, PARENT, tool=True)
    s.submit(CHILD, PARENT)
    s.end(PARENT, None, failure="redacted")


def _wait_expired(s: Story) -> None:
    s.start(PARENT, None, tool=True)
    s.start(CHILD, PARENT, tool=True)
    s.at(10.0)
    s.submit(CHILD, PARENT)
    s.at(10.0 + 299.0)  # not yet
    s.at(10.0 + 300.0)  # the parent never ended: the child goes alone


def _pending_full(s: Story) -> None:
    s.start(PARENT, None, tool=True)
    s.start(CHILD, PARENT, tool=True)
    s.start(GRANDCHILD, PARENT, tool=True)
    s.submit(CHILD, PARENT)  # waits: the one allowed
    s.submit(GRANDCHILD, PARENT)  # no room to wait: goes at once
    s.submit(PARENT, None)
    s.logged(PARENT, "log_parent")


def _shutdown(s: Story) -> None:
    s.start(PARENT, None, tool=True)
    s.start(CHILD, PARENT, tool=True)
    s.submit(CHILD, PARENT)
    s.shutdown()


def _explicit_on_an_ancestor(s: Story) -> None:
    s.start(AGENT, None, explicit="log_mine")
    s.start(CHILD, AGENT, tool=True)
    s.submit(CHILD, AGENT)


def _explicit_on_the_span(s: Story) -> None:
    s.start(PARENT, None, tool=True)
    s.start(CHILD, PARENT, tool=True)
    s.submit(CHILD, PARENT, explicit="log_own")  # nearer than any ancestor: no wait


def _replay(s: Story) -> None:
    s._take(s.engine.remember_log(TRACE, PARENT, "log_before_restart"))
    s.submit(CHILD, PARENT, replayed=True)


def _replay_parent_lost(s: Story) -> None:
    s.submit(CHILD, AGENT, replayed=True)  # nothing is known of AGENT after the restart


def _not_a_tool_at_start_is_skipped(s: Story) -> None:
    s.start(ROOT, None, tool=True)
    s.start(AGENT, ROOT, tool=False)
    s.start(CHILD, AGENT, tool=True)
    s.submit(CHILD, AGENT)
    s.submit(ROOT, None)
    s.logged(ROOT, "log_root")


def _unknown_at_start_is_awaited(s: Story) -> None:
    s.start(PARENT, None, tool=None)  # no attributes yet: may become a tool at its end
    s.start(CHILD, PARENT, tool=True)
    s.submit(CHILD, PARENT)
    s.end(PARENT, None)  # it did not


def _ancestry_from_finished_spans(s: Story) -> None:
    s.submit(CHILD, AGENT)  # AGENT not seen yet: wait for it
    s.end(AGENT, PARENT)
    s.submit(PARENT, None)
    s.logged(PARENT, "log_parent")


CASES: dict[str, tuple[Callable[[Story], None], dict[str, Any], list[tuple[str, str | None, str | None]]]] = {
    "parent logged": (_parent_logged, {}, [("parent", None, None), ("child", "log_parent", None)]),
    "parent failed": (
        _parent_failed,
        {},
        [("root", None, None), ("parent", "log_root", None), ("child", "log_root", None)],
    ),
    "parent dropped by the hook": (_parent_dropped_by_the_hook, {}, [("child", None, Reason.PARENT_FAILED)]),
    "wait expired": (_wait_expired, {}, [("child", None, Reason.TIMEOUT)]),
    "pending full": (
        _pending_full,
        {"max_pending": 1},
        [("grandchild", None, Reason.PENDING_FULL), ("parent", None, None), ("child", "log_parent", None)],
    ),
    "shutdown": (_shutdown, {}, [("child", None, Reason.SHUTDOWN)]),
    "explicit id on an ancestor": (_explicit_on_an_ancestor, {}, [("child", "log_mine", None)]),
    "explicit id on the span": (_explicit_on_the_span, {}, [("child", "log_own", None)]),
    "replay under a parent logged before the restart": (_replay, {}, [("child", "log_before_restart", None)]),
    "replay whose ancestry was lost": (_replay_parent_lost, {}, [("child", None, Reason.RESTART)]),
    "a span known not to be a tool is skipped": (
        _not_a_tool_at_start_is_skipped,
        {},
        [("root", None, None), ("child", "log_root", None)],
    ),
    "a span not known yet is awaited": (_unknown_at_start_is_awaited, {}, [("child", None, None)]),
    "ancestry from finished spans only": (
        _ancestry_from_finished_spans,
        {"from_start": False},
        [("parent", None, None), ("child", "log_parent", None)],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_way_a_child_can_go(name: str) -> None:
    steps, options, expected = CASES[name]
    s = story(**options)
    steps(s)
    assert s.released == expected
    assert s.engine.waiting == 0


def test_a_parent_that_failed_is_named_in_skipped_parent() -> None:
    engine = story().engine
    for span, parent in ((ROOT, None), (PARENT, ROOT), (CHILD, PARENT)):
        engine.started(TRACE, span, parent, (True, None))
    child = Pending(TRACE, CHILD, PARENT, None, "child", 1, 0.0)
    assert engine.submit(child) == ()
    engine.submit(Pending(TRACE, PARENT, ROOT, None, "parent", 2, 0.0))
    engine.submit(Pending(TRACE, ROOT, None, None, "root", 3, 0.0))
    engine.settled(TRACE, ROOT, log_id="log_root")
    (release,) = engine.settled(TRACE, PARENT, failure="http_422")
    assert release.parent_log_id == "log_root"
    assert release.skipped == {"span_id": f"{PARENT:016x}", "reason": Reason.PARENT_FAILED, "detail": "http_422"}


def test_the_deadline_counts_from_arrival_on_the_engine_clock() -> None:
    s = story(max_parent_wait=5.0)
    s.start(PARENT, None, tool=True)
    s.start(CHILD, PARENT, tool=True)
    s.at(100.0)
    s.submit(CHILD, PARENT)
    assert s.engine.next_deadline() == 105.0
    s.at(104.9)
    assert s.released == []
    s.at(105.0)
    assert s.released == [("child", None, Reason.TIMEOUT)]
    assert s.engine.next_deadline() is None


def test_waits_are_reported_as_data_for_the_spool() -> None:
    s = story()
    s.start(PARENT, None, tool=True)
    s.start(CHILD, PARENT, tool=True)
    s.submit(CHILD, PARENT)
    waits = s.engine.take_waits()
    assert [(item.span_id, on) for item, on in waits] == [(CHILD, PARENT)]
    assert s.engine.take_waits() == []


def test_a_duplicate_end_changes_nothing() -> None:
    s = story()
    s.start(AGENT, None)
    s.end(AGENT, None)
    assert s.engine.is_known_end(TRACE, AGENT)
    s.end(AGENT, None)
    assert s.engine.tracked_spans == 1


def test_memory_stays_within_the_cap_but_busy_traces_are_kept() -> None:
    engine = OrderingEngine(
        classify_open=lambda probe: probe, ancestry_from_start=True, max_tracked_spans=100, trace_ttl=1e9
    )
    busy = Pending(1, CHILD, PARENT, None, "busy", 1, 0.0)
    engine.started(1, PARENT, None, (True, None))
    engine.submit(busy)  # waits on an open tool: trace 1 is busy
    for trace in range(2, 500):
        engine.ended(trace, 1, None)
        engine.tick(float(trace))
    assert engine.tracked_spans <= 101
    assert engine.waiting == 1, "the busy trace was not evicted"
