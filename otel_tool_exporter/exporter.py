"""``ToolLogExporter``: the OpenTelemetry ``SpanExporter`` that sends tool spans to Humanloop."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, TypedDict

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from typing_extensions import Unpack

from otel_tool_exporter._internal.build.conventions import ConventionRegistry, Recogniser
from otel_tool_exporter._internal.build.redaction import RedactHook
from otel_tool_exporter._internal.delivery.transports import Transport
from otel_tool_exporter._internal.log import ensure_heard, report_startup_error
from otel_tool_exporter._internal.pipeline import Pipeline
from otel_tool_exporter._internal.spans import SpanRecord
from otel_tool_exporter.settings import ConfigurationError, Settings

__all__ = ["ExporterOptions", "ToolLogExporter"]

logger = logging.getLogger("otel_tool_exporter")


class ExporterOptions(TypedDict, total=False):
    """Every setting as a keyword argument (README: Configuration). Unset (or None) ones come
    from the environment, then the defaults."""

    api_key: str | None
    base_url: str | None
    path_prefix: str | None
    version_id: str | None
    environment: str | None
    save: bool | None
    max_parent_wait: float | None
    max_pending: int | None
    max_concurrency: int | None
    max_queue: int | None
    max_field_bytes: int | None
    max_elapsed: float | None
    max_retry_after: float | None
    timeout: float | None
    connect_timeout: float | None
    shutdown_timeout: float | None
    spool_dir: str | None
    trace_ttl: float | None
    max_tracked_spans: int | None
    allow_insecure_http: bool | None
    transport: Literal["aiohttp", "httpx"] | None
    ca_file: str | None
    headers: dict[str, str] | None
    redact_keys: tuple[str, ...] | None


class ToolLogExporter(SpanExporter):
    """Sends every tool span it is given to Humanloop as a Tool Log.

    Give it all spans, not only tool spans: the non-tool ones tell it how tool calls nest.
    Every argument is optional; unset settings come from the environment (README: Configuration),
    or pass a whole ``settings=Settings.resolve(...)``. ``export()`` only hands spans to a
    background thread and returns at once.

    Besides the settings: ``is_tool_span`` (log spans no convention recognises), ``recognisers``
    (your own conventions, tried first), ``redact`` (``request -> request | None``) and
    ``transport_factory`` (your own HTTP transport, ``otel_tool_exporter.extend.Transport``).
    """

    def __init__(
        self,
        *,
        settings: Settings | None = None,
        is_tool_span: Callable[[SpanRecord], bool] | None = None,
        recognisers: Iterable[Recogniser] | None = None,
        redact: RedactHook | None = None,
        transport_factory: Callable[[], Transport] | None = None,
        **options: Unpack[ExporterOptions],
    ) -> None:
        ensure_heard()  # warnings reach stderr even when the application set up no logging
        if callable(options.get("transport")):
            raise ConfigurationError("transport: pass a transport name; your own transport goes in transport_factory=")
        if settings is not None and options:
            raise ConfigurationError(f"pass either settings= or individual settings, not both ({', '.join(options)})")
        try:
            self.settings = settings if settings is not None else Settings.resolve(**options)
        except ConfigurationError as exc:
            report_startup_error(exc)  # zero-code: one line instead of the SDK's two tracebacks
            raise
        registry = ConventionRegistry(is_tool_span=is_tool_span)
        for recogniser in recognisers or ():
            registry.add(recogniser, first=True)
        self.shutdown_timeout = self.settings.shutdown_timeout
        self._pipeline = Pipeline(self.settings, registry=registry, redact=redact, transport_factory=transport_factory)

    def __repr__(self) -> str:
        return f"ToolLogExporter(base_url={self.settings.base_url!r}, api_key='***')"

    @property
    def registry(self) -> ConventionRegistry:
        """The conventions that decide which spans are tool spans (``add()`` your own)."""
        return self._pipeline.registry

    def export(self, spans: Sequence[ReadableSpan | SpanRecord]) -> SpanExportResult:
        """Hand finished spans (SDK spans or ``SpanRecord``s) to the background thread."""
        offer = self._pipeline.inbox.offer_end
        try:
            for span in spans:
                offer(span)
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
