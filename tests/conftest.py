"""Shared fixtures: a real stub server over loopback, and an SDK provider wired to the exporter."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

from otel_tool_exporter import ToolLogExporter, ToolSpanProcessor
from otel_tool_exporter.stub import StubServer

FIXTURES = Path(__file__).parent / "fixtures"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--node",
        action="store_true",
        help="also run the Node OpenTelemetry client test, installing its npm packages on first use "
        "(npm ci into tests/js/node_modules, about 28 MB)",
    )


@pytest.fixture
def stub() -> Iterator[StubServer]:
    """A fresh stub server on a free loopback port, with an in-memory database."""
    with StubServer() as server:
        yield server


def make_exporter(stub: StubServer, **settings: Any) -> ToolLogExporter:
    settings.setdefault("api_key", "test-key")
    return ToolLogExporter(base_url=stub.base_url, **settings)


@pytest.fixture
def provider_for(stub: StubServer) -> Iterator[Any]:
    """``provider_for(**settings) -> (provider, exporter)``: SDK provider + ToolSpanProcessor → stub."""
    made: list[TracerProvider] = []

    def build(**settings: Any) -> tuple[TracerProvider, ToolLogExporter]:
        exporter = make_exporter(stub, **settings)
        provider = TracerProvider()
        provider.add_span_processor(ToolSpanProcessor(exporter))
        made.append(provider)
        return provider, exporter

    yield build
    for provider in made:
        provider.shutdown()


def logs_by_path(stub: StubServer) -> dict[str, list[dict[str, Any]]]:
    logs, _ = stub.store.list(size=100_000)
    out: dict[str, list[dict[str, Any]]] = {}
    for log in logs:
        out.setdefault(log["path"], []).append(log)
    return out


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())
