"""What the ordering stage knows about one span, and why a child went without its parent."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["Reason", "State"]


class State(IntEnum):
    """The life of one span as ordering sees it. Use the predicates, not the numbers."""

    LAZY = 0  # started, not looked at yet (most spans never have a tool below them)
    OPEN_UNKNOWN = 1  # started with nothing to judge by: may still become a tool at its end
    OPEN_TOOL = 2  # started, recognised as a tool at start, not ended yet
    OPEN_OTHER = 3  # started, not a tool, not ended yet
    UNSEEN = 4  # named as a parent, not seen yet (ancestry from finished spans only)
    PENDING = 5  # a tool span ended: its Log is being created
    NONTOOL = 6  # ended, not logged: skipped by descendants
    LOGGED = 7  # its Log exists
    FAILED = 8  # its Log could not be created, or was dropped on purpose

    @property
    def is_waitable(self) -> bool:
        """A descendant's Log must wait for this span: it is or may become a Log."""
        return self in _WAITABLE

    @property
    def has_ended(self) -> bool:
        """This span's end has been handled (a second end is a duplicate)."""
        return self >= State.PENDING

    @property
    def is_settled(self) -> bool:
        """Ended, and nothing about it changes again."""
        return self >= State.NONTOOL


_WAITABLE = frozenset({State.OPEN_UNKNOWN, State.OPEN_TOOL, State.UNSEEN, State.PENDING})


class Reason:
    """Why a child went without ``trace_parent_id`` (``metadata.otel.unresolved_parent.reason``)."""

    TIMEOUT = "max_parent_wait"
    PARENT_FAILED = "parent_failed"
    PENDING_FULL = "max_pending"
    SHUTDOWN = "shutdown"
    RESTART = "parent_lost_in_restart"
