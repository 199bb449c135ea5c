"""What flows through delivery: one Log request ready to send, and what became of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["Failed", "Logged", "Outcome", "Outgoing", "Retry", "Sender"]


@dataclass(slots=True, eq=False)
class Outgoing:
    """A final Log request: its wire body and where it goes. Nothing edits it after finalise."""

    trace_id: int
    span_id: int
    body: bytes
    path: str  # for messages only
    version_id: str | None = None
    environment: str | None = None
    seq: int = 0
    row: int | None = None  # its spool row, with a spool
    update: tuple[str, str] | None = None  # (tool id, Log id): complete that Log (PATCH), not a new one
    early: bool = False  # the Log of a span still running (live parents): if it fails, the end is sent


@dataclass(slots=True, frozen=True)
class Logged:
    """The server created the Log."""

    log_id: str
    tool_id: str | None = None


@dataclass(slots=True, frozen=True)
class Failed:
    """The Log was not created and trying again will not help (``exhausted``: retries ran out,
    so a later attempt might)."""

    reason: str  # counted as ``failed[reason]``: ``http_422``, ``retries_exhausted``, …
    message: str
    status: int | None = None
    exhausted: bool = False
    last: str = ""  # with ``exhausted``: what the final attempt met (the same for every Log of an outage)


@dataclass(slots=True, frozen=True)
class Retry:
    """Not created this time; worth another attempt (only the retry layer sees this)."""

    reason: str
    message: str
    retry_after: float | None = None
    pressure: bool = False  # the server pushes back: send fewer at once


Outcome = Logged | Failed | Retry


class Sender(Protocol):
    """One delivery layer: send one Log request, say what became of it. Never raises."""

    async def send(self, log: Outgoing) -> Outcome: ...
