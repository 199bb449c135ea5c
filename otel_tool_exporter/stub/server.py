"""A local Humanloop-compatible server: ``POST /v5/tools/log`` done exactly as the
reference page describes, plus Log listing, a trace view, and fault injection for tests.

It validates with the same pydantic models the exporter sends with, so a request the stub accepts
is one the models say the real API accepts.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import ValidationError

from otel_tool_exporter._internal.background import BackgroundServer, serve_app
from otel_tool_exporter._internal.build.values import canonical
from otel_tool_exporter.models import ToolLogRequest, ToolLogUpdate
from otel_tool_exporter.stub.page import register_routes, render_index
from otel_tool_exporter.stub.store import LogStore

__all__ = ["Faults", "StubServer", "create_app"]


@dataclass
class Faults:
    """Misbehaviour on demand. ``fail_next`` answers the next N log requests with ``status``;
    ``error_rate`` does so at random; ``reset_rate`` drops the connection without an answer;
    ``reject_paths`` answers 400 for Logs of those Tool paths; ``max_body_bytes`` answers 413."""

    latency_ms: float = 0.0
    error_rate: float = 0.0
    status: int = 503
    retry_after: str | None = None
    fail_next: int = 0
    reset_rate: float = 0.0
    reset_next: int = 0
    reject_paths: list[str] = field(default_factory=list)
    max_body_bytes: int = 0  # >0: larger bodies get 413, like a proxy in front of the API
    update_status: int = 0  # >0: Update Log (PATCH) answers this status, like a server without it


def _stable_id(prefix: str, *parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]
    return f"{prefix}_{digest}"


def _error(status: int, detail: Any) -> web.Response:
    return web.json_response({"detail": detail}, status=status)


class StubState:
    def __init__(self, db: str) -> None:
        self.store = LogStore(db)
        self.faults = Faults()
        self.requests = 0
        self.by_status: dict[int, int] = {}
        self.rng = random.Random()

    def count(self, status: int) -> None:
        self.by_status[status] = self.by_status.get(status, 0) + 1


STATE = web.AppKey("state", StubState)


def _validation_detail(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": ["body", *err["loc"]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]


async def _log_tool(request: web.Request) -> web.StreamResponse:
    state: StubState = request.app[STATE]
    state.requests += 1
    faults = state.faults
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000.0)
    if faults.reset_next > 0 or (faults.reset_rate and state.rng.random() < faults.reset_rate):
        faults.reset_next = max(0, faults.reset_next - 1)
        state.count(0)
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError  # aiohttp drops the connection without a reply
    if faults.fail_next > 0 or (faults.error_rate and state.rng.random() < faults.error_rate):
        faults.fail_next = max(0, faults.fail_next - 1)
        state.count(faults.status)
        headers = {"Retry-After": faults.retry_after} if faults.retry_after else None
        return web.json_response({"detail": "injected fault"}, status=faults.status, headers=headers)

    if not request.headers.get("X-API-KEY", "").strip():
        state.count(401)
        return _error(401, "Missing or empty X-API-KEY header")
    raw = await request.read()
    if faults.max_body_bytes and len(raw) > faults.max_body_bytes:
        state.count(413)
        return _error(413, f"Request body of {len(raw)} bytes exceeds {faults.max_body_bytes}")
    try:
        body = ToolLogRequest.model_validate_json(raw)
    except ValidationError as exc:
        state.count(422)
        return _error(422, _validation_detail(exc))

    store = state.store
    if body.path:
        path = body.path
        tool_id = store.tool_for_path(path) or _stable_id("tl", path)
    elif body.id:
        tool_id = body.id
        found = store.path_for_tool(tool_id)
        if found is None:
            state.count(404)
            return _error(404, f"Tool with id {tool_id!r} not found")
        path = found
    else:
        state.count(400)
        return _error(400, "Either path or id is required")
    if path in faults.reject_paths:
        state.count(400)
        return _error(400, f"Tool path {path!r} rejected (injected)")

    version_param = request.query.get("version_id")
    if version_param:
        known = store.version(version_param)
        if known is None or known[0] != tool_id:
            state.count(404)
            return _error(404, f"Version {version_param!r} not found for this Tool")
        version_id = version_param
    elif body.tool is not None:
        kernel = json.dumps(canonical(body.tool.model_dump(mode="json", exclude_none=True)), separators=(",", ":"))
        version_id = _stable_id("tv", path, kernel)
        store.upsert_version(version_id, tool_id, path, kernel)
    else:
        version_id = store.latest_version(tool_id) or _stable_id("tv", path, "{}")
        store.upsert_version(version_id, tool_id, path, "{}")

    trace_id: str
    if body.trace_parent_id:
        parent_trace = store.trace_of(body.trace_parent_id)
        if parent_trace is None:
            state.count(404)
            return _error(404, f"trace_parent_id {body.trace_parent_id!r} names no existing Log")
        trace_id = parent_trace
    log_id = "log_" + uuid.uuid4().hex[:24]
    if not body.trace_parent_id:
        trace_id = log_id
    record = body.model_dump(mode="json", exclude_none=True)
    record.update(
        id=log_id,
        tool_id=tool_id,
        version_id=version_id,
        path=path,
        trace_id=trace_id,
        query={k: v for k, v in request.query.items()},
    )
    store.insert(record, received_at=time.time())
    state.count(200)
    return web.json_response({"id": log_id, "tool_id": tool_id, "version_id": version_id, "log_user_id": None})


async def _update_log(request: web.Request) -> web.StreamResponse:
    """Update Log, ``PATCH /v5/tools/{tool_id}/log/{log_id}``: completes a Log created early
    (validated like the POST: 422 for unknown fields and wrong types, 404 for an unknown Log or a
    Log of another Tool)."""
    state: StubState = request.app[STATE]
    state.requests += 1
    faults = state.faults
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000.0)
    if faults.update_status:
        state.count(faults.update_status)
        return _error(faults.update_status, "Update Log is not available (injected)")
    if not request.headers.get("X-API-KEY", "").strip():
        state.count(401)
        return _error(401, "Missing or empty X-API-KEY header")
    try:
        body = ToolLogUpdate.model_validate_json(await request.read())
    except ValidationError as exc:
        state.count(422)
        return _error(422, _validation_detail(exc))
    tool_id, log_id = request.match_info["tool_id"], request.match_info["log_id"]
    stored = state.store.get(log_id)
    if stored is None or stored.get("tool_id") != tool_id:
        state.count(404)
        return _error(404, f"Log {log_id!r} of Tool {tool_id!r} not found")
    record = state.store.update(log_id, body.model_dump(mode="json", exclude_none=True))
    state.count(200)
    return web.json_response(
        {"id": log_id, "tool_id": tool_id, "version_id": record.get("version_id"), "log_user_id": None}
    )


MAX_PAGE = 1_000_000
MAX_PAGE_SIZE = 10_000


class _QueryError(Exception):
    def __init__(self, item: dict[str, Any]) -> None:
        super().__init__(item["msg"])
        self.item = item


def _query_int(query: Mapping[str, str], name: str, default: int, highest: int) -> int:
    """``query[name]`` as an integer from 1 to ``highest``; anything else is the caller's 422."""
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _QueryError({"loc": ["query", name], "msg": "must be an integer", "type": "int_parsing"}) from None
    if not 1 <= value <= highest:
        msg = f"must be from 1 to {highest}"
        raise _QueryError({"loc": ["query", name], "msg": msg, "type": "out_of_range", "input": raw[:40]})
    return value


