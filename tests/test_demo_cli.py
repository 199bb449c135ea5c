"""The README's first command: ``otel-tool-exporter demo`` runs and prints a correct Log tree."""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys

import httpx
import pytest

from otel_tool_exporter.stub import StubServer
from tests.test_cli import launched, stopped_by

pytestmark = pytest.mark.slow  # each test runs the real demo command in a subprocess


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


# ---------------------------------------------------------------- it tells the truth about where and what
def _demo_with(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HUMANLOOP_", "OTEL_TOOL_EXPORTER_"))}
    exe = shutil.which("otel-tool-exporter")
    if exe is None:
        pytest.skip("the otel-tool-exporter console script is not installed (pip install -e .)")
    return subprocess.run(
        [exe, "demo", *args],
        env={**base, "PYTHONIOENCODING": "utf-8", **env},
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_demo_uses_the_running_stub_named_by_humanloop_base_url(stub: StubServer) -> None:
    run = _demo_with(HUMANLOOP_BASE_URL=stub.base_url)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"Exported 5 tool spans -> 5 Logs to {stub.base_url} (the stub named by HUMANLOOP_BASE_URL)" in run.stdout
    assert stub.store.count() == 5  # they went to that stub, not to one of the demo's own
    assert "Log tree received by the stub (5 Logs)" in run.stdout
    assert f"Trace view: {stub.root_url}/" in run.stdout
    assert "Humanloop" not in run.stdout.replace("HUMANLOOP_BASE_URL", "")


def test_demo_against_a_stub_that_is_not_running_is_one_line() -> None:
    run = _demo_with(HUMANLOOP_BASE_URL="http://127.0.0.1:9/v5")
    assert run.returncode == 1
    assert run.stdout == ""
    assert run.stderr.strip().splitlines() == [
        "otel-tool-exporter demo: no stub answers at http://127.0.0.1:9/v5 (HUMANLOOP_BASE_URL): start one with "
        "`otel-tool-exporter stub`, or unset HUMANLOOP_BASE_URL to let the demo run its own"
    ]


def test_demo_says_when_no_log_arrived(stub: StubServer) -> None:
    stub.set_faults(error_rate=1.0, status=401)
    run = _demo_with(HUMANLOOP_BASE_URL=stub.base_url)
    assert run.returncode == 1
    assert "Exported 5 tool spans -> 0 Logs" in run.stdout and "failed: 5 " in run.stdout
    assert "No Log of this run arrived at the stub." in run.stdout
    assert "Traceback" not in run.stderr


def test_demo_to_a_server_says_no_log_arrived_and_never_sends_you_to_humanloop(
    stub: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The branch for a non-local server, run against the stub (told it is remote) answering 401."""
    from otel_tool_exporter.cli import demo

    stub.set_faults(error_rate=1.0, status=401)
    monkeypatch.setattr(demo, "is_loopback_url", lambda url: False)
    monkeypatch.setenv("HUMANLOOP_BASE_URL", stub.base_url)
    monkeypatch.setenv("HUMANLOOP_API_KEY", "bad-key")
    out = io.StringIO()
    assert demo.run_demo(out=out) == 1
    text = out.getvalue()
    assert "-> 0 Logs" in text
    assert "No Log arrived. `otel-tool-exporter doctor` checks the URL and the API key." in text
    assert "Open Humanloop" not in text


def test_demo_wait_keeps_a_fixed_printed_url_until_ctrl_c() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with launched("demo", "--wait", "--port", str(port)) as proc:
        assert proc.stdout is not None
        lines: list[str] = []
        while not lines or not lines[-1].startswith("The stub keeps running"):
            line = proc.stdout.readline()
            assert line, "demo --wait ended early"
            lines.append(line.rstrip("\n"))
        assert f"Trace view: http://127.0.0.1:{port}/   (Logs API: http://127.0.0.1:{port}/v5/logs)" in lines
        assert not any("browser" in line for line in lines)  # no terminal here, so no offer
        assert httpx.get(f"http://127.0.0.1:{port}/v5/logs", timeout=5).json()["total"] == 5
        assert stopped_by(proc, signal.SIGINT) == 130


def test_demo_without_wait_says_the_stub_is_gone(demo: subprocess.CompletedProcess[str]) -> None:
    assert "The stub ran inside this command and has stopped" in demo.stdout
    assert "Open Humanloop" not in demo.stdout


@pytest.mark.parametrize(
    ("tty", "display", "browser_found", "offered"),
    [
        (False, ":0", True, False),  # piped or scripted: nobody to answer
        (True, None, True, False),  # a terminal without a desktop (ssh, container)
        (True, ":0", False, False),  # a desktop without a browser the webbrowser module knows
        (True, ":0", True, True),
    ],
)
def test_demo_offers_a_browser_only_when_one_can_open(
    monkeypatch: pytest.MonkeyPatch, tty: bool, display: str | None, browser_found: bool, offered: bool
) -> None:
    import webbrowser

    from otel_tool_exporter.cli import demo

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return tty

    def get(using: str | None = None) -> object:
        if not browser_found:
            raise webbrowser.Error("could not locate runnable browser")
        return object()

    opened: list[str] = []
    monkeypatch.setattr(sys, "stdin", Terminal("y\n"))
    monkeypatch.setattr(sys, "stdout", Terminal())
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    if display is None:
        monkeypatch.delenv("DISPLAY", raising=False)
    else:
        monkeypatch.setenv("DISPLAY", display)
    monkeypatch.setattr(webbrowser, "get", get)
    monkeypatch.setattr(webbrowser, "open", lambda url, *a, **k: opened.append(url) or True)
    out = io.StringIO()
    demo._offer_browser("http://127.0.0.1:8000/", out)
    assert opened == (["http://127.0.0.1:8000/"] if offered else [])
