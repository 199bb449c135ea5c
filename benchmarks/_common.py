"""What every benchmark script shares: the sink process, worker processes, span workloads, and
the report (medians, min–max, ratios, one final ``key=value`` line).

Each benchmark runs its baseline(s) and the product in the same run, alternating their order
round by round, because this machine (2 shared cores) drifts by ~20 % between runs: only ratios
measured side by side mean anything.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULT_PREFIX = "RESULT "

# The Humanloop SDK lives in its own venv (its OpenLLMetry instrumentor dependencies would change
# what `opentelemetry-instrument` does in the dev environment): see benchmarks/README.md.
HUMANLOOP_PYTHON = os.environ.get("BENCH_HUMANLOOP_PYTHON", "/work/venvs/humanloop/bin/python")


# ---------------------------------------------------------------------------- processes
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def sink(delay_ms: float = 0.0) -> Iterator[int]:
    """Start ``sink.py`` in another process; yields its port. Always stopped on exit."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "sink.py"), "--port", str(port), "--delay-ms", str(delay_ms)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    raise RuntimeError(f"sink did not start: {err[-2000:]}") from None
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def run_worker(kind: str, *args: str, python: str = sys.executable, timeout: float = 300) -> dict[str, Any]:
    """Run one measurement in a fresh process (``_workers.py KIND ...``); returns its RESULT dict."""
    cmd = [python, str(HERE / "_workers.py"), kind, *args]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    raise RuntimeError(f"worker {kind} failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")


def emit(result: dict[str, Any]) -> None:
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def cpu_seconds() -> float:
    """CPU time of the whole process (every thread), user + system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def humanloop_available() -> str | None:
    """None when the Humanloop SDK venv works, else why not."""
    if not Path(HUMANLOOP_PYTHON).exists():
        return f"no Humanloop SDK venv at {HUMANLOOP_PYTHON} (see benchmarks/README.md)"
    probe = subprocess.run(
        [
            HUMANLOOP_PYTHON,
            "-c",
            "import humanloop.otel.exporter, importlib.metadata as m; print(m.version('humanloop'))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if probe.returncode != 0:
        return f"Humanloop SDK not importable in {HUMANLOOP_PYTHON}: {probe.stderr.strip()[-300:]}"
    return None


def humanloop_version() -> str:
    probe = subprocess.run(
        [HUMANLOOP_PYTHON, "-c", "import importlib.metadata as m; print(m.version('humanloop'))"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return probe.stdout.strip() or "?"


# ---------------------------------------------------------------------------- report
class Results:
    """Named series of measurements, printed as median (min–max) with ratios."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.series: dict[str, list[float]] = {}
        self.units: dict[str, str] = {}

    def add(self, name: str, value: float, unit: str = "") -> None:
        self.series.setdefault(name, []).append(float(value))
        if unit:
            self.units[name] = unit

    def median(self, name: str) -> float:
        values = self.series.get(name) or [float("nan")]
        return statistics.median(values)

    def ratio(self, numerator: str, denominator: str) -> float:
        den = self.median(denominator)
        return self.median(numerator) / den if den else float("nan")

    def print(self, ratios: Sequence[tuple[str, str, str]] = ()) -> None:
        print(f"\n== {self.title}")
        width = max((len(n) for n in self.series), default=10)
        for name, values in self.series.items():
            unit = self.units.get(name, "")
            print(
                f"  {name:<{width}}  median {_fmt(statistics.median(values))} {unit}"
                f"  (min {_fmt(min(values))}, max {_fmt(max(values))}, n={len(values)})"
            )
        for label, num, den in ratios:
            print(f"  {label}: {self.ratio(num, den):.2f}×")


def _fmt(value: float) -> str:
    if value != value:
        return "nan"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.4f}"


def final_line(**values: Any) -> None:
    """The machine-readable summary every script ends with."""
    parts = []
    for key, value in values.items():
        if isinstance(value, float):
            value = f"{value:.4g}"
        parts.append(f"{key}={value}")
    print(" ".join(parts), flush=True)


# ---------------------------------------------------------------------------- workloads
_RESULT = json.dumps(
    {
        "city": "Paris",
        "units": "metric",
        "forecast": [
            {"day": d, "summary": "Sunny intervals, light breeze", "high": 21 + d, "low": 12 + d, "rain_mm": 0.4 * d}
            for d in range(5)
        ],
    }
)


def genai_tool_attributes(i: int) -> dict[str, Any]:
    """Six attributes of an OTel GenAI ``execute_tool`` span (pydantic-ai, ADK, Strands, Logfire)."""
    return {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "get_weather",
        "gen_ai.tool.call.id": f"call_{i:08d}",
        "gen_ai.tool.description": "Get the current weather and a five-day forecast for a city.",
        "gen_ai.tool.call.arguments": '{"city": "Paris", "units": "metric", "days": 5}',
        "gen_ai.tool.call.result": _RESULT,
    }


def other_attributes(i: int) -> dict[str, Any]:
    """Six attributes of an ordinary (non-tool) span, an outgoing HTTP call."""
    return {
        "http.request.method": "GET",
        "url.full": f"https://api.example.com/v1/items/{i}",
        "server.address": "api.example.com",
        "server.port": 443,
        "http.response.status_code": 200,
        "network.protocol.version": "1.1",
    }


def humanloop_tool_attributes(i: int) -> dict[str, Any]:
    """A Humanloop SDK ``@tool`` span (as captured in tests/fixtures/humanloop_sdk.json)."""
    return {
        "humanloop.file.type": "tool",
        "humanloop.file.path": "bench/get_weather",
        "humanloop.file.function.name": "get_weather",
        "humanloop.file.function.description": "Get the current weather and a five-day forecast for a city.",
        "humanloop.file.function.parameters.type": "object",
        "humanloop.file.function.parameters.properties.city.type": "string",
        "humanloop.file.function.parameters.required": ("city",),
        "humanloop.log.inputs.city": "Paris",
        "humanloop.log.output": _RESULT,
    }
