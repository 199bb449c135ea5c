"""Secrets stay put: header values masked wherever settings are shown, the spool private to its user."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider

from otel_tool_exporter import Settings, ToolSpanProcessor
from otel_tool_exporter.stub import StubServer

from .conftest import make_exporter
from .spans_util import tool

HEADER_SECRET = "Bearer corp-SECRET-token-42"


def test_header_values_are_masked_in_every_rendering_of_the_settings() -> None:
    settings = Settings.resolve({}, api_key="sk-key-SECRET", headers={"Authorization": HEADER_SECRET, "X-Team": "a"})
    renderings = [repr(settings), str(settings), f"{settings}", settings.model_dump_json(), str(settings.model_dump())]
    for text in renderings:
        assert "SECRET" not in text, text
        assert "'Authorization': '***'" in text or '"Authorization":"***"' in text
    assert settings.headers["Authorization"] == HEADER_SECRET, "the real value is still what is sent"


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_the_in_process_spool_is_private_to_its_user(stub: StubServer, tmp_path: Path) -> None:
    spool = tmp_path / "state" / "spool"  # does not exist yet: the exporter creates it
    previous = os.umask(0o022)  # the common default, which would leave files world-readable
    try:
        exporter = make_exporter(stub, spool_dir=str(spool))
        provider = TracerProvider()
        provider.add_span_processor(ToolSpanProcessor(exporter))
        with tool(provider.get_tracer("t"), "lookup", {"card": "4111"}, result={"ok": True}):
            pass
        assert provider.force_flush(10_000)
        files = [p for p in spool.iterdir() if p.is_file()]
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in files}
        provider.shutdown()
    finally:
        os.umask(previous)
    assert stat.S_IMODE(spool.stat().st_mode) == 0o700
    assert any(name.endswith(".db") for name in modes) and any(name.endswith(".lock") for name in modes)
    assert all(mode == 0o600 for mode in modes.values()), modes
