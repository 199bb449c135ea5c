"""``ToolSpanProcessor``: the recommended in-process setup.

Unlike a ``BatchSpanProcessor``, it also hands over span *starts*, so ordering knows the nearest
tool ancestor of every span the moment it starts and never waits for unrelated spans to end. Both
hand-offs are a deque append: no I/O, no lock shared with the network, no exception.
"""

from __future__ import annotations

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from typing_extensions import Unpack

from otel_tool_exporter._internal.pipeline import pipeline_of
from otel_tool_exporter.exporter import ExporterOptions, ToolLogExporter

__all__ = ["ToolSpanProcessor"]


class ToolSpanProcessor(SpanProcessor):
    """Feeds span starts and ends to ``exporter`` (made from ``options`` when not given)."""

    def __init__(self, exporter: ToolLogExporter | None = None, **options: Unpack[ExporterOptions]) -> None:
        self.exporter = exporter if exporter is not None else ToolLogExporter(**options)
        pipeline = pipeline_of(self.exporter)
        pipeline.enable_start_ancestry()
        inbox = pipeline.inbox
        self._offer_start = inbox.offer_start
        self._offer_end = inbox.offer_end

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            self._offer_start(span)
        except Exception:
            pass

    def on_end(self, span: ReadableSpan) -> None:
        try:
            self._offer_end(span)
        except Exception:
            pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.exporter.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self.exporter.shutdown()
