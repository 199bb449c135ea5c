"""``ToolLogExporter``: the OpenTelemetry ``SpanExporter`` shell around the pipeline (SPEC §1)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_tool_exporter._internal.build.conventions import ConventionRegistry, Recogniser
from otel_tool_exporter._internal.build.redaction import RedactHook
from otel_tool_exporter._internal.delivery.transports import Transport
from otel_tool_exporter._internal.pipeline import Pipeline
from otel_tool_exporter._internal.spans import SpanRecord
from otel_tool_exporter.settings import Settings

__all__ = ["ToolLogExporter"]

logger = logging.getLogger("otel_tool_exporter")


class ToolLogExporter(SpanExporter):
    """Sends every tool span it is given to Humanloop as a Tool Log.

    Give it all spans, not only tool spans: the non-tool ones tell it how tool calls nest.
    Every argument is optional; unset ones come from the environment (README: Configuration).
    ``export()`` only hands spans to a background thread and returns at once.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        path_prefix: str | None = None,
        version_id: str | None = None,
        environment: str | None = None,
        is_tool_span: Callable[[SpanRecord], bool] | None = None,
        recognisers: Iterable[Recogniser] | None = None,
        redact: RedactHook | None = None,
        transport: str | Callable[[], Transport] | None = None,
        shutdown_timeout: float | None = None,
        **settings: Any,
    ) -> None:
        self.settings = Settings.resolve(
            api_key=api_key,
            base_url=base_url,
            path_prefix=path_prefix,
            version_id=version_id,
            environment=environment,
            shutdown_timeout=shutdown_timeout,
            # a name ("aiohttp"/"httpx") is the `transport` setting; a callable is your own transport factory
            transport=transport if isinstance(transport, str) else None,
            **settings,
        )
        registry = ConventionRegistry(is_tool_span=is_tool_span)
        for recogniser in recognisers or ():
            registry.add(recogniser, first=True)
        self.shutdown_timeout = self.settings.shutdown_timeout
        self._pipeline = Pipeline(
            self.settings,
            registry=registry,
            redact=redact,
            transport_factory=None if isinstance(transport, str) else transport,
        )

    def __repr__(self) -> str:
        return f"ToolLogExporter(base_url={self.settings.base_url!r}, api_key='***')"

    @property
    def pipeline(self) -> Pipeline:
        return self._pipeline

    @property
    def registry(self) -> ConventionRegistry:
        return self._pipeline.registry

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        submit = self._pipeline.submit
        try:
            for span in spans:
                submit(span)
        except Exception:
            logger.exception("otel_tool_exporter: export hand-off failed")
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._pipeline.force_flush(timeout_millis / 1000.0)

    def shutdown(self) -> None:
        self._pipeline.shutdown(self.shutdown_timeout)

    def stats(self) -> dict[str, Any]:
        """Counters: received, tool spans, sent, retries, failed/dropped by reason, gauges."""
        return self._pipeline.snapshot()
