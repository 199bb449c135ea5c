"""Recognising tool spans: one module per convention family, plus the registry."""

from otel_tool_exporter._internal.build.conventions._base import Recogniser, ToolCall, ToolSchemaHint
from otel_tool_exporter._internal.build.conventions.registry import ConventionRegistry, default_recognisers

__all__ = ["ConventionRegistry", "Recogniser", "ToolCall", "ToolSchemaHint", "default_recognisers"]
