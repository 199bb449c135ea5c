"""Every example in ``examples/`` runs, as a user would run it, and its Logs arrive nested.

Each example is run in a child process twice: pointed at this test's stub through
``HUMANLOOP_BASE_URL`` (then the stub's store is checked: one Log per tool call, ``search_web``
nested under ``research``, the failure recorded), and with no configuration at all (then it starts
its own stub and must print the Log tree). An example whose framework is not installed is skipped
saying which package is missing (CI installs them: ``pip install -e '.[examples]'``).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import logs_by_path
from .test_autoinstrument import clean_env

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TOOLS = ["get_weather", "lookup_user", "fail_tool", "research", "search_web"]

# example script -> (path prefix it logs under, modules it needs)
CASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "manual_spans.py": ("examples/manual/", ()),
    "pydantic_ai_agent.py": ("examples/pydantic-ai/", ("pydantic_ai",)),
    "langgraph_openinference.py": ("examples/langgraph/", ("langgraph", "openinference.instrumentation.langchain")),
    "openai_agents_openinference.py": (
        "examples/openai-agents/",
        ("agents", "openinference.instrumentation.openai_agents"),
    ),
    "zero_code/run.py": ("examples/zero-code/", ("opentelemetry.instrumentation.auto_instrumentation",)),
}

pytestmark = pytest.mark.slow  # subprocesses running real frameworks: `pytest -m slow`


def _missing(modules: tuple[str, ...]) -> list[str]:
    missing = []
    for name in modules:
        try:
            if importlib.util.find_spec(name) is None:
                missing.append(name)
        except ModuleNotFoundError:
            missing.append(name)
    return missing


def _run(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    missing = _missing(CASES[script][1])
    if missing:
        pytest.skip(f"{script} needs {', '.join(missing)}: install the examples extra (pip install -e '.[examples]')")
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        cwd=EXAMPLES.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.parametrize("script", sorted(CASES))
def test_example_delivers_nested_logs_to_the_configured_server(stub: Any, script: str) -> None:
    done = _run(script, clean_env(HUMANLOOP_BASE_URL=stub.base_url, HUMANLOOP_API_KEY="test-key"))
    assert done.returncode == 0, done.stdout + done.stderr
    prefix = CASES[script][0]
    logs = logs_by_path(stub)
    assert sorted(logs) == sorted(prefix + t for t in TOOLS), done.stdout + done.stderr
    assert all(len(found) == 1 for found in logs.values()), {p: len(f) for p, f in logs.items()}
    log = {path.removeprefix(prefix): found[0] for path, found in logs.items()}
    # the nested agent's tool call sits under the tool that ran that agent ...
    assert log["search_web"]["trace_parent_id"] == log["research"]["id"]
    # ... and searched the topic the main agent asked about
    assert log["research"]["inputs"] == {"topic": "otel"}
    assert log["search_web"]["inputs"] == {"query": "otel"}
    # ... and the main agent's calls have no tool above them
    for name in ("get_weather", "lookup_user", "fail_tool", "research"):
        assert log[name].get("trace_parent_id") is None, name
    # all in one trace, nothing sent unresolved
    assert len({entry["metadata"]["otel"]["trace_id"] for entry in log.values()}) == 1
    assert not any("unresolved_parent" in entry["metadata"]["otel"] for entry in log.values())
    assert log["get_weather"]["inputs"] == {"city": "Paris"}
    assert log["get_weather"]["output"] == "Sunny, 21C in Paris"
    assert log["lookup_user"]["inputs"] == {"user_id": 42}
    assert log["fail_tool"].get("error"), log["fail_tool"]
    assert not log["get_weather"].get("error")


@pytest.mark.parametrize("script", sorted(CASES))
def test_example_runs_offline_with_no_configuration(script: str) -> None:
    done = _run(script, clean_env())
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "received by the local stub" in out, out
    # the printed tree draws search_web one level deeper than research, below it
    prefix = CASES[script][0]
    lines = out.splitlines()
    research = next(i for i, line in enumerate(lines) if prefix + "research " in line)
    search = next(i for i, line in enumerate(lines) if prefix + "search_web " in line)
    assert search > research, out
    assert lines[search].index(prefix) > lines[research].index(prefix), out