def _control_refusal(request: web.Request) -> web.Response | None:
    """Control endpoints change what tests observe, so only a same-origin JSON request may call
    them: a cross-site page can send a form or a plain-text POST without asking, but not
    ``application/json`` (that needs a CORS preflight this server never grants)."""
    if request.content_type != "application/json":
        return _error(415, "control endpoints take a JSON body (Content-Type: application/json)")
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return _error(403, f"cross-site request refused (Sec-Fetch-Site: {site[:40]})")
    origin = request.headers.get("Origin")
    if origin is not None and not _own_origin(request, origin):
        return _error(403, f"cross-origin request refused (Origin: {origin[:100]})")
    return None


def _own_origin(request: web.Request, origin: str) -> bool:
    sockname = request.transport.get_extra_info("sockname") if request.transport is not None else None
    if not sockname:
        return False
    try:
        parts = urlsplit(origin)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return False
    own_hosts = {"localhost", "127.0.0.1", "::1", str(sockname[0])}
    return parts.scheme == "http" and parts.hostname in own_hosts and port == sockname[1]


async def _list_logs(request: web.Request) -> web.Response:
    state: StubState = request.app[STATE]
    q = request.query
    try:
        page = _query_int(q, "page", 1, MAX_PAGE)
        size = _query_int(q, "size", 100, MAX_PAGE_SIZE)
    except _QueryError as exc:
        return _error(422, [exc.item])
    has_error = {"true": True, "false": False}.get(q.get("has_error", "").lower())
    records, total = state.store.list(
        path=q.get("path"), trace_id=q.get("trace_id"), has_error=has_error, page=page, size=size
    )
    return web.json_response({"records": records, "page": page, "size": size, "total": total})


