"""``otel-tool-exporter demo``: an instrumented agent run, exported, and the Log tree it became.

The agent is scripted (no model, no network) and records its spans exactly as the OpenTelemetry
GenAI semantic conventions say, like pydantic-ai or Strands would: an agent span, a chat span
offering the tools, and one ``execute_tool`` span per call — a plain tool, a dict-returning tool,
a failing tool, and a tool that runs a nested agent which itself calls a tool.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Any, TextIO

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Status, StatusCode, Tracer

from otel_tool_exporter._internal.logtree import build_trees, render_text, trace_key
from otel_tool_exporter.cli import port as port_type
from otel_tool_exporter.exporter import ToolLogExporter
from otel_tool_exporter.processor import ToolSpanProcessor
from otel_tool_exporter.settings import STUB_API_KEY, is_loopback_url

TOOLS: dict[str, dict[str, Any]] = {
    "get_weather": {
        "description": "Get the weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
    "lookup_user": {
        "description": "Look up a user by id.",
        "parameters": {"type": "object", "properties": {"user_id": {"type": "integer"}}, "required": ["user_id"]},
    },
    "fail_tool": {
        "description": "Always fails.",
        "parameters": {"type": "object", "properties": {"reason": {"type": "string"}}},
    },
    "research": {
        "description": "Research a topic with a sub-agent.",
        "parameters": {"type": "object", "properties": {"topic": {"type": "string"}}, "required": ["topic"]},
    },
    "search_web": {
        "description": "Search the web.",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
    },
}


def get_weather(city: str) -> str:
    return f"Sunny, 21C in {city}"


def lookup_user(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "name": "Ada", "tags": ["admin", "beta"]}


def fail_tool(reason: str) -> str:
    raise ValueError(f"boom: {reason}")


def search_web(query: str) -> str:
    return f"3 results for {query}"


def _definitions(names: list[str]) -> str:
    return json.dumps([{"type": "function", "function": {"name": n, **TOOLS[n]}} for n in names])


def _call_tool(tracer: Tracer, name: str, arguments: dict[str, Any], call_id: str, fn: Any) -> Any:
    attributes = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name,
        "gen_ai.tool.call.id": call_id,
        "gen_ai.tool.description": TOOLS[name]["description"],
        "gen_ai.tool.call.arguments": json.dumps(arguments),
    }
    with tracer.start_as_current_span(f"execute_tool {name}", attributes=attributes) as span:
        try:
            result = fn(**arguments)
        except Exception as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            span.set_attribute("error.type", type(exc).__name__)
            return None
        span.set_attribute("gen_ai.tool.call.result", result if isinstance(result, str) else json.dumps(result))
        return result


def _agent(tracer: Tracer, name: str, calls: list[tuple[str, dict[str, Any], Any]]) -> str:
    """Run one agent turn; the hex id of its trace."""
    with tracer.start_as_current_span(
        f"invoke_agent {name}", attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": name}
    ) as span:
        with tracer.start_as_current_span(
            "chat scripted-model",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "scripted-model",
                "gen_ai.tool.definitions": _definitions([c[0] for c in calls]),
            },
        ):
            pass
        for i, (tool, arguments, fn) in enumerate(calls):
            _call_tool(tracer, tool, arguments, f"call_{name}_{i}", fn)
        return format(span.get_span_context().trace_id, "032x")


def run_agent(tracer: Tracer) -> str:
    """The demo scenario: four tool calls, one of which runs a nested agent. Returns its trace id."""

    def research(topic: str) -> str:
        _agent(tracer, "researcher", [("search_web", {"query": topic}, search_web)])
        return f"Summary of {topic}: 3 results found"

    return _agent(
        tracer,
        "assistant",
        [
            ("get_weather", {"city": "Paris"}, get_weather),
            ("lookup_user", {"user_id": 42}, lookup_user),
            ("fail_tool", {"reason": "disk full"}, fail_tool),
            ("research", {"topic": "otel"}, research),
        ],
    )


# ======================================================================== where the Logs go
DEFAULT_WAIT_PORT = 8000  # --wait: the trace view's URL stays the same from run to run
PROBE_TIMEOUT = 3.0


class DemoError(Exception):
    """The demo cannot run as asked; the message says what to change."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class _Run:
    tool_spans: int
    sent: int
    failed: dict[str, int]
    delivered: bool
    trace_id: str
    base_url: str


