"""What the package says, in real processes: one line per problem on the ``otel_tool_exporter``
logger, heard on stderr when the application set up no logging, never printed twice when it did,
and one clear line (no SDK tracebacks) for a bad setting under zero-code ``opentelemetry-instrument``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

MISSPELT = "OTEL_TOOL_EXPORTER_PATH_PREFX"
EXPECTED = f"otel_tool_exporter: unknown setting {MISSPELT} ignored (did you mean OTEL_TOOL_EXPORTER_PATH_PREFIX?)"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUMANLOOP_", "OTEL_"))}
    # a loopback base URL needs no key; nothing is sent (no spans), so nothing needs to listen there
    env.update(HUMANLOOP_BASE_URL="http://127.0.0.1:9/v5", PYTHONIOENCODING="utf-8", **extra)
    return env


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_warning_reaches_stderr_in_the_package_style_without_any_logging_setup() -> None:
    run = _python(
        """
        from otel_tool_exporter import ToolLogExporter
        ToolLogExporter().shutdown()
        print("done")
        """,
        **{MISSPELT: "agents/"},
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "done"
    assert run.stderr.splitlines() == [EXPECTED]


def test_an_application_that_configured_logging_gets_it_once_in_its_own_format() -> None:
    run = _python(
        """
        import logging
        logging.basicConfig(format="APP %(levelname)s %(name)s | %(message)s")
        from otel_tool_exporter import ToolLogExporter
        ToolLogExporter().shutdown()
        """,
        **{MISSPELT: "agents/"},
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines() == [f"APP WARNING otel_tool_exporter | {EXPECTED}"]


def test_logging_configured_after_the_exporter_still_prints_each_message_once() -> None:
    run = _python(
        """
        import logging
        from otel_tool_exporter import ToolLogExporter
        exporter = ToolLogExporter()
        logging.basicConfig(format="APP %(message)s")
        logging.getLogger("otel_tool_exporter").warning("otel_tool_exporter: later")
        exporter.shutdown()
        """,
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines() == ["APP otel_tool_exporter: later"]


def test_a_bad_setting_in_code_still_raises_for_the_caller() -> None:
    run = _python(
        """
        from otel_tool_exporter import ConfigurationError, ToolLogExporter
        try:
            ToolLogExporter()
        except ConfigurationError as exc:
            print("raised:", exc)
        """,
        OTEL_TOOL_EXPORTER_TIMEOUT="10000",
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("raised: OTEL_TOOL_EXPORTER_TIMEOUT=10000: 10000 s is almost 3 hours")
    assert run.stderr == ""


def test_zero_code_bad_setting_is_one_line_and_the_app_still_runs(tmp_path: object) -> None:
    instrument = shutil.which("opentelemetry-instrument")
    if instrument is None:
        pytest.skip("opentelemetry-instrument is not installed (opentelemetry-distro, in the test extra)")
    env = _env(
        OTEL_TRACES_EXPORTER="humanloop",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_TOOL_EXPORTER_TIMEOUT="10000",
    )
    run = subprocess.run(
        [instrument, sys.executable, "-c", "print('app ran')"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "app ran"
    assert "Traceback" not in run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("otel_tool_exporter: OTEL_TOOL_EXPORTER_TIMEOUT=10000: 10000 s is almost 3 hours")
    assert lines[0].endswith("tracing to Humanloop is off for this run (fix the setting and restart)")
