"""A server that cannot be reached is said at once, a short script exits within ~10 s whatever
its entry path, what was not delivered is counted on stderr, and Ctrl-C at exit stops at once.

Each case runs a real script in a real process, with no logging set up by the script: what the
user sees is what reaches stderr.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

SPANS = """
tracer = trace.get_tracer("script")
for i in range(3):
    with tracer.start_as_current_span("execute_tool t", attributes={
        "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "t", "gen_ai.tool.call.arguments": "{}"}):
        pass
import sys
print("ended", file=sys.stderr, flush=True)
"""

SCRIPTS = {
    "own provider": """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from otel_tool_exporter import ToolLogExporter, ToolSpanProcessor
provider = TracerProvider()
provider.add_span_processor(ToolSpanProcessor(ToolLogExporter()))
trace.set_tracer_provider(provider)
""",
    "configure()": """
from opentelemetry import trace
import otel_tool_exporter
otel_tool_exporter.configure()
""",
    "opentelemetry-instrument": """
from opentelemetry import trace
""",
}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Run:
    """A script in its own process; stderr lines with the second they arrived at."""

    def __init__(self, tmp_path: Path, entry: str, env: dict[str, str], *, linger: float = 0.0) -> None:
        script = tmp_path / "app.py"
        script.write_text(SCRIPTS[entry] + SPANS + (f"import time; time.sleep({linger})\n" if linger else ""))
        command = [sys.executable, str(script)]
        if entry == "opentelemetry-instrument":
            command = [str(Path(sys.executable).with_name("opentelemetry-instrument")), *command]
            env = {
                **env,
                "OTEL_TRACES_EXPORTER": "humanloop",
                "OTEL_METRICS_EXPORTER": "none",
                "OTEL_LOGS_EXPORTER": "none",
            }
        self.started = time.monotonic()
        self.proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[tuple[float, str]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append((time.monotonic() - self.started, line.rstrip("\n")))

    def wait(self, timeout: float = 60) -> float:
        """Seconds from the script's last span to the process's end."""
        self.proc.wait(timeout)
        ended_at = time.monotonic() - self.started
        self._reader.join(5)
        return ended_at - self.ended_at()

    def ended_at(self, timeout: float = 30) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, line in self.lines:
                if line == "ended":
                    return at
            time.sleep(0.02)
        raise AssertionError(f"the script never ended its spans: {self.stderr}")

    @property
    def stderr(self) -> str:
        return "\n".join(line for _, line in self.lines)


def _env(base_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "HUMANLOOP_"))}
    return {**env, "HUMANLOOP_BASE_URL": base_url, **extra}


@pytest.mark.slow
@pytest.mark.parametrize("entry", list(SCRIPTS))
def test_an_unreachable_server_is_said_at_once_and_exit_is_bounded(tmp_path: Path, entry: str) -> None:
    port = _closed_port()
    run = Run(tmp_path, entry, _env(f"http://127.0.0.1:{port}/v5"))
    took = run.wait()
    assert run.proc.returncode == 0, run.stderr
    assert took < 11.5, f"exit took {took:.1f} s after the last span"
    said = [(t, line) for t, line in run.lines if f"cannot reach 127.0.0.1:{port} (connection refused)" in line]
    assert len(said) == 1, run.stderr  # once, naming host:port and the cause
    report = [line for _, line in run.lines if "not delivered by exit" in line]
    assert len(report) == 1, run.stderr
    assert "3 Logs" in report[0] and "connection refused" in report[0] and "lost" in report[0]
    assert "Traceback" not in run.stderr


@pytest.mark.slow
def test_the_first_failure_is_said_within_seconds_not_when_retries_run_out(tmp_path: Path) -> None:
    port = _closed_port()
    run = Run(tmp_path, "own provider", _env(f"http://127.0.0.1:{port}/v5"), linger=4.0)
    run.wait()
    said = [t for t, line in run.lines if "cannot reach" in line]
    assert said and said[0] < 3.5, run.stderr  # while the script still runs, long before 300 s of retries


@pytest.mark.slow
def test_undelivered_logs_kept_in_the_spool_are_said_so(tmp_path: Path) -> None:
    port = _closed_port()
    spool = tmp_path / "spool"
    run = Run(tmp_path, "own provider", _env(f"http://127.0.0.1:{port}/v5", OTEL_TOOL_EXPORTER_SPOOL_DIR=str(spool)))
    run.wait()
    report = [line for _, line in run.lines if "not delivered by exit" in line]
    assert len(report) == 1 and f"kept in the spool at {spool}" in report[0], run.stderr


@pytest.mark.slow
def test_ctrl_c_during_the_exit_flush_stops_at_once_without_a_traceback(tmp_path: Path) -> None:
    port = _closed_port()
    run = Run(tmp_path, "own provider", _env(f"http://127.0.0.1:{port}/v5"))
    run.ended_at()
    time.sleep(1.5)  # the script has returned: the exit flush waits for an unreachable server
    interrupted = time.monotonic()
    run.proc.send_signal(signal.SIGINT)
    run.wait()
    assert time.monotonic() - interrupted < 2.5, "Ctrl-C stopped the wait at once"
    assert "Traceback" not in run.stderr and "KeyboardInterrupt" not in run.stderr, run.stderr
    report = [line for _, line in run.lines if "not delivered by exit" in line]
    assert len(report) == 1 and "interrupted" in report[0], run.stderr
