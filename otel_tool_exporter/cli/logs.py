"""``otel-tool-exporter logs``: the Log trees a stub received, in the terminal.

The same trees as the stub's trace view and the demo (``logtree``), read over HTTP from the
stub's ``GET /v5/logs``. ``--follow`` polls for new Logs and prints each trace once it has gone
quiet, so a trace whose children are still arriving is not printed half-built.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import httpx

from otel_tool_exporter._internal.logtree import Trace, group_traces, render_traces, trace_key
from otel_tool_exporter.cli import EXIT_INTERRUPTED
from otel_tool_exporter.cli._common import fail

__all__ = ["LogSource", "register", "run_logs"]

DEFAULT_URL = "http://127.0.0.1:8000"
PAGE_SIZE = 1000
MAX_LOGS = 20_000  # newest Logs held (and read on start); older traces fall out of view


class SourceError(Exception):
    """The server did not answer, or answered something other than a Log list."""


def api_base(url: str) -> str:
    """Accept the stub's root URL or its ``/v5`` base URL (what ``HUMANLOOP_BASE_URL`` holds)."""
    url = url.strip().rstrip("/")
    return url if url.endswith("/v5") else url + "/v5"


class LogSource:
    """Pages through ``GET {base}/logs`` and keeps the newest ``MAX_LOGS`` Logs in arrival order."""

    def __init__(self, base_url: str, *, timeout: float = 10.0, client: httpx.Client | None = None) -> None:
        import httpx  # loaded by the commands that read Logs, not by every command's start

        self.base_url = api_base(base_url)
        self._client = client or httpx.Client(timeout=timeout)
        self.logs: list[dict[str, Any]] = []
        self._ids: set[str] = set()
        self._seen_total = 0  # how many Logs the server had listed when last read

    def close(self) -> None:
        self._client.close()

    def _page(self, page: int) -> tuple[list[dict[str, Any]], int]:
        import httpx

        url = f"{self.base_url}/logs"
        try:
            response = self._client.get(url, params={"page": page, "size": PAGE_SIZE})
        except httpx.HTTPError as exc:
            raise SourceError(f"cannot reach {url}: {type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise SourceError(f"GET {url} answered HTTP {response.status_code}: {response.text[:300]}")
        try:
            body = response.json()
            return list(body["records"]), int(body["total"])
        except (ValueError, KeyError, TypeError):
            raise SourceError(f"GET {url} did not answer with a Log list (records, total)") from None

    def poll(self) -> tuple[list[dict[str, Any]], bool]:
        """Read what arrived since the last call: (new Logs, whether the server was reset)."""
        first_page = self._seen_total // PAGE_SIZE + 1
        records, total = self._page(first_page)
        reset = total < self._seen_total
        if reset:
            self.logs, self._ids, self._seen_total = [], set(), 0
            first_page = 1
            records, total = self._page(1)
        if self._seen_total == 0 and total > PAGE_SIZE:
            # first read of a big store: start at the pages holding the newest MAX_LOGS
            first_page = max(1, (total - MAX_LOGS) // PAGE_SIZE + 1)
            records, total = self._page(first_page)
        new: list[dict[str, Any]] = []
        page = first_page
        while True:
            for log in records:
                if log.get("id") not in self._ids:
                    new.append(log)
                    self._ids.add(log["id"])
            if len(records) < PAGE_SIZE or page * PAGE_SIZE >= total:
                break
            page += 1
            records, total = self._page(page)
        self._seen_total = max(total, self._seen_total)
        self.logs.extend(new)
        if len(self.logs) > MAX_LOGS:
            for old in self.logs[: len(self.logs) - MAX_LOGS]:
                self._ids.discard(old["id"])
            del self.logs[: len(self.logs) - MAX_LOGS]
        return new, reset


def _select(traces: list[Trace], path: str | None, errors: bool) -> list[Trace]:
    if errors:
        traces = [t for t in traces if t.errors]
    if path:
        needle = path.lower()
        traces = [t for t in traces if any(needle in str(r.log.get("path") or "").lower() for r in t.rows)]
    return traces


def _use_color(choice: str, out: TextIO) -> bool:
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    return bool(getattr(out, "isatty", lambda: False)())


def run_logs(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = sys.stderr
    url = args.url or os.environ.get("HUMANLOOP_BASE_URL") or DEFAULT_URL
    if urlsplit(url.strip()).scheme not in ("http", "https"):
        named = "--url" if args.url else "HUMANLOOP_BASE_URL"
        return fail("logs", f"{url!r} ({named}) is not an http(s) URL; give the stub's URL, e.g. {DEFAULT_URL}")
    color = _use_color(args.color, out)
    details = not args.brief
    source = LogSource(url)
    try:
        if not args.follow:
            try:
                source.poll()
            except SourceError as exc:
                return fail(
                    "logs", f"{exc}; is the stub running? (`otel-tool-exporter stub` starts it; --url names it)", 1
                )
            traces = _select(group_traces(source.logs), args.path, args.errors)[: args.traces]
            if not traces:
                print(
                    f"No Logs at {source.base_url} match."
                    if (args.path or args.errors)
                    else f"No Logs at {source.base_url} yet.",
                    file=out,
                )
                return 0
            traces.reverse()  # newest last: the end of the output is what stays on screen
            print(render_traces(traces, color=color, details=details), file=out, flush=True)
            return 0
        return _follow(source, args, out, err, color=color, details=details)
    finally:
        source.close()


def _follow(
    source: LogSource, args: argparse.Namespace, out: TextIO, err: TextIO, *, color: bool, details: bool
) -> int:
    interval = min(60.0, max(0.2, args.interval))
    deadline = None if args.duration is None else time.monotonic() + max(0.0, args.duration)
    printed: dict[str, int] = {}  # trace key → number of its Logs when last printed
    pending: set[str] = set()  # traces with new Logs, printed once a poll brings them nothing more
    first = True
    unreachable = False

    def emit(keys: set[str]) -> None:
        if not keys:
            return
        traces = [t for t in group_traces(source.logs) if t.key in keys]
        traces = _select(traces, args.path, args.errors)
        traces.reverse()
        for trace in traces:
            again = trace.key in printed
            printed[trace.key] = trace.count
            text = render_traces([trace], color=color, details=details)
            if again:
                text += f"\n(trace {trace.key} again: it now has {trace.count} Logs)"
            print(text + "\n", file=out, flush=True)

    print(f"Following {source.base_url}/logs (every {interval:g} s; Ctrl-C to stop)", file=err, flush=True)
    code = 0
    try:
        while True:
            try:
                new, reset = source.poll()
            except SourceError as exc:
                if not unreachable:
                    print(f"waiting: {exc}", file=err, flush=True)
                unreachable = True
                new, reset = [], False
            else:
                if unreachable:
                    print("reachable again", file=err, flush=True)
                unreachable = False
            if reset:
                print("(the server's Logs were cleared)", file=err, flush=True)
                printed.clear()
                pending.clear()
            touched = {trace_key(log) for log in new}
            if first:  # what was there before we started: the newest few traces, at once
                first = False
                emit({t.key for t in _select(group_traces(source.logs), args.path, args.errors)[: args.traces]})
                touched = set()
            quiet = pending - touched
            emit(quiet)
            pending = (pending | touched) - quiet
            if deadline is not None and time.monotonic() >= deadline:
                break
            pause = interval if deadline is None else max(0.0, min(interval, deadline - time.monotonic()))
            time.sleep(pause)
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    emit(pending)
    return code


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of traces") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: print at least 1 trace (the newest N are shown)")
    return value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "logs",
        help="print the Log trees the stub received (the trace view, in the terminal)",
        description="Print the trees of Logs a stub received, newest trace last. "
        "Reads GET {url}/v5/logs; --follow keeps printing traces as they arrive.",
    )
    parser.add_argument(
        "--url", default=None, help=f"the stub's URL or /v5 base URL (default: $HUMANLOOP_BASE_URL, else {DEFAULT_URL})"
    )
    parser.add_argument("-f", "--follow", action="store_true", help="keep polling and print new traces as they arrive")
    parser.add_argument(
        "-n",
        "--traces",
        type=_count,
        default=10,
        help="how many of the newest traces to print, at least 1 (default: 10)",
    )
    parser.add_argument(
        "--path", default=None, help="only traces with a Log whose path contains this text (default: all)"
    )
    parser.add_argument("--errors", action="store_true", help="only traces with at least one error")
    parser.add_argument("--brief", action="store_true", help="one line per Log: no inputs, outputs or errors")
    parser.add_argument(
        "--interval", type=float, default=1.0, help="seconds between polls with --follow, 0.2 to 60 (default: 1)"
    )
    parser.add_argument(
        "--for",
        dest="duration",
        type=float,
        default=None,
        metavar="SECONDS",
        help="with --follow: stop after this long (default: run until Ctrl-C)",
    )
    parser.add_argument(
        "--color", choices=("auto", "always", "never"), default="auto", help="colour output (default: auto)"
    )
    parser.set_defaults(func=run_logs)
