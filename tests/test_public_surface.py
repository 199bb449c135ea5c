"""The public surface is curated: these names, these modules, nothing else by accident.

Changing what a user can import is a decision, so it changes this test on purpose."""

from __future__ import annotations

import inspect
import pkgutil

import otel_tool_exporter
import otel_tool_exporter.extend
from otel_tool_exporter import Settings, ToolLogExporter, ToolSpanProcessor, configure
from otel_tool_exporter.exporter import ExporterOptions

TOP_LEVEL = {
    "ConfigurationError",
    "Settings",
    "SpanRecord",
    "ToolLogExporter",
    "ToolLogRequest",
    "ToolLogResponse",
    "ToolSpanProcessor",
    "__version__",
    "configure",
}
EXTEND = {
    "AiohttpTransport",
    "ConnectError",
    "ConventionRegistry",
    "EventRecord",
    "HttpxTransport",
    "Recogniser",
    "RedactHook",
    "RequestTimeoutError",
    "SpanRecord",
    "ToolCall",
    "ToolLogRequest",
    "ToolSchemaHint",
    "Transport",
    "TransportError",
    "TransportResponse",
}
# modules a user may import (the shells are run, not imported, but their names are stable too)
PUBLIC_MODULES = {
    "otel_tool_exporter.autoinstrument",  # the opentelemetry_post_instrument entry point
    "otel_tool_exporter.cli",
    "otel_tool_exporter.exporter",
    "otel_tool_exporter.extend",
    "otel_tool_exporter.models",
    "otel_tool_exporter.processor",
    "otel_tool_exporter.settings",
    "otel_tool_exporter.sidecar",
    "otel_tool_exporter.stub",
}


def test_the_top_level_names_are_exactly_these() -> None:
    assert set(otel_tool_exporter.__all__) == TOP_LEVEL
    for name in TOP_LEVEL:
        assert getattr(otel_tool_exporter, name) is not None


def test_what_you_plug_in_lives_in_extend() -> None:
    assert set(otel_tool_exporter.extend.__all__) == EXTEND
    for name in EXTEND:
        assert getattr(otel_tool_exporter.extend, name) is not None


def test_every_other_module_is_private() -> None:
    found = set()
    for info in pkgutil.iter_modules(otel_tool_exporter.__path__, "otel_tool_exporter."):
        if not info.name.rsplit(".", 1)[-1].startswith("_"):
            found.add(info.name)
    assert found == PUBLIC_MODULES


def test_every_setting_is_a_keyword_argument_an_ide_can_see() -> None:
    """``ToolLogExporter(**options)`` is typed by ``ExporterOptions``: one key per setting."""
    assert set(ExporterOptions.__annotations__) == set(Settings.model_fields)
    for callable_ in (ToolLogExporter.__init__, ToolSpanProcessor.__init__, configure):
        kinds = {p.kind for p in inspect.signature(callable_).parameters.values()}
        assert inspect.Parameter.VAR_KEYWORD in kinds
        annotation = str(inspect.signature(callable_).parameters[_var_keyword(callable_)].annotation)
        assert "ExporterOptions" in annotation, f"{callable_.__qualname__} takes untyped **kwargs"


def test_a_transport_factory_is_its_own_argument() -> None:
    import pytest

    with pytest.raises(otel_tool_exporter.ConfigurationError, match="transport_factory"):
        ToolLogExporter(api_key="k", transport=lambda: None)  # type: ignore[typeddict-item]


def _var_keyword(callable_: object) -> str:
    for name, param in inspect.signature(callable_).parameters.items():  # type: ignore[arg-type]
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            return name
    raise AssertionError("no **kwargs")


def test_the_product_docs_stand_alone() -> None:
    """The package, its help texts and its docs explain themselves: they never send a reader to
    a document the product does not contain."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    files = [
        *root.joinpath("otel_tool_exporter").rglob("*.py"),
        *root.joinpath("otel_tool_exporter").rglob("*.html"),
        *root.joinpath("otel_tool_exporter").rglob("*.js"),
        *root.joinpath("docs").rglob("*.md"),
        *root.joinpath("examples").rglob("*.py"),
        *root.joinpath("examples").rglob("*.md"),
        root / "README.md",
        root / "benchmarks" / "README.md",
    ]
    cited = [
        f"{path.relative_to(root)}: {marker}"
        for path in files
        if path.is_file()
        for marker in ("SPEC §", "SPEC.md", "shared/SPEC", "shared/reference", "steering repo")
        if marker in path.read_text(encoding="utf-8", errors="replace")
    ]
    assert cited == []
