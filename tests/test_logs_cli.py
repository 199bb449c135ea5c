"""``otel-tool-exporter logs``: the stub's Log trees in the terminal, through the CLI."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import pytest

from otel_tool_exporter.cli import main
from otel_tool_exporter.stub import StubServer
from tests.trace_view_util import send_demo_trace, send_single_tool, send_unresolved_child, wait_for_logs


def _line(lines: list[str], needle: str) -> int:
    matches = [i for i, line in enumerate(lines) if needle in line]
    assert len(matches) == 1, (needle, lines)
    return matches[0]


def test_prints_the_demo_trace_as_a_nested_tree(stub: StubServer, provider_for: Any, capsys: Any) -> None:
    send_demo_trace(provider_for)
    assert main(["logs", "--url", stub.root_url, "--color", "never"]) == 0
    lines = capsys.readouterr().out.splitlines()

    assert lines[0].startswith("trace ") and "5 Logs · 1 error" in lines[0]
    research = _line(lines, "└── demo/research")
    search = _line(lines, "└── demo/search_web")
    assert search > research and lines[search].startswith("    └── ")  # one level deeper, under research
    weather = _line(lines, "├── demo/get_weather")
    assert " ok " in lines[weather] and "▕" in lines[weather]  # status and the time-axis bar
    assert 'inputs: {"city": "Paris"}' in lines[weather + 1]
    assert "output: Sunny, 21C in Paris" in lines[weather + 2]
    failing = _line(lines, "├── demo/fail_tool")
    assert " error " in lines[failing]
    assert "error:  ValueError: boom: disk full" in lines[failing + 2]


def test_accepts_the_v5_base_url_and_the_environment(
    stub: StubServer, provider_for: Any, capsys: Any, monkeypatch: Any
) -> None:
    send_single_tool(provider_for, "ok_tool")
    assert main(["logs", "--url", stub.base_url, "--brief"]) == 0
    by_url = capsys.readouterr().out
    monkeypatch.setenv("HUMANLOOP_BASE_URL", stub.base_url)
    assert main(["logs", "--brief"]) == 0
    by_env = capsys.readouterr().out
    assert by_url == by_env
    assert "└── demo/ok_tool" in by_url and "inputs:" not in by_url  # --brief: one line per Log


def test_newest_trace_last_and_selection_flags(stub: StubServer, provider_for: Any, capsys: Any) -> None:
    send_demo_trace(provider_for)
    send_single_tool(provider_for, "ok_tool")
    main(["logs", "--url", stub.root_url, "--brief"])
    out = capsys.readouterr().out
    assert out.index("demo/fail_tool") < out.index("demo/ok_tool")  # newest at the bottom, as in a terminal

    main(["logs", "--url", stub.root_url, "--brief", "-n", "1"])
    assert "demo/ok_tool" in (only := capsys.readouterr().out) and "demo/fail_tool" not in only
    main(["logs", "--url", stub.root_url, "--brief", "--errors"])
    assert "demo/fail_tool" in (errors := capsys.readouterr().out) and "demo/ok_tool" not in errors
    main(["logs", "--url", stub.root_url, "--brief", "--path", "search_web"])
    assert "demo/search_web" in (by_path := capsys.readouterr().out) and "demo/ok_tool" not in by_path
    main(["logs", "--url", stub.root_url, "--path", "nothing-like-this"])
    assert "No Logs at" in capsys.readouterr().out


def test_unresolved_parent_is_explained(stub: StubServer, provider_for: Any, capsys: Any) -> None:
    send_unresolved_child(stub, provider_for)
    main(["logs", "--url", stub.root_url, "--color", "never"])
    out = capsys.readouterr().out
    assert "1 unresolved parent" in out.splitlines()[0]  # the orphan is in its own trace's tree
    assert "unresolved parent: max_parent_wait (span " in out


def test_unreachable_server_is_an_error_that_says_what_to_do(capsys: Any) -> None:
    assert main(["logs", "--url", "http://127.0.0.1:9"]) == 1
    err = capsys.readouterr().err
    assert "cannot reach http://127.0.0.1:9/v5/logs" in err and "otel-tool-exporter stub" in err


def test_color_only_when_asked_or_on_a_terminal(stub: StubServer, provider_for: Any, capsys: Any) -> None:
    send_single_tool(provider_for)
    main(["logs", "--url", stub.root_url])
    assert "\x1b[" not in capsys.readouterr().out  # captured output is not a terminal
    main(["logs", "--url", stub.root_url, "--color", "always"])
    assert "\x1b[32mok" in capsys.readouterr().out


@pytest.mark.timeout(60)
@pytest.mark.slow
def test_follow_prints_each_new_trace_once_complete_and_stops_at_its_deadline(
    stub: StubServer, provider_for: Any
) -> None:
    send_single_tool(provider_for, "before_start")
    command = [sys.executable, "-m", "otel_tool_exporter.cli", "logs", "--url", stub.root_url]
    proc = subprocess.Popen(
        [*command, "--follow", "--interval", "0.2", "--for", "6", "--color", "never"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        assert proc.stderr.readline().startswith("Following ")
        time.sleep(0.6)  # a few polls with nothing new
        send_demo_trace(provider_for)
        wait_for_logs(stub, 6)
        started = time.monotonic()
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0 and time.monotonic() - started < 8  # stopped at --for
    assert out.count("demo/before_start") == 1  # what was there at start, printed once
    assert out.count("demo/search_web") == 1  # the new trace, printed once ...
    (heading,) = [line for line in out.splitlines() if "5 Logs" in line]  # ... and complete
    assert out.index("demo/before_start") < out.index(heading)
