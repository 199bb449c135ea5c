"""The build stage in one call: a finished span → the Log request it becomes, or why none.

Recognise (which convention claims the span), learn (tool schemas and call ids from sibling LLM
spans of the same trace), map (span → Log fields), redact (secret-looking keys, then the user's
hook). No I/O and no clock: the exporter, the sidecar and ``doctor`` all build through here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from otel_tool_exporter._internal.build.conventions import ConventionRegistry
from otel_tool_exporter._internal.build.mapping import EXPLICIT_PARENT_KEY, map_recognised
from otel_tool_exporter._internal.build.redaction import RedactHook, Redactor, apply_hook
from otel_tool_exporter._internal.build.schemas import SchemaMemory
from otel_tool_exporter._internal.spans import SpanRecord
from otel_tool_exporter.models import ToolLogRequest
from otel_tool_exporter.settings import Settings

__all__ = ["EARLY_UNKNOWN", "Builder", "LogDraft", "NotLogged"]

# what a running span cannot tell yet: left out of its early Log, sent when it is completed
EARLY_UNKNOWN = ("output", "error", "end_time", "created_at", "provider_latency", "stdout")


@dataclass(slots=True)
class LogDraft:
    """A tool span's Log request, complete but for where it nests (``trace_parent_id``)."""

    request: ToolLogRequest
    version_id: str | None
    environment: str | None
    explicit_parent: str | None


@dataclass(slots=True, frozen=True)
class NotLogged:
    """A finished span that becomes no Log: not a tool (``dropped`` None), or a tool dropped on
    purpose (``dropped`` = ``redacted`` / ``redact_hook_error``; ``detail`` says more)."""

    explicit_parent: str | None = None
    dropped: str | None = None
    detail: str | None = None


class Builder:
    def __init__(
        self, settings: Settings, registry: ConventionRegistry | None = None, redact: RedactHook | None = None
    ) -> None:
        self.settings = settings
        self.registry = registry or ConventionRegistry()
        self.redactor = Redactor(settings.redact_keys)
        self.redact_hook = redact
        self.schemas = SchemaMemory()

    def may_matter(self, name: Any, attributes: Mapping[str, Any]) -> bool:
        """False when a finished span certainly becomes no Log and teaches no schema: then only
        its place in the tree matters, and it need not be read into a :class:`SpanRecord`."""
        return self.registry.may_claim(name, attributes) or self.schemas.wants(attributes)

    def judge_open(self, name: str, attributes: Mapping[str, Any]) -> tuple[bool | None, str | None]:
        """What a still-open span is, judged now: a tool (True), an ordinary span (False), or
        not known yet (None: no attributes to judge by); and its explicit parent Log id."""
        explicit = attributes.get(EXPLICIT_PARENT_KEY)
        is_tool = True if self.registry.looks_like_tool(name, attributes) else (False if attributes else None)
        return is_tool, str(explicit) if explicit else None

    def build_open(self, span: SpanRecord) -> LogDraft | None:
        """The early Log of a tool span still running: what is known so far (path, tool, inputs
        if recorded, start time, metadata) — no output, error, end or latency yet. ``None`` when
        the span does not read as a tool call yet, or the hook drops it."""
        built = self.build(span)
        if not isinstance(built, LogDraft):
            return None
        request = built.request
        for name in EARLY_UNKNOWN:
            setattr(request, name, None)
        otel = request.metadata.get("otel") if isinstance(request.metadata, dict) else None
        if isinstance(otel, dict):
            otel["running"] = True  # this Log was created while its span ran (completed at its end)
            otel.pop("status_code", None)
        return built

    def build(self, span: SpanRecord) -> LogDraft | NotLogged:
        call = self.registry.recognise(span)
        if call is None:
            if self.schemas.wants(span.attributes):
                self.schemas.learn(span)
            explicit = span.attributes.get(EXPLICIT_PARENT_KEY)
            return NotLogged(str(explicit) if explicit else None)
        mapped = map_recognised(span, call, self.settings, self.schemas)
        request = mapped.request
        self.redactor.apply(request)
        if self.redact_hook is not None:
            try:
                hooked = apply_hook(self.redact_hook, request)
            except Exception as exc:
                return NotLogged(mapped.explicit_parent, "redact_hook_error", type(exc).__name__)
            if hooked is None:
                return NotLogged(mapped.explicit_parent, "redacted")
            request = hooked
        return LogDraft(request, mapped.version_id, mapped.environment, mapped.explicit_parent)
