"""``otel-tool-exporter doctor``: why are my tool calls not showing up? One screen that says.

It shows the settings the exporter would run with and where each came from, checks that the base
URL answers and the API key is accepted — without creating a Log —, lists the conventions that
make a span a tool span, and, given one span as JSON, shows whether it is a tool span, which
convention claimed it and the exact Log request it becomes.
"""

from __future__ import annotations

import argparse
import difflib
import errno
import json
import os
import re
import socket
import ssl
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit, urlunsplit

from otel_tool_exporter._internal.build.builder import Builder, NotLogged
from otel_tool_exporter._internal.build.conventions import ConventionRegistry
from otel_tool_exporter._internal.build.mapping import EXPLICIT_PARENT_KEY
from otel_tool_exporter._internal.build.values import MISSING
from otel_tool_exporter._internal.finalise import wire_body
from otel_tool_exporter._internal.spans import SpanRecord
from otel_tool_exporter._internal.spans.documents import SpanFileError, read_spans
from otel_tool_exporter.settings import (
    DURATION_FIELDS,
    ConfigurationError,
    Settings,
    describe_unknown,
    env_name,
    is_loopback_url,
    parse_env_value,
    unknown_variables,
)

if TYPE_CHECKING:
    import httpx

__all__ = ["SpanFileError", "read_spans", "register", "run_doctor"]

ALWAYS_SHOWN = ("api_key", "base_url", "path_prefix", "version_id", "environment")
CHECK_TIMEOUT = 10.0
MAX_DETAILED_SPANS = 10
# a body the Log endpoint must refuse (422) whatever else it checks: nothing can be created
_INVALID_LOG_BODY = {"path": "otel-tool-exporter-doctor", "start_time": "not-a-datetime", "inputs": "not-an-object"}


