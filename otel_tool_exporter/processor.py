"""``ToolSpanProcessor``: the recommended in-process setup (SPEC §1, §4).

Unlike a ``BatchSpanProcessor``, it also hands over span *starts*, so the nesting engine knows the
nearest tool ancestor of every span the moment it starts and never waits for unrelated spans to
end. Both hand-offs are a deque append: no I/O, no lock shared with the network, no exception.
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from .exporter import ToolLogExporter

__all__ = ["ToolSpanProcessor"]

logger = logging.getLogger("otel_tool_exporter")


class ToolSpanProcessor(SpanProcessor):
    def __init__(self, exporter: ToolLogExporter | None = None, **exporter_settings: Any) -> None:
        self.exporter = exporter if exporter is not None else ToolLogExporter(**exporter_settings)
        pipeline = self.exporter.pipeline
        pipeline.enable_start_ancestry()
        self._submit_start = pipeline.submit_start
        self._submit = pipeline.submit

    # Both hand-offs only append: the sampled flag is read on the delivery thread, off the
    # application's path (Pipeline._handle), like everything else about the span.
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            self._submit_start(span)
        except Exception:
            pass

    def on_end(self, span: ReadableSpan) -> None:
        try:
            self._submit(span)
        except Exception:
            pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.exporter.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self.exporter.shutdown()
