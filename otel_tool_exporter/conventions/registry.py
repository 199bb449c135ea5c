"""Which convention claims a span: a fixed order, a few O(1) look-ups per span."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..spans import SpanRecord
from ._base import Recogniser, ToolCall
from .genai import GenAIToolRecogniser
from .humanloop import HumanloopSDKRecogniser

__all__ = ["ConventionRegistry", "default_recognisers"]

ToolSpanPredicate = Callable[[SpanRecord], bool]


def default_recognisers() -> list[Recogniser]:
    """Built-in recognisers, most specific first (Humanloop's own spans win over GenAI ones)."""
    return [HumanloopSDKRecogniser(), GenAIToolRecogniser()]


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
        self._markers: list[tuple[str, Recogniser]] = []
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
        self._markers = []
        for recogniser in self._recognisers:
            for span_name in recogniser.span_names:
                self._by_name.setdefault(span_name, []).append(recogniser)
            for key in recogniser.marker_keys:
                self._markers.append((key, recogniser))

    def candidates(self, span: SpanRecord) -> list[Recogniser]:
        attrs = span.attributes
        found = list(self._by_name.get(span.name, ()))
        for key, recogniser in self._markers:
            if key in attrs and recogniser not in found:
                found.append(recogniser)
        if len(found) > 1:
            order = self._recognisers
            found.sort(key=order.index)
        return found

    def looks_like_tool(self, name: str, attributes: Mapping[str, Any]) -> bool:
        """Start-time guess (attributes may still change): is this span going to be a tool span?

        Only ``get`` look-ups on the live span's attributes, so it is safe while the application
        keeps writing to them. The finished span is recognised again, properly, at its end."""
        candidates = list(self._by_name.get(name, ()))
        for key, recogniser in self._markers:
            if key in attributes and recogniser not in candidates:
                candidates.append(recogniser)
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
                return call
        if self.is_tool_span is not None:
            try:
                accepted = bool(self.is_tool_span(span))
            except Exception:
                accepted = False
            if accepted:
                return ToolCall(name=span.name, convention="predicate")
        return None