class _Report:
    """Lines for the screen, and whether anything needs fixing (the exit code)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.problems: list[str] = []

    def line(self, text: str = "") -> None:
        print(text, file=self.out)

    def heading(self, text: str) -> None:
        self.line()
        self.line(text)

    def ok(self, text: str) -> None:
        self.line(f"  ✓ {text}")

    def note(self, text: str) -> None:
        self.line(f"  · {text}")

    def problem(self, text: str, hint: str | None = None) -> None:
        self.problems.append(text)
        self.line(f"  ✗ {text}")
        if hint:
            self.line(f"      {hint}")


# ======================================================================== settings
def _shown_value(name: str, value: Any) -> str:
    if name == "api_key":
        secret = value.get_secret_value() if value is not None else ""
        return f"*** ({len(secret)} characters)" if secret else "(not set)"
    if name == "headers" and value:
        return ", ".join(f"{k}=***" for k in value)  # header values are often credentials
    if value is None:
        return "(not set)"
    if isinstance(value, tuple):
        return ",".join(value)
    return repr(value) if isinstance(value, str) and (value == "" or value != value.strip()) else str(value)


def _settings_section(report: _Report, overrides: Mapping[str, Any], show_all: bool) -> Settings | None:
    _list_environment(report)
    try:
        settings, sources = Settings.resolve_with_sources(warn_unknown=False, **overrides)
    except ConfigurationError as exc:
        report.problem(f"configuration: {exc}")
        return None
    names = [n for n in Settings.model_fields if show_all or n in ALWAYS_SHOWN or sources[n] != "default"]
    width = max(len(n) for n in names)
    for name in names:
        value = _shown_value(name, getattr(settings, name))
        report.line(f"  {name.ljust(width)}  {value:<34} {sources[name]}")
    hidden = len(Settings.model_fields) - len(names)
    if hidden:
        report.line(f"  … {hidden} more at their defaults (--all lists them)")
    return settings


def _list_environment(report: _Report) -> None:
    """Which variables of ours are set (by name: values may be secrets), and those that look like
    ours but are no setting — a misspelt variable silently does nothing."""
    present = sorted(
        n for n, v in os.environ.items() if n.startswith(("HUMANLOOP_", "OTEL_TOOL_EXPORTER_")) and v.strip()
    )
    if present:
        report.note("set in the environment: " + ", ".join(present))
    else:
        report.note("no HUMANLOOP_* or OTEL_TOOL_EXPORTER_* variable is set: every setting has its default")
    for var, close in unknown_variables():
        report.problem(describe_unknown(var, close), f"rename it to {close}" if close else "remove it")


# ======================================================================== connection
def _root_of(base_url: str) -> str:
    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def _detail(response: httpx.Response) -> str:
    """The server's ``detail``, short, with our own header values (the key) never shown: a server
    that quotes the request back must not put the key on the screen."""
    from otel_tool_exporter._internal.delivery.transports._base import scrub_header_values

    content = scrub_header_values(response.content, response.request.headers)
    try:
        body = json.loads(content)
    except ValueError:
        return content[:200].decode("utf-8", "replace").strip() or "no detail"
    detail = body.get("detail", body) if isinstance(body, dict) else body
    text = detail if isinstance(detail, str) else json.dumps(detail)
    return text[:200]


def _connection_section(report: _Report, settings: Settings) -> None:
    import httpx

    report.heading("Connection (nothing is created)")
    base = settings.base_url.rstrip("/")
    headers = {**settings.headers, "X-API-KEY": settings.api_key_value}
    timeout = httpx.Timeout(min(settings.timeout, CHECK_TIMEOUT), connect=min(settings.connect_timeout, CHECK_TIMEOUT))
    with httpx.Client(timeout=timeout, headers=headers) as client:
        list_url = f"{base}/tools"
        started = time.monotonic()
        try:
            response = client.get(list_url, params={"size": 1})
        except httpx.HTTPError as exc:
            hint = (
                "is the stub running? `otel-tool-exporter stub` (or `demo --wait`) starts it"
                if is_loopback_url(base)
                else "check the host name, your network and proxy settings (HTTPS_PROXY)"
            )
            report.problem(f"{base} does not answer: {_why(exc, base)}", hint)
            return
        elapsed = (time.monotonic() - started) * 1000
        report.ok(f"{base} answers (GET /tools → HTTP {response.status_code} in {elapsed:.0f} ms)")
        _stub_note(report, client, base)
        if response.status_code == 200:
            report.ok("API key accepted (it may list Tools)")
        elif response.status_code in (401, 403):
            report.problem(
                f"API key rejected: HTTP {response.status_code}: {_detail(response)}",
                f"check {env_name('api_key')} (the key is sent as the X-API-KEY header)",
            )
        else:
            _probe_log_endpoint(report, client, base, response.status_code)
    if settings.version_id or settings.environment:
        report.note("not checked: whether version_id / environment exist (the API checks them only when a Log is sent)")


def _probe_log_endpoint(report: _Report, client: httpx.Client, base: str, list_status: int) -> None:
    """No Tool listing here (the stub has none): ask the Log endpoint itself, with a body it must
    refuse. Authentication comes first, so 401/403 means a bad key and 422 a good one."""
    import httpx

    url = f"{base}/tools/log"
    try:
        response = client.post(url, json=_INVALID_LOG_BODY)
    except httpx.HTTPError as exc:
        report.problem(f"POST {url} failed: {type(exc).__name__}: {exc}")
        return
    status = response.status_code
    if status == 422:
        report.ok("API key accepted (the Log endpoint refused a deliberately invalid body: no Log created)")
    elif status in (401, 403):
        report.problem(
            f"API key rejected: HTTP {status}: {_detail(response)}",
            f"check {env_name('api_key')} (the key is sent as the X-API-KEY header)",
        )
    elif status == 404:
        fixed = _with_api_path(client, base)
        if fixed:
            report.problem(
                f"POST {url} → 404: no Log endpoint there, but {fixed}/tools/log answers",
                f"{'add the API path' if fixed.startswith(base) else 'use'}: {env_name('base_url')}={fixed}",
            )
        else:
            report.problem(
                f"POST {url} → 404: no Log endpoint there",
                "the base URL should end in the API version, e.g. https://api.humanloop.com/v5 or "
                "http://127.0.0.1:8000/v5",
            )
    elif status == 200:  # should not happen: the body is invalid
        report.problem(f"POST {url} accepted an invalid body (HTTP 200): is this a Humanloop-compatible API?")
    else:
        report.note(
            f"could not check the API key: GET /tools → HTTP {list_status}, POST /tools/log → HTTP {status}: "
            f"{_detail(response)}"
        )


_VERSIONED = re.compile(r"/v\d+$")


def _with_api_path(client: httpx.Client, base: str) -> str | None:
    """The base URL with its API path (``/v5``) when that is what is missing: a Log endpoint
    answers there (anything but 404) though not at ``base`` itself."""
    import httpx

    root = _root_of(base)
    candidates = [base + "/v5"] if not _VERSIONED.search(urlsplit(base).path) else []
    candidates += [root + "/v5"] if root + "/v5" not in (base, *candidates) else []
    for candidate in candidates:
        try:
            response = client.post(f"{candidate}/tools/log", json=_INVALID_LOG_BODY)
        except httpx.HTTPError:
            continue
        if response.status_code != 404:
            return candidate
    return None


def _why(exc: httpx.HTTPError, url: str) -> str:
    """Why a request got no answer, in one phrase naming host:port."""
    import httpx

    parts = urlsplit(url)
    where = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError) or getattr(cause, "errno", None) == errno.ECONNREFUSED:
            return f"connection to {where} refused (nothing listens on that port)"
        if isinstance(cause, ssl.SSLError):
            return f"TLS with {where} failed: {cause.reason or cause}"
        if isinstance(cause, socket.gaierror):
            return f"host {parts.hostname!r} not found (DNS: {cause.strerror or cause})"
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer from {where} within {CHECK_TIMEOUT:g} s ({type(exc).__name__})"
    if "refused" in str(exc).lower():
        return f"connection to {where} refused (nothing listens on that port)"
    return f"cannot connect to {where}: {type(exc).__name__}: {exc or 'no detail'}"


def _stub_note(report: _Report, client: httpx.Client, base: str) -> None:
    import httpx

    if not is_loopback_url(base):
        return
    try:
        response = client.get(f"{_root_of(base)}/_stub/stats")
        stats = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return
    if isinstance(stats, dict) and "logs" in stats:
        report.note(
            f"this is the local stub ({stats['logs']} Logs stored; it accepts any non-empty key); "
            f"trace view: {_root_of(base)}/"
        )


# ======================================================================== conventions
def _conventions_section(report: _Report, registry: ConventionRegistry) -> None:
    report.heading("Conventions recognised (tried in this order)")
    recognisers = registry.recognisers
    width = max((len(str(getattr(r, "name", ""))) for r in recognisers), default=0)
    for recogniser in recognisers:
        markers = [f"span name {n!r}" for n in getattr(recogniser, "span_names", ())]
        markers += [f"span name '{p} …'" for p in getattr(recogniser, "span_name_prefixes", ())]
        markers += [f"attribute {k}" for k in getattr(recogniser, "marker_keys", ())]
        name = str(getattr(recogniser, "name", type(recogniser).__name__))
        report.line(f"  {name.ljust(width)}  {'; '.join(markers) or '(no marker declared)'}")
    report.line(f"  {'(yours)'.ljust(width)}  ToolLogExporter(is_tool_span=...) logs any span it accepts")


# ======================================================================== --span
def _span_section(report: _Report, path: Path, settings: Settings | None, registry: ConventionRegistry) -> None:
    report.heading(f"Span file {path}")
    try:
        spans = read_spans(json.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        report.problem(f"cannot read {path}: {exc.strerror or exc}")
        return
    except ValueError as exc:  # JSONDecodeError and SpanFileError
        report.problem(f"cannot read {path}: {exc}")
        return
    except (KeyError, TypeError) as exc:
        report.problem(f"cannot read {path}: malformed span ({type(exc).__name__}: {exc})")
        return
    if not spans:
        report.problem(f"{path} holds no spans")
        return
    effective = settings or Settings()
    if settings is None:
        report.note("mapped with default settings (the configuration above has a problem)")
    builder = Builder(effective, registry)
    calls = []
    for span in spans:
        call = registry.recognise(span)
        calls.append(call)
        if call is None:
            builder.build(span)  # chat/LLM spans teach tool schemas, as in the exporter
    tools = sum(c is not None for c in calls)
    if len(spans) > 1:
        report.line(f"  {len(spans)} spans; {tools} tool span{'s' if tools != 1 else ''}")
        if not tools:
            report.problem(f"no tool span among the {len(spans)} spans in {path}")
    detailed = 0
    for span, call in zip(spans, calls, strict=True):
        if len(spans) > 1 and call is None:
            hint = registry.unclaimed_tool_hint(span)
            if hint is None:
                report.line(f"  - {span.name!r}: not a tool span")
            else:
                report.problem(f"{span.name!r}: not claimed, but looks like a tool call", hint)
            continue
        if detailed >= MAX_DETAILED_SPANS:
            report.line(f"  - {span.name!r}: tool span ({call.convention if call else '?'}); not shown in full")
            continue
        detailed += 1
        _explain_span(report, span, call, effective, registry, builder)


def _explain_span(
    report: _Report,
    span: SpanRecord,
    call: Any,
    settings: Settings,
    registry: ConventionRegistry,
    builder: Builder,
) -> None:
    parent = span.parent_span_id_hex or "none (a root span)"
    report.line(f"  span {span.name!r}  trace {span.trace_id_hex}  span {span.span_id_hex}  parent {parent}")
    if call is None:
        candidates = registry.candidates(span)
        if candidates:
            names = ", ".join(str(getattr(r, "name", r)) for r in candidates)
            report.line(
                f"  ✗ not a tool span: {names} matched its markers but declined it "
                "(e.g. a pseudo-tool, or the marker says it is not a tool call)"
            )
        else:
            report.line("  ✗ not a tool span: it carries no convention's marker (see the list above)")
        hint = registry.unclaimed_tool_hint(span)
        if hint is not None:
            report.line(f"    {hint}")
        else:
            interesting = [k for k in span.attributes if k.split(".", 1)[0] in _MARKER_ROOTS]
            if interesting:
                report.line(f"    attributes that look related: {', '.join(sorted(interesting)[:12])}")
            report.line("    still logged if you pass is_tool_span=lambda span: ... to ToolLogExporter")
        report.problems.append(f"span {span.name!r} is not a tool span")
        return
    recorded = [
        "arguments recorded" if call.arguments is not MISSING else "arguments NOT recorded (content capture off?)",
        "result recorded" if call.result is not MISSING else "result NOT recorded",
    ]
    report.line(f"  ✓ tool span: convention {call.convention!r}, tool {call.name!r}; " + ", ".join(recorded))
    built = builder.build(span)
    if isinstance(built, NotLogged):  # only a user's redact hook could say so; doctor has none
        report.line("    no Log: dropped before sending")
        return
    request = built.request
    body_bytes = wire_body(request, settings.max_field_bytes)  # caps list what they cut in metadata.otel.truncated
    query = {k: v for k, v in (("version_id", built.version_id), ("environment", built.environment)) if v}
    target = f"{settings.base_url.rstrip('/')}/tools/log"
    suffix = ("?" + "&".join(f"{k}={v}" for k, v in query.items())) if query else ""
    report.line(f"    maps to POST {target}{suffix} with this body (after redaction and field caps):")
    body = json.dumps(json.loads(body_bytes), indent=2, ensure_ascii=False)
    for text in body.splitlines():
        report.line("      " + text)
    if built.explicit_parent:
        report.line(f"    trace_parent_id: {built.explicit_parent} (explicit, from {EXPLICIT_PARENT_KEY})")
    elif span.parent_span_id is not None:
        report.line(
            "    trace_parent_id: set at export time to the Log id of the nearest ancestor span that is itself "
            "a tool span (none when no ancestor is)"
        )


_MARKER_ROOTS = frozenset(
    {"gen_ai", "openinference", "tool", "traceloop", "ai", "langfuse", "mlflow", "langsmith", "humanloop", "agentops"}
)


# ======================================================================== spool
def _spool_check(report: _Report, settings: Settings) -> None:
    """The spool directory must exist or be creatable, and take a file: else the exporter starts
    without the durability it was asked for."""
    if not settings.spool_dir:
        return
    path = Path(settings.spool_dir).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".doctor-", delete=True):
            pass
    except OSError as exc:
        report.problem(
            f"spool directory {path} cannot be written: {exc.strerror or exc}",
            f"choose a writable directory in {env_name('spool_dir')}, or fix its permissions",
        )
        return
    report.ok(f"spool directory {path} is writable")


# ======================================================================== command
def _set_value(name: str, raw: str) -> tuple[str, Any]:
    """``--set NAME=VALUE`` in the environment form: ``headers=a=b,c=d``, ``redact_keys=a,b``,
    ``timeout=10s`` / ``timeout_ms=10000``; names as the argument or as the variable."""
    key = name.strip().lower()
    for prefix in ("otel_tool_exporter_", "humanloop_"):
        if key.startswith(prefix) and key.removeprefix(prefix) in Settings.model_fields:
            key = key.removeprefix(prefix)
    if key.endswith("_ms") and key[:-3] in DURATION_FIELDS:
        field = key[:-3]
        try:
            return field, float(raw) / 1000.0
        except ValueError:
            raise ConfigurationError(f"--set {name}={raw}: expected a number of milliseconds") from None
    if key not in Settings.model_fields:
        close = difflib.get_close_matches(key, list(Settings.model_fields), n=1)
        hint = f"did you mean {close[0]}?" if close else f"settings are: {', '.join(Settings.model_fields)}"
        raise ConfigurationError(f"--set {name}: no such setting ({hint})")
    return key, parse_env_value(key, raw, f"--set {key}")


def _overrides(args: argparse.Namespace, report: _Report) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for name in ("base_url", "path_prefix", "version_id", "environment"):
        value = getattr(args, name)
        if value is not None:
            overrides[name] = value
    for item in args.set or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            report.problem(f"--set expects NAME=VALUE, got {item!r}")
            continue
        try:
            field, parsed = _set_value(key, value)
        except ConfigurationError as exc:
            report.problem(str(exc))
            continue
        overrides[field] = parsed
    return overrides


def run_doctor(args: argparse.Namespace, out: TextIO | None = None) -> int:
    report = _Report(out or sys.stdout)
    report.line("otel-tool-exporter doctor")
    report.line()
    report.line("Settings (argument > environment > default)")
    settings = _settings_section(report, _overrides(args, report), args.all)
    if settings is not None:
        _spool_check(report, settings)
        if args.offline:
            report.heading("Connection")
            report.note("not checked (--offline)")
        else:
            _connection_section(report, settings)
    registry = ConventionRegistry()
    _conventions_section(report, registry)
    if args.span:
        _span_section(report, Path(args.span), settings, registry)
    report.line()
    if report.problems:
        count = len(report.problems)
        report.line(f"{count} problem{'s' if count != 1 else ''} found:")
        for i, problem in enumerate(report.problems, 1):
            report.line(f"  {i}. {problem}")
        return 1
    report.line("No problems found.")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check the configuration and connection, list conventions, explain a span",
        description="Show the resolved settings and where each came from, check that the base URL answers and "
        "the API key is accepted (no Log is created), list the recognised conventions, and with --span show "
        "what one span maps to. Exit status 1 when a problem was found.",
    )
    for flag in ("base-url", "path-prefix", "version-id", "environment"):
        name = flag.replace("-", "_")
        parser.add_argument(
            f"--{flag}",
            default=None,
            help=f"as the exporter's {name} argument (default: ${env_name(name)}, else its default)",
        )
    parser.add_argument(
        "--set",
        action="append",
        metavar="NAME=VALUE",
        help="any other setting, written as in its environment variable: headers=k=v,k2=v2, redact_keys=a,b, "
        "timeout=10s or timeout_ms=10000 (repeatable; default: none)",
    )
    parser.add_argument("--all", action="store_true", help="list every setting, not only those set or essential")
    parser.add_argument("--offline", action="store_true", help="skip the connection checks")
    parser.add_argument(
        "--span",
        metavar="FILE.json",
        help="one span as OTLP/JSON or ReadableSpan.to_json() output: is it a tool span, and what Log does it "
        "become? (default: none)",
    )
    parser.set_defaults(func=run_doctor)