async def _get_log(request: web.Request) -> web.Response:
    record = request.app[STATE].store.get(request.match_info["log_id"])
    if record is None:
        return _error(404, "Log not found")
    return web.json_response(record)


async def _index(request: web.Request) -> web.Response:
    state: StubState = request.app[STATE]
    q = request.query
    html = render_index(state.store, path_filter=q.get("path") or None, errors_only=q.get("errors") == "1")
    return web.Response(text=html, content_type="text/html")


async def _get_faults(request: web.Request) -> web.Response:
    return web.json_response(asdict(request.app[STATE].faults))


async def _set_faults(request: web.Request) -> web.Response:
    if (refused := _control_refusal(request)) is not None:
        return refused
    state: StubState = request.app[STATE]
    try:
        changes = await request.json()
        state.faults = Faults(**{**asdict(state.faults), **changes})
    except (ValueError, TypeError) as exc:
        return _error(400, f"bad faults: {exc}")
    return web.json_response(asdict(state.faults))


async def _stats(request: web.Request) -> web.Response:
    state: StubState = request.app[STATE]
    return web.json_response(
        {
            "requests": state.requests,
            "by_status": {str(k): v for k, v in state.by_status.items()},
            "logs": state.store.count(),
        }
    )


async def _reset(request: web.Request) -> web.Response:
    if (refused := _control_refusal(request)) is not None:
        return refused
    state: StubState = request.app[STATE]
    state.store.clear()
    state.faults = Faults()
    state.requests = 0
    state.by_status.clear()
    return web.json_response({"ok": True})


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(db: str = ":memory:", faults: Faults | None = None) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    state = StubState(db)
    if faults is not None:
        state.faults = faults
    app[STATE] = state
    app.router.add_post("/v5/tools/log", _log_tool)
    app.router.add_patch("/v5/tools/{tool_id}/log/{log_id}", _update_log)
    app.router.add_get("/v5/logs", _list_logs)
    app.router.add_get("/v5/logs/{log_id}", _get_log)
    app.router.add_get("/", _index)
    register_routes(app)  # the trace view's refresh endpoint and its packaged assets
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/_stub/faults", _get_faults)
    app.router.add_post("/_stub/faults", _set_faults)
    app.router.add_get("/_stub/stats", _stats)
    app.router.add_post("/_stub/reset", _reset)
    return app


class StubServer(BackgroundServer):
    """The stub on a background thread, for tests and the demo: ``with StubServer() as stub:``."""

    thread_name = "otel-tool-exporter-stub"

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, db: str = ":memory:", faults: Faults | None = None
    ) -> None:
        super().__init__()
        self.host = host
        self.port = port
        self.db = db
        self._faults = faults
        self._runner: web.AppRunner | None = None
        self.app: web.Application | None = None

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What the exporter's ``base_url`` should be."""
        return f"{self.root_url}/v5"

    @property
    def state(self) -> StubState:
        assert self.app is not None
        return self.app[STATE]

    @property
    def store(self) -> LogStore:
        return self.state.store

    def set_faults(self, **changes: Any) -> None:
        self.state.faults = Faults(**{**asdict(self.state.faults), **changes})

    async def _open(self) -> None:
        self.app = create_app(self.db, self._faults)
        # stopping cuts requests still in flight after a moment (a slow fault can hold one for
        # seconds): an embedded stub stops like a server going away, not after its slowest answer
        self._runner, self.port = await serve_app(self.app, self.host, self.port, shutdown_timeout=0.25)

    async def _close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self.app is not None:
            self.app[STATE].store.close()