def _running_stub(base_url: str) -> str | None:
    """The root URL of a stub answering at ``base_url`` (a loopback URL), else ``None``."""
    import httpx

    root = base_url.rstrip("/").removesuffix("/v5")
    try:
        response = httpx.get(f"{root}/_stub/stats", timeout=PROBE_TIMEOUT)
        body = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None
    return root if isinstance(body, dict) and "logs" in body else None


def _export(settings: dict[str, Any]) -> _Run:
    from otel_tool_exporter.settings import ConfigurationError

    try:
        exporter = ToolLogExporter(path_prefix="demo/", **settings)
    except ConfigurationError as exc:
        raise DemoError(str(exc), code=2) from None
    provider = TracerProvider(resource=Resource.create({"service.name": "otel-tool-exporter-demo"}))
    provider.add_span_processor(ToolSpanProcessor(exporter))
    trace_id = run_agent(provider.get_tracer("otel_tool_exporter.cli.demo"))
    delivered = provider.force_flush(30_000)
    stats = exporter.stats()
    provider.shutdown()
    return _Run(
        tool_spans=int(stats["tool_spans"]),
        sent=int(stats["sent"]),
        failed={k: int(v) for k, v in dict(stats.get("failed") or {}).items() if v},
        delivered=delivered,
        trace_id=trace_id,
        base_url=exporter.settings.base_url,
    )


def _summary(run: _Run, where: str) -> str:
    line = f"Exported {run.tool_spans} tool spans -> {run.sent} Logs to {run.base_url} ({where})"
    if run.failed:
        line += "; failed: " + ", ".join(f"{n} {reason}" for reason, n in sorted(run.failed.items()))
    elif not run.delivered:
        line += "; still unsent after 30 s"
    return line


def _complete(run: _Run) -> bool:
    return run.delivered and run.sent == run.tool_spans and not run.failed


def _print_tree(logs: list[dict[str, Any]], trace_id: str, out: TextIO) -> None:
    mine = [log for log in logs if trace_key(log) == trace_id] or logs
    if not mine:
        print("\nNo Log of this run arrived at the stub.", file=out)
        return
    print(f"\nLog tree received by the stub ({len(mine)} Logs):\n", file=out)
    print(render_text(build_trees(mine)), file=out)


def _to_running_stub(root: str, wait: bool, out: TextIO, err: TextIO) -> int:
    from otel_tool_exporter.cli.logs import LogSource, SourceError

    run = _export({"base_url": root + "/v5"})
    print(_summary(run, "the stub named by HUMANLOOP_BASE_URL"), file=out)
    source = LogSource(root)
    try:
        source.poll()
    except SourceError as exc:
        raise DemoError(f"the stub stopped answering: {exc}") from None
    finally:
        source.close()
    _print_tree(source.logs, run.trace_id, out)
    print(f"\nTrace view: {root}/   (Logs API: {root}/v5/logs)", file=out, flush=True)
    if wait:
        print("(--wait: that stub is already running on its own; nothing to keep open)", file=err)
    return 0 if _complete(run) else 1


def _to_remote(wait: bool, out: TextIO, err: TextIO) -> int:
    from otel_tool_exporter.settings import DEFAULT_BASE_URL

    run = _export({})
    humanloop = run.base_url.rstrip("/") == DEFAULT_BASE_URL
    print(_summary(run, "Humanloop" if humanloop else "HUMANLOOP_BASE_URL"), file=out)
    if run.sent and humanloop:
        print(
            f"Open Humanloop (https://app.humanloop.com) to see the {run.sent} Logs under the 'demo/' folder.", file=out
        )
    elif run.sent:
        print(f"The {run.sent} Logs are under the 'demo/' path on that server.", file=out)
    else:
        print("No Log arrived. `otel-tool-exporter doctor` checks the URL and the API key.", file=out)
    if wait:
        print("(--wait keeps a local stub open; this run sent to a server, so there is nothing to keep open)", file=err)
    return 0 if _complete(run) else 1


def _browser() -> bool:
    """Whether a browser can be opened from here: a person is at the terminal to say yes, there is
    a desktop, and the ``webbrowser`` module knows a browser."""
    import webbrowser

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return False
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False  # no desktop: at best a text browser would take over this terminal
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


