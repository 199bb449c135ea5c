"""The README's first command: ``otel-tool-exporter demo`` runs and prints a correct Log tree."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest


def run_demo() -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUMANLOOP_", "OTEL_TOOL_EXPORTER_"))}
    env["PYTHONIOENCODING"] = "utf-8"
    exe = shutil.which("otel-tool-exporter")
    command = [exe, "demo"] if exe else [sys.executable, "-m", "otel_tool_exporter.cli", "demo"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=90, check=False)


@pytest.fixture(scope="module")
def demo() -> subprocess.CompletedProcess[str]:
    return run_demo()


def test_demo_exits_cleanly(demo: subprocess.CompletedProcess[str]) -> None:
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "Traceback" not in demo.stderr


def test_demo_reports_every_tool_span_delivered(demo: subprocess.CompletedProcess[str]) -> None:
    match = re.search(r"Exported (\d+) tool spans -> (\d+) Logs", demo.stdout)
    assert match, demo.stdout
    assert match.group(1) == match.group(2) == "5"


def _line(lines: list[str], text: str) -> int:
    found = [i for i, line in enumerate(lines) if text in line]
    assert found, f"{text!r} not in demo output:\n" + "\n".join(lines)
    return found[0]


def test_demo_prints_inputs_outputs_and_the_error(demo: subprocess.CompletedProcess[str]) -> None:
    lines = demo.stdout.splitlines()
    for path, inputs, result in [
        ("demo/get_weather", '{"city": "Paris"}', "output: Sunny, 21C in Paris"),
        ("demo/lookup_user", '{"user_id": 42}', 'output: {"id":42,"name":"Ada"'),
        ("demo/fail_tool", '{"reason": "disk full"}', "error:  ValueError: boom: disk full"),
        ("demo/research", '{"topic": "otel"}', "output: Summary of otel"),
        ("demo/search_web", '{"query": "otel"}', "output: 3 results for otel"),
    ]:
        at = _line(lines, path)
        block = "\n".join(lines[at + 1 : at + 3])
        assert f"inputs: {inputs}" in block, (path, block)
        assert result in block, (path, block)


def test_demo_prints_the_nesting(demo: subprocess.CompletedProcess[str]) -> None:
    """search_web ran inside research: it is printed under it, indented one level deeper."""
    lines = demo.stdout.splitlines()
    research, search = _line(lines, "demo/research"), _line(lines, "demo/search_web")
    assert search > research
    assert lines[search].index("demo/search_web") > lines[research].index("demo/research")
    top = [lines[_line(lines, p)].index(p) for p in ("demo/get_weather", "demo/lookup_user", "demo/fail_tool")]
    assert set(top) == {lines[research].index("demo/research")}, "top-level tools are siblings"


def test_demo_prints_the_stub_url(demo: subprocess.CompletedProcess[str]) -> None:
    assert re.search(r"http://127\.0\.0\.1:\d+/", demo.stdout)
