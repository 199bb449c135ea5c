"""Recognising tool spans: one module per convention family, plus the registry."""

from ._base import Recogniser, ToolCall, ToolSchemaHint
from .registry import ConventionRegistry, default_recognisers

__all__ = ["ConventionRegistry", "Recogniser", "ToolCall", "ToolSchemaHint", "default_recognisers"]
