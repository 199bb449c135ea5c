"""Which convention claims a span: a fixed order, a few O(1) look-ups per span."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from otel_tool_exporter._internal.build.conventions._base import Recogniser, ToolCall, name_from_span
from otel_tool_exporter._internal.build.conventions._envelopes import result_object
from otel_tool_exporter._internal.build.conventions.agentops import AgentOpsToolRecogniser
from otel_tool_exporter._internal.build.conventions.braintrust import BraintrustToolRecogniser
from otel_tool_exporter._internal.build.conventions.genai import GenAIToolRecogniser
from otel_tool_exporter._internal.build.conventions.generic import (
    GenericToolRecogniser,
    complete_call,
    unclaimed_tool_hint,
)
from otel_tool_exporter._internal.build.conventions.haystack import HaystackToolRecogniser
from otel_tool_exporter._internal.build.conventions.humanloop import HumanloopSDKRecogniser
from otel_tool_exporter._internal.build.conventions.langfuse import LangfuseToolRecogniser
from otel_tool_exporter._internal.build.conventions.langsmith import LangSmithToolRecogniser
from otel_tool_exporter._internal.build.conventions.logfire import LogfireToolRecogniser
from otel_tool_exporter._internal.build.conventions.mlflow import MLflowToolRecogniser
from otel_tool_exporter._internal.build.conventions.openinference import OpenInferenceToolRecogniser
from otel_tool_exporter._internal.build.conventions.pydantic_ai_v2 import PydanticAIV2Recogniser
from otel_tool_exporter._internal.build.conventions.traceloop import TraceloopToolRecogniser
from otel_tool_exporter._internal.build.conventions.vercel import VercelToolRecogniser
from otel_tool_exporter._internal.build.values import MISSING
from otel_tool_exporter._internal.spans import SpanRecord

__all__ = ["ConventionRegistry", "default_recognisers"]

_MAX_PLAIN = 4096
_MAX_KNOWN = 1024  # span kinds (name and attribute keys) whose candidates are remembered

ToolSpanPredicate = Callable[[SpanRecord], bool]


def default_recognisers() -> list[Recogniser]:
    """Built-in recognisers in their fixed order: most specific first, GenAI semconv last.

    The order matters only when a span carries several markers, and then it is always a more
    specific convention layered over the generic ``gen_ai.operation.name = "execute_tool"``:

    1. Humanloop SDK (``humanloop.tool``): the user's own explicit Tool Log;
    2. pydantic-ai v2 (``running tool``): also marked ``execute_tool``, but keeps the call in
       ``tool_arguments`` / ``tool_response``;
    3. OpenLLMetry/Traceloop (``traceloop.span.kind``): also marked ``execute_tool``, but its
       ``gen_ai.tool.call.*`` values are LangChain callback envelopes;
    4. LangSmith OTel mode (``langsmith.span.kind``): may carry ``gen_ai.*`` keys too;
    5. OpenInference (``openinference.span.kind``), 6. Vercel AI SDK (``ai.toolCall``),
       7. Langfuse, 8. MLflow, 9. AgentOps, 10. Braintrust, 11. Haystack, 12. Logfire's OpenAI
       Agents spans (``Function: {name}``): disjoint markers;
    13. OTel GenAI semantic conventions (pydantic-ai v3+, Google ADK, Strands, Logfire, …);
    14. the general recogniser: tool-call keys in any namespace (``acme.tool.name`` +
        ``acme.tool.input``, a span named ``….tool``), for frameworks without a convention here.
        It has no marker: its cheap ``might_claim`` pre-filter decides when it is asked.

    A recogniser that declines a span (returns ``None``) passes it on to the next candidate.
    """
    return [
        HumanloopSDKRecogniser(),
        PydanticAIV2Recogniser(),
        TraceloopToolRecogniser(),
        LangSmithToolRecogniser(),
        OpenInferenceToolRecogniser(),
        VercelToolRecogniser(),
        LangfuseToolRecogniser(),
        MLflowToolRecogniser(),
        AgentOpsToolRecogniser(),
        BraintrustToolRecogniser(),
        HaystackToolRecogniser(),
        LogfireToolRecogniser(),
        GenAIToolRecogniser(),
        GenericToolRecogniser(),
    ]


class ConventionRegistry:
    """Offers a span to the recognisers whose marker it carries, in registration order.

    ``is_tool_span`` is the user's escape hatch: a span it accepts that no convention claims is
    still logged, as a generic tool named after the span.
    """

    def __init__(
        self,
        recognisers: Iterable[Recogniser] | None = None,
        *,
        is_tool_span: ToolSpanPredicate | None = None,
    ) -> None:
        self._recognisers: list[Recogniser] = []
        self._by_name: dict[str, list[Recogniser]] = {}
        self._by_prefix: dict[str, list[Recogniser]] = {}
        self._markers: list[tuple[str, Recogniser]] = []
        self._fallback_checks: tuple[tuple[Recogniser, Callable[[Any, Mapping[str, Any]], bool]], ...] = ()
        self.is_tool_span = is_tool_span
        for recogniser in recognisers if recognisers is not None else default_recognisers():
            self.add(recogniser)

    @property
    def recognisers(self) -> tuple[Recogniser, ...]:
        return tuple(self._recognisers)

    def add(self, recogniser: Recogniser, *, first: bool = False) -> None:
        """Register a recogniser; ``first=True`` lets a user's recogniser win over built-ins."""
        if first:
            self._recognisers.insert(0, recogniser)
        else:
            self._recognisers.append(recogniser)
        self._rebuild()

    def _rebuild(self) -> None:
        self._by_name = {}
        self._by_prefix = {}
        self._markers = []
        # recognisers without markers, asked (in order, after every named one) when no marker,
        # span name or name prefix matched: their might_claim is their own cheap pre-filter
        self._fallback_checks = tuple(
            (recogniser, check)
            for recogniser in self._recognisers
            if callable(check := getattr(recogniser, "might_claim", None))
        )
        for recogniser in self._recognisers:
            for span_name in getattr(recogniser, "span_names", ()):
                self._by_name.setdefault(span_name, []).append(recogniser)
            for prefix in getattr(recogniser, "span_name_prefixes", ()):
                self._by_prefix.setdefault(prefix, []).append(recogniser)
            for key in getattr(recogniser, "marker_keys", ()):
                self._markers.append((key, recogniser))
        self._marker_keys = frozenset(key for key, _ in self._markers)
        # names and keys of spans no recogniser could claim, and the candidates of the name and
        # keys of spans some could; kept only while every marker-less recogniser is the general
        # one, whose pre-filter judges by the span's name and keys alone (never their values)
        self._known: dict[tuple[Any, ...], tuple[Recogniser, ...]] = {}
        self._plain_names: set[str] = set()
        self._plain_keys: set[str] = set()
        self._cacheable = all(type(recogniser) is GenericToolRecogniser for recogniser, _ in self._fallback_checks)

    def _candidates(self, name: Any, attrs: Mapping[str, Any]) -> list[Recogniser]:
        """Recognisers whose span name, name prefix (first word) or marker key matches, else the
        marker-less ones whose pre-filter accepts the span; in registration order.

        An ordinary span, whose name and every key were seen before on spans no recogniser could
        claim, costs one set look-up and one set test (every test behind them is per name or per
        key, so their verdict for a name or a key never changes); a span some recogniser may
        claim, whose name and keys were seen together before, one dict look-up."""
        if name in self._plain_names and self._plain_keys.issuperset(attrs):
            return []
        if not self._cacheable or type(name) is not str:
            return self._candidates_slow(name, attrs)
        # the same kind of span comes back again and again: its verdict is one dict look-up
        key = (name, *attrs)
        known = self._known.get(key)
        if known is not None:
            return list(known)
        found = self._candidates_slow(name, attrs)
        if found:  # ordinary spans are remembered by name and key apart, below
            if len(self._known) < _MAX_KNOWN:
                self._known[key] = tuple(found)
        else:
            if len(self._plain_names) < _MAX_PLAIN:
                self._plain_names.add(name)
            if len(self._plain_keys) < _MAX_PLAIN:
                self._plain_keys.update(attrs)
        return found

    def _candidates_slow(self, name: Any, attrs: Mapping[str, Any]) -> list[Recogniser]:
        """One dict look-up per name and per marker key, then the marker-less pre-filters."""
        markers = self._marker_keys
        no_marker = (
            markers.isdisjoint(attrs)  # iterates the span's keys: the cheaper side for most spans
            if len(attrs) <= 2 * len(markers)
            else not any(key in attrs for key in markers)
        )
        if no_marker and name not in self._by_name:
            # the common case, an ordinary span: a set test over its keys, in C
            prefixes = self._by_prefix
            if not prefixes or type(name) is not str or (space := name.find(" ")) < 0 or name[:space] not in prefixes:
                # no named convention's marker: the marker-less recognisers' own cheap pre-filters
                checks = self._fallback_checks
                if len(checks) == 1:  # the usual case: the general recogniser alone
                    recogniser, check = checks[0]
                    return [recogniser] if check(name, attrs) else []
                return [recogniser for recogniser, check in checks if check(name, attrs)]
        found: list[Recogniser] = []
        if isinstance(name, str):
            found.extend(self._by_name.get(name, ()))
            if self._by_prefix and " " in name:
                for recogniser in self._by_prefix.get(name.split(" ", 1)[0], ()):
                    if recogniser not in found:
                        found.append(recogniser)
        for key, recogniser in self._markers:
            if key in attrs and recogniser not in found:
                found.append(recogniser)
        if len(found) > 1:
            order = self._recognisers
            found.sort(key=order.index)
        return found

    def may_claim(self, name: Any, attrs: Mapping[str, Any]) -> bool:
        """Whether any recogniser (or the user's predicate) could claim a span with this name and
        these attributes; ``False`` means it is certainly not a tool span."""
        return self.is_tool_span is not None or bool(self._candidates(name, attrs))

    def candidates(self, span: SpanRecord) -> list[Recogniser]:
        return self._candidates(span.name, span.attributes)

    def looks_like_tool(self, name: str, attributes: Mapping[str, Any]) -> bool:
        """Start-time guess (attributes may still change): is this span going to be a tool span?

        Only ``get`` look-ups on the live span's attributes, so it is safe while the application
        keeps writing to them. The finished span is recognised again, properly, at its end."""
        try:
            candidates = self._candidates(name, attributes)
        except Exception:
            return False
        for recogniser in candidates:
            check = getattr(recogniser, "matches_at_start", None)
            try:
                if check is None or check(name, attributes):
                    return True
            except Exception:
                continue
        return False

    def recognise(self, span: SpanRecord) -> ToolCall | None:
        """The span's tool call, or ``None`` for a non-tool span. Never raises: a recogniser that
        fails on odd input is skipped (and the next one asked)."""
        for recogniser in self.candidates(span):
            try:
                call = recogniser.recognise(span)
            except Exception:
                continue
            if call is not None:
                return _finish(call, span)
        if self.is_tool_span is not None:
            try:
                accepted = bool(self.is_tool_span(span))
            except Exception:
                accepted = False
            if accepted:
                return _finish(ToolCall(name=span.name, convention="predicate"), span)
        return None

    def unclaimed_tool_hint(self, span: SpanRecord) -> str | None:
        """For a span no convention claims: why it looks like a tool call and how to claim it, or
        ``None`` when it does not look like one. Pure: the caller decides where to say it."""
        try:
            return unclaimed_tool_hint(span)
        except Exception:
            return None


def _finish(call: ToolCall, span: SpanRecord) -> ToolCall:
    """What every convention's call gets: a tool name taken from a method-call span name loses the
    method (``get_weather.__call__`` → ``get_weather``), what the convention left unread is read
    from tool-call keys of any namespace, and a serialized result object or tool message is
    unwrapped to the tool's own return value. Each step that fails on odd input is left out:
    the call stays as the convention gave it (never raises)."""
    try:
        if call.name == span.name:
            call.name = name_from_span(call.name)
    except Exception:
        pass
    if call.convention != GenericToolRecogniser.name:
        try:
            complete_call(call, span)
        except Exception:
            pass
    if call.result is not MISSING:
        try:
            result, error, matched = result_object(call.result)
        except Exception:
            matched = False
        if matched:
            call.result = result
            if error and not call.error:
                call.error = error
    return call
