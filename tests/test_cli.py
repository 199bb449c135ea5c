"""The console script as a user meets it (the real ``otel-tool-exporter`` in a subprocess): errors
are one line on stderr naming what to change, with a non-zero exit and no traceback; ``--version``;
``python -m otel_tool_exporter``; help shows every flag's default; Ctrl-C ends with 130; a closed
pipe ends quietly."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from typing import Any

import httpx
import pytest

from otel_tool_exporter.cli import CliParser, DefaultsFormatter, build_parser
from otel_tool_exporter.stub import StubServer
from tests.processes import running, stop
from tests.trace_view_util import send_single_tool, wait_for_logs

EXE = shutil.which("otel-tool-exporter")
pytestmark = pytest.mark.skipif(
    EXE is None, reason="the otel-tool-exporter console script is not installed (pip install -e .)"
)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUMANLOOP_", "OTEL_TOOL_EXPORTER_"))}
    env.update(PYTHONIOENCODING="utf-8", **extra)
    return env


def cli(*args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    assert EXE is not None
    return subprocess.run([EXE, *args], env=_env(**env), capture_output=True, text=True, timeout=timeout, check=False)


def assert_one_line_error(run: subprocess.CompletedProcess[str], *needles: str, code: int | None = None) -> None:
    assert run.returncode != 0, run.stdout
    if code is not None:
        assert run.returncode == code, run.stderr
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def launched(*args: str, **env: str) -> Iterator[subprocess.Popen[str]]:
    """The console script running in the background; killed at the end if still alive."""
    assert EXE is not None
    with running([EXE, *args], _env(**env)) as proc:
        yield proc


def stopped_by(proc: subprocess.Popen[str], sig: int) -> int:
    """Send ``sig``; the exit status, once it ended without a traceback."""
    _, err = stop(proc, sig, timeout=20)
    assert "Traceback" not in err, err
    return proc.returncode


# ---------------------------------------------------------------- conventions
def test_version_from_the_script_and_from_python_dash_m() -> None:
    expected = f"otel-tool-exporter {version('otel-tool-exporter')}"
    assert cli("--version").stdout.strip() == expected
    run = subprocess.run(
        [sys.executable, "-m", "otel_tool_exporter", "--version"], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0 and run.stdout.strip() == expected


def test_python_dash_m_runs_the_same_commands() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "otel_tool_exporter", "doctor", "--offline"],
        env=_env(HUMANLOOP_BASE_URL="http://127.0.0.1:9/v5"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "otel-tool-exporter doctor" in run.stdout


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_flag_of_every_command_states_its_default() -> None:
    missing = []
    for name, sub in _subparsers(build_parser()).items():
        assert isinstance(sub, CliParser)
        formatter = DefaultsFormatter(prog=sub.prog)
        for action in sub._actions:
            if not action.option_strings or isinstance(action, argparse._HelpAction):
                continue
            text = formatter._get_help_string(action)
            if "default" not in text:
                missing.append(f"{name} {action.option_strings[-1]}")
    assert not missing, f"flags whose help does not say their default: {missing}"


def test_stub_help_shows_host_and_port_defaults() -> None:
    run = cli("stub", "--help")
    assert run.returncode == 0
    text = " ".join(run.stdout.split())
    assert "--host HOST address to bind (loopback: no API key needed) (default: 127.0.0.1)" in text
    assert "--port PORT port to bind; 0 picks a free one (default: 8000)" in text


BAD_COMMAND_LINES: list[tuple[list[str], list[str]]] = [
    (["stub", "--port", "99999"], ["otel-tool-exporter stub", "--port", "99999 is not a port number"]),
    (["stub", "--port", "x"], ["--port", "'x' is not a port number"]),
    (["serve", "--port", "70000"], ["otel-tool-exporter serve", "70000 is not a port number"]),
    (["demo", "--port", "-1"], ["otel-tool-exporter demo", "-1 is not a port number"]),
    (["logs", "-n", "0"], ["otel-tool-exporter logs", "at least 1"]),
    (["logs", "-n", "-1"], ["at least 1"]),
    (["stub", "--bogus"], ["unrecognized arguments: --bogus", "--help"]),
    (["logs", "--url", "127.0.0.1:8000"], ["otel-tool-exporter logs", "(--url) is not an http(s) URL"]),
    (["nosuchcommand"], ["invalid choice: 'nosuchcommand'"]),
    ([], ["required: COMMAND"]),
]


@pytest.fixture(scope="module")
def bad_command_line_runs() -> dict[str, subprocess.CompletedProcess[str]]:
    """Every bad command line run by the real script, all at once (each is a fresh interpreter)."""
    assert EXE is not None
    procs = {
        " ".join(args): subprocess.Popen(
            [EXE, *args], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for args, _ in BAD_COMMAND_LINES
    }
    runs = {}
    for key, proc in procs.items():
        out, err = proc.communicate(timeout=60)
        runs[key] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return runs


@pytest.mark.parametrize(("args", "needles"), BAD_COMMAND_LINES)
def test_bad_command_lines_are_one_line_exit_2(
    args: list[str], needles: list[str], bad_command_line_runs: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    assert_one_line_error(bad_command_line_runs[" ".join(args)], *needles, code=2)


# ---------------------------------------------------------------- ports
@pytest.mark.parametrize("command", [["stub"], ["demo", "--wait"], ["serve", "--no-spool"]])
def test_a_busy_port_is_one_line_and_nothing_claims_to_listen(command: list[str], busy_port: int) -> None:
    run = cli(
        *command, "--port", str(busy_port), HUMANLOOP_BASE_URL="http://127.0.0.1:9/v5" if "serve" in command else ""
    )
    assert_one_line_error(run, f"127.0.0.1:{busy_port}", "already in use", "--port", code=2)
    assert "listening" not in run.stdout


def test_stub_prints_listening_once_it_listens_and_ctrl_c_exits_130() -> None:
    port = _free_port()
    with launched("stub", "--port", str(port)) as proc:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith(f"stub listening on http://127.0.0.1:{port}")
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200  # already true when said
        assert stopped_by(proc, signal.SIGINT) == 130


def test_stub_stops_with_0_on_sigterm() -> None:
    with launched("stub", "--port", "0") as proc:
        assert proc.stdout is not None and proc.stdout.readline().startswith("stub listening")
        assert stopped_by(proc, signal.SIGTERM) == 0


def test_serve_ctrl_c_drains_and_exits_130() -> None:
    with launched("serve", "--no-spool", "--port", "0", HUMANLOOP_BASE_URL="http://127.0.0.1:9/v5") as proc:
        assert proc.stdout is not None and "OTLP/HTTP on http://127.0.0.1:" in proc.stdout.readline()
        assert stopped_by(proc, signal.SIGINT) == 130


def test_stub_with_a_database_it_cannot_open_is_one_line(tmp_path: Any) -> None:
    run = cli("stub", "--port", "0", "--db", str(tmp_path / "missing-dir" / "logs.sqlite3"))
    assert_one_line_error(run, "cannot open the database", "--db", code=2)


# ---------------------------------------------------------------- pipes
def _closed_pipe(args: list[str], **env: str) -> tuple[int, str]:
    """Run with a stdout whose reader has already gone (``| head`` that exited)."""
    assert EXE is not None
    read, write = os.pipe()
    os.close(read)
    try:
        proc = subprocess.Popen([EXE, *args], env=_env(**env), stdout=write, stderr=subprocess.PIPE, text=True)
    finally:
        os.close(write)
    _, err = proc.communicate(timeout=90)
    return proc.returncode, err


@pytest.mark.slow
def test_demo_into_a_closed_pipe_ends_quietly() -> None:
    code, err = _closed_pipe(["demo"])
    assert code == 141, err
    assert err == ""


def test_logs_into_a_closed_pipe_ends_quietly(stub: StubServer, provider_for: Any) -> None:
    send_single_tool(provider_for)
    wait_for_logs(stub, 1)
    code, err = _closed_pipe(["logs", "--url", stub.root_url])
    assert code == 141, err
    assert err == ""


def test_logs_piped_into_head_shows_its_lines_without_a_traceback(stub: StubServer, provider_for: Any) -> None:
    for i in range(30):
        send_single_tool(provider_for, f"tool_{i}")
    wait_for_logs(stub, 30)
    run = subprocess.run(
        f"'{EXE}' logs -n 30 --url {stub.root_url} | head -3",
        shell=True,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert len(run.stdout.splitlines()) == 3
    assert run.stderr == ""


def test_logs_n_shows_that_many_newest_traces(stub: StubServer, provider_for: Any) -> None:
    for i in range(3):
        send_single_tool(provider_for, f"tool_{i}")
    wait_for_logs(stub, 3)
    run = cli("logs", "-n", "1", "--url", stub.root_url, "--brief")
    assert run.returncode == 0
    assert re.findall(r"demo/tool_\d", run.stdout) == ["demo/tool_2"]


def test_logs_follow_ctrl_c_exits_130(stub: StubServer) -> None:
    with launched("logs", "--follow", "--url", stub.root_url) as proc:
        assert proc.stderr is not None and proc.stderr.readline().startswith("Following ")
        time.sleep(0.3)
        assert stopped_by(proc, signal.SIGINT) == 130
