"""Run ``app.py`` under ``opentelemetry-instrument`` with ``OTEL_TRACES_EXPORTER=humanloop``.

    python examples/zero_code/run.py

Without ``HUMANLOOP_API_KEY``/``HUMANLOOP_BASE_URL`` it starts the local stub in this process,
points the app at it and prints the Log tree the stub received once the app has exited; with them
set, the app sends to that server. Every exporter setting reaches the app through the environment
(README: Configuration) — here only the path prefix.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _common import sends_to_configured_server  # noqa: E402

from otel_tool_exporter._internal.logtree import build_trees, render_text  # noqa: E402


def instrument_command() -> str:
    beside = Path(sys.executable).parent / "opentelemetry-instrument"
    found = str(beside) if beside.exists() else shutil.which("opentelemetry-instrument")
    if not found:
        sys.exit("opentelemetry-instrument not found: pip install opentelemetry-distro")
    return found


def run_app(extra_env: dict[str, str]) -> int:
    env = {
        **os.environ,
        "OTEL_TRACES_EXPORTER": "humanloop",  # our entry point: ToolLogExporter() reading the environment
        "OTEL_METRICS_EXPORTER": "none",  # no collector here for the SDK's default OTLP metrics/logs
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_SERVICE_NAME": "zero-code-example",
        "OTEL_TOOL_EXPORTER_PATH_PREFIX": os.environ.get("OTEL_TOOL_EXPORTER_PATH_PREFIX", "examples/zero-code/"),
        **extra_env,
    }
    command = [instrument_command(), sys.executable, str(HERE / "app.py")]
    print("$", "OTEL_TRACES_EXPORTER=humanloop", "opentelemetry-instrument python", "app.py", flush=True)
    return subprocess.run(command, env=env, timeout=120).returncode


def main() -> int:
    if sends_to_configured_server():
        return run_app({})
    from otel_tool_exporter.stub import StubServer

    with StubServer() as stub:
        code = run_app({"HUMANLOOP_BASE_URL": stub.base_url})
        logs, total = stub.store.list(size=10_000)
        print(f"\n{total} Logs received by the local stub:\n")
        print(render_text(build_trees(logs)))
        return code if total else 1


if __name__ == "__main__":
    sys.exit(main())