def _offer_browser(url: str, out: TextIO) -> None:
    import webbrowser

    if not _browser():
        return
    try:
        answer = input(f"Open {url} in your browser? [Y/n] ")
    except EOFError:
        return
    if answer.strip().lower() in ("", "y", "yes"):
        webbrowser.open(url)
        print("Opened.", file=out)


def _with_own_stub(port: int | None, wait: bool, out: TextIO) -> int:
    from otel_tool_exporter.cli._common import listen_error
    from otel_tool_exporter.stub import StubServer

    chosen = port if port is not None else (DEFAULT_WAIT_PORT if wait else 0)
    stub = StubServer(port=chosen)
    try:
        stub.start()
    except OSError as exc:
        hint = " (or point HUMANLOOP_BASE_URL at a stub running there)" if chosen else ""
        raise DemoError(listen_error(stub.host, chosen, exc) + hint, code=2) from None
    try:
        run = _export({"base_url": stub.base_url, "api_key": STUB_API_KEY})
        print(_summary(run, "a local stub in this process"), file=out)
        logs, _ = stub.store.list(size=1000)
        _print_tree(logs, run.trace_id, out)
        code = 0 if _complete(run) else 1
        if not wait:
            print(
                f"\nThe stub ran inside this command and has stopped. To browse the trace view, run "
                f"`otel-tool-exporter demo --wait` (it keeps {stub.host}:{DEFAULT_WAIT_PORT} open).",
                file=out,
            )
            return code
        url = f"{stub.root_url}/"
        print(f"\nTrace view: {url}   (Logs API: {stub.base_url}/logs)", file=out)
        print("The stub keeps running; press Ctrl-C to stop.", file=out, flush=True)
        _offer_browser(url, out)
        while True:
            time.sleep(3600)  # Ctrl-C ends it: KeyboardInterrupt, exit status 130
    finally:
        stub.stop()


def run_demo(*, port: int | None = None, wait: bool = False, out: TextIO | None = None) -> int:
    """Send the demo agent's tool calls where the environment says, print what arrived and where
    to look: a stub named by a loopback ``HUMANLOOP_BASE_URL`` (it must be running), Humanloop
    (or another server) when the base URL or ``HUMANLOOP_API_KEY`` says so, else a stub of its own."""
    out = out or sys.stdout
    err = sys.stderr
    base_url = os.environ.get("HUMANLOOP_BASE_URL", "").strip()
    try:
        if base_url and is_loopback_url(base_url):
            root = _running_stub(base_url)
            if root is None:
                raise DemoError(
                    f"no stub answers at {base_url} (HUMANLOOP_BASE_URL): start one with "
                    "`otel-tool-exporter stub`, or unset HUMANLOOP_BASE_URL to let the demo run its own"
                )
            if port is not None:
                print("(--port is for the demo's own stub; the one named by HUMANLOOP_BASE_URL is used)", file=err)
            return _to_running_stub(root, wait, out, err)
        if base_url or os.environ.get("HUMANLOOP_API_KEY", "").strip():
            return _to_remote(wait, out, err)
        return _with_own_stub(port, wait, out)
    except DemoError as exc:
        print(f"otel-tool-exporter demo: {exc}", file=err, flush=True)
        return exc.code


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run an instrumented agent and print the Log tree it produced",
        description="Run a scripted agent (four tool calls, one failing, one running a nested agent) under "
        "OpenTelemetry and send its tool spans: to the stub named by a loopback HUMANLOOP_BASE_URL (which must "
        "be running), to Humanloop when HUMANLOOP_API_KEY is set, else to a stub started inside this command. "
        "Prints where the Logs went, how many arrived, and the tree the stub received.",
    )
    parser.add_argument(
        "--port",
        type=port_type,
        default=None,
        help=f"port of the demo's own stub (default: {DEFAULT_WAIT_PORT} with --wait, so the printed URL stays "
        "the same; otherwise any free port)",
    )
    parser.add_argument(
        "--wait",
        action="store_true",
        help="keep the demo's own stub and its trace view running until Ctrl-C, and offer to open a browser "
        "when one is available",
    )
    parser.set_defaults(func=lambda args: run_demo(port=args.port, wait=args.wait))
