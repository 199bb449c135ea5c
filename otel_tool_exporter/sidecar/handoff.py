"""Handing received spans to the exporter: with a spool, only once they are on disk.

Both receivers (OTLP/HTTP and OTLP/gRPC) answer success only after this returns True, so a span
the sidecar has acknowledged survives a crash of the sidecar (a restart on the same spool
delivers it). Without a spool there is nothing to wait for.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

from otel_tool_exporter._internal.build.mapping import EXPLICIT_PARENT_KEY
from otel_tool_exporter._internal.pipeline import pipeline_of
from otel_tool_exporter._internal.spans.otlp import DecodeResult, decode_request

__all__ = ["DURABLE_TIMEOUT", "hand_in", "span_reader"]

DURABLE_TIMEOUT = 10.0  # seconds a request may wait for its spans to reach the disk


def span_reader(exporter: Any) -> Callable[..., DecodeResult]:
    """``decode_request(body, fmt)`` for this exporter: spans its builder rules out are read as
    their ids only (most spans a collector forwards are no tool call)."""
    builder = pipeline_of(exporter).loop.builder
    return functools.partial(decode_request, may_matter=builder.may_matter, explicit_key=EXPLICIT_PARENT_KEY)


async def hand_in(exporter: Any, spans: list[Any], timeout: float = DURABLE_TIMEOUT) -> bool:
    """Give ``spans`` to the exporter (the caller checked there is room). False when, with a
    spool, they were not on disk within ``timeout``: answer "retry later" (they are still kept,
    and a retried duplicate is recognised and not logged twice)."""
    pipeline = pipeline_of(exporter)
    inbox = pipeline.inbox
    if pipeline.spool_state != "on":
        for span in spans:
            inbox.offer_end(span)
        return True
    future = inbox.offer_durable(spans)
    try:
        await asyncio.wait_for(asyncio.wrap_future(future), timeout)
    except asyncio.TimeoutError:
        return False
    return True
