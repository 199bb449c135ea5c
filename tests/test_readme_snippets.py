"""Every Python block of the README marked ``<!-- runnable -->`` runs as a user would paste it: in
a fresh interpreter, configured by the environment only (``HUMANLOOP_BASE_URL`` names a real stub
over loopback). Where a block sets up tracing, a tool call made afterwards through the global
OpenTelemetry API must arrive at the stub as a Log — so a snippet that forgets
``trace.set_tracer_provider`` fails here."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from otel_tool_exporter.stub import StubServer

README = Path(__file__).resolve().parent.parent / "README.md"
_BLOCK = re.compile(r"<!-- runnable -->\n```python\n(.*?)```", re.S)

# What the user's application does next: one tool call through the global API, then a flush.
_TOOL_CALL = textwrap.dedent(
    """
    from opentelemetry import trace as _trace
    with _trace.get_tracer("readme").start_as_current_span(
        "execute_tool readme_check",
        attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "readme_check"},
    ):
        pass
    _provider = _trace.get_tracer_provider()
    assert hasattr(_provider, "force_flush"), "the global tracer provider is still the no-op default"
    assert _provider.force_flush(10_000)
    """
)


def _blocks() -> list[str]:
    return _BLOCK.findall(README.read_text(encoding="utf-8"))


def _sets_up_tracing(code: str) -> bool:
    return "ToolSpanProcessor" in code or "configure(" in code


def test_the_readme_marks_its_setup_snippets_runnable() -> None:
    blocks = _blocks()
    assert len(blocks) >= 3
    assert any("set_tracer_provider(provider)" in b for b in blocks)  # the recommended setup is complete


@pytest.mark.parametrize("index", range(len(_blocks())))
def test_readme_block_runs_against_a_stub(index: int, stub: StubServer) -> None:
    code = _blocks()[index]
    sends = _sets_up_tracing(code)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUMANLOOP_", "OTEL_"))}
    env.update(HUMANLOOP_BASE_URL=stub.base_url, OTEL_TOOL_EXPORTER_PATH_PREFIX="readme/")
    run = subprocess.run(
        [sys.executable, "-c", code + (_TOOL_CALL if sends else "")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, f"README block {index} failed:\n{code}\n{run.stderr}"
    assert "Traceback" not in run.stderr
    if sends:
        logs, _ = stub.store.list(size=10)
        assert [log["path"] for log in logs] == ["readme/readme_check"], code
