"""The OTLP/HTTP receiver: ``POST /v1/traces`` → decode once → the exporter's pipeline.

Every request is checked in the cheapest order — token, content type, encoding, declared length,
queue room — before a byte of the body is read. The body is read under a deadline and a cap that
also bounds the inflated size, decoded on a worker thread (a 20 MiB body must not stall
``/healthz``), and at most ``max_concurrent`` bodies are in memory at once. Answers follow the
OTLP/HTTP spec: the request's encoding, ``partial_success`` for rejected spans, a
``google.rpc.Status`` body on errors, ``Retry-After`` on 503.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from otel_tool_exporter._internal.background import BackgroundServer
from otel_tool_exporter._internal.body import DEFLATE, GZIP, BodyTooLarge, MalformedBody, read_capped
from otel_tool_exporter._internal.pipeline import pipeline_of
from otel_tool_exporter._internal.spans.otlp import (
    JSON,
    PROTOBUF,
    DecodeError,
    DecodeResult,
    encode_response,
    encode_status,
)
from otel_tool_exporter.exporter import ToolLogExporter
from otel_tool_exporter.sidecar.guard import (
    HTTP_LOGGER,
    ConnectionGuard,
    GuardedSite,
    acquire_within,
    check_exposure,
    mark_served,
)
from otel_tool_exporter.sidecar.handoff import hand_in, span_reader

__all__ = ["DEFAULT_MAX_BODY_BYTES", "SidecarConfig", "SidecarServer", "create_app", "start_site"]

logger = logging.getLogger("otel_tool_exporter.sidecar")

DEFAULT_MAX_BODY_BYTES = 20 * 1024 * 1024

_CONTENT_TYPES = {
    "application/x-protobuf": PROTOBUF,
    "application/protobuf": PROTOBUF,
    "application/json": JSON,
}
_ENCODINGS: dict[str, int | None] = {"": None, "identity": None, "gzip": GZIP, "x-gzip": GZIP, "deflate": DEFLATE}
_MEDIA = {PROTOBUF: "application/x-protobuf", JSON: "application/json"}

# google.rpc.Code values used in error bodies
_INVALID_ARGUMENT = 3
_RESOURCE_EXHAUSTED = 8
_UNAUTHENTICATED = 16
_UNAVAILABLE = 14
_INTERNAL = 13
_DEADLINE_EXCEEDED = 4


@dataclass(frozen=True, slots=True)
class SidecarConfig:
    """The receiver's own limits (the exporter's settings live on the exporter)."""

    auth_token: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    body_timeout: float = 30.0  # seconds from the request head to the whole body, waiting for a slot included
    max_concurrent: int = 4  # bodies read/decoded at once; bounds memory at about this × max_body_bytes
    retry_after: int = 2  # seconds, sent with 503
    head_timeout: float = 10.0  # seconds from connecting to a complete request head
    max_connections: int = 512  # open connections; more are answered 503 (also kept below the file limit)
    idle_timeout: float = 30.0  # seconds a kept-alive connection may wait for its next request
    slot_timeout: float = 5.0  # seconds a request waits for a decoding slot before it is answered 503
    allow_unauthenticated: bool = False  # listen beyond loopback without auth_token (refused otherwise)

    def __repr__(self) -> str:  # never show the token
        return (
            f"SidecarConfig(auth_token={'***' if self.auth_token else None}, max_body_bytes={self.max_body_bytes}, "
            f"body_timeout={self.body_timeout}, max_concurrent={self.max_concurrent}, "
            f"head_timeout={self.head_timeout}, max_connections={self.max_connections})"
        )


class _State:
    def __init__(self, exporter: ToolLogExporter, config: SidecarConfig) -> None:
        self.exporter = exporter
        self.decode = span_reader(exporter)
        self.config = config
        self.token = config.auth_token.encode() if config.auth_token else None
        self.slots = asyncio.Semaphore(config.max_concurrent)
        self.guard = ConnectionGuard(max_connections=config.max_connections, head_timeout=config.head_timeout)
        self.executor: ThreadPoolExecutor | None = None
        self.draining = False
        self.responses: Counter[int] = Counter()
        self.requests_by_format: Counter[str] = Counter()  # accepted requests: protobuf / json
        self.spans_accepted = 0
        self.spans_rejected = 0
        self._logged: set[str] = set()

    def snapshot(self) -> dict[str, Any]:
        return {
            "responses": {str(k): v for k, v in sorted(self.responses.items())},
            "requests_by_format": dict(self.requests_by_format),
            "spans_accepted": self.spans_accepted,
            "spans_rejected": self.spans_rejected,
            "draining": self.draining,
            **self.guard.snapshot(),
        }

    def log_once(self, key: str, message: str, *args: Any) -> None:
        """Warn once per distinct problem: a misbehaving client must not flood the log."""
        if key in self._logged or len(self._logged) > 1000:
            return
        self._logged.add(key)
        logger.warning(message, *args)


STATE = web.AppKey("otel_tool_exporter_sidecar", _State)


def create_app(exporter: ToolLogExporter, config: SidecarConfig | None = None) -> web.Application:
    """The aiohttp application. Run it with ``auto_decompress=False`` (see :func:`start_site`)."""
    state = _State(exporter, config or SidecarConfig())
    app = web.Application(middlewares=[mark_served(state.guard)])
    app[STATE] = state
    app.router.add_post("/v1/traces", _export)
    app.router.add_get("/healthz", _healthz)
    app.on_startup.append(_startup)
    app.on_cleanup.append(_cleanup)
    return app


async def _startup(app: web.Application) -> None:
    state = app[STATE]
    state.executor = ThreadPoolExecutor(state.config.max_concurrent, thread_name_prefix="otel-tool-exporter-decode")


async def _cleanup(app: web.Application) -> None:
    state = app[STATE]
    state.draining = True
    if state.executor is not None:
        state.executor.shutdown(wait=False, cancel_futures=True)


async def _healthz(request: web.Request) -> web.Response:
    """Liveness for anyone; the counters only with the bearer token when one is set."""
    state = request.app[STATE]
    doc: dict[str, Any] = {"status": "draining" if state.draining else "ok"}
    if state.token is None or _authorised(request, state.token):
        doc["spool"] = pipeline_of(state.exporter).spool_state  # "on", "off" or "failed: <reason>"
        doc.update(sidecar=state.snapshot(), exporter=state.exporter.stats())
    return web.json_response(doc, status=503 if state.draining else 200)


def _reply(state: _State, status: int, code: int, message: str, fmt: str, **headers: str) -> web.Response:
    state.responses[status] += 1
    return web.Response(
        status=status, body=encode_status(code, message, fmt), content_type=_MEDIA[fmt], headers=headers
    )


def _authorised(request: web.Request, token: bytes) -> bool:
    return bearer_matches(request.headers.get("Authorization", ""), token)


def bearer_matches(header: str, token: bytes) -> bool:
    """``header`` is ``Bearer <token>``. Any other text — odd bytes, non-ASCII, no scheme — is
    simply not the token (401), never an error."""
    scheme, _, given = header.partition(" ")
    try:
        given_bytes = given.strip().encode("utf-8", "surrogateescape")
    except UnicodeError:
        return False
    return scheme.lower() == "bearer" and hmac.compare_digest(given_bytes, token)


async def _export(request: web.Request) -> web.Response:
    state = request.app[STATE]
    config = state.config
    fmt = _CONTENT_TYPES.get(request.content_type)
    reply_fmt = fmt or JSON
    if state.token is not None and not _authorised(request, state.token):
        return _reply(
            state, 401, _UNAUTHENTICATED, "missing or wrong bearer token", reply_fmt, **{"WWW-Authenticate": "Bearer"}
        )
    if fmt is None:
        message = f"unsupported content type {request.content_type!r}: use application/x-protobuf or application/json"
        return _reply(state, 415, _INVALID_ARGUMENT, message, JSON)
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in _ENCODINGS:
        return _reply(state, 415, _INVALID_ARGUMENT, f"unsupported Content-Encoding {encoding!r}: use gzip", fmt)
    cap = config.max_body_bytes
    if request.content_length is not None and request.content_length > cap:
        return _reply(state, 413, _RESOURCE_EXHAUSTED, f"body larger than {cap} bytes", fmt)
    inbox = pipeline_of(state.exporter).inbox
    if state.draining or not inbox.has_room(1):
        return _busy(state, fmt)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + config.body_timeout  # the body's deadline runs from here, the wait for a slot included
    if not await acquire_within(state.slots, min(config.slot_timeout, config.body_timeout)):
        return _busy(state, fmt)
    try:
        try:
            body = await asyncio.wait_for(
                read_capped(request.content.iter_chunked(64 * 1024), cap, _ENCODINGS[encoding]),
                max(0.0, deadline - loop.time()),
            )
        except BodyTooLarge as exc:
            return _reply(state, 413, _RESOURCE_EXHAUSTED, str(exc), fmt)
        except MalformedBody as exc:
            state.log_once(f"body:{exc}", "sidecar: rejected a request body: %s", exc)
            return _reply(state, 400, _INVALID_ARGUMENT, str(exc), fmt)
        except asyncio.TimeoutError:
            return _reply(state, 408, _DEADLINE_EXCEEDED, f"body not received within {config.body_timeout} s", fmt)
        try:
            result: DecodeResult = await asyncio.get_running_loop().run_in_executor(
                state.executor, state.decode, body, fmt
            )
        except DecodeError as exc:
            state.log_once(f"decode:{fmt}", "sidecar: malformed OTLP %s request: %s", fmt, exc)
            return _reply(state, 400, _INVALID_ARGUMENT, str(exc), fmt)
        except Exception:
            logger.exception("sidecar: internal error decoding an OTLP request")
            return _reply(state, 500, _INTERNAL, "internal error while decoding", fmt)
        del body
    finally:
        state.slots.release()
    spans = result.spans
    if len(spans) > inbox.max_queue:
        message = f"{len(spans)} spans in one request, more than max_queue ({inbox.max_queue}): split it"
        return _reply(state, 413, _RESOURCE_EXHAUSTED, message, fmt)
    if state.draining or not inbox.has_room(len(spans)):
        return _busy(state, fmt)
    if not await hand_in(state.exporter, spans):
        message = "the spans were not written to the spool in time, retry later"
        return _reply(state, 503, _UNAVAILABLE, message, fmt, **{"Retry-After": str(state.config.retry_after)})
    state.spans_accepted += len(spans)
    if result.rejected:
        state.spans_rejected += result.rejected_count
        state.log_once(f"rejected:{sorted(result.rejected)}", "sidecar: %s", result.error_message())
    state.responses[200] += 1
    state.requests_by_format[fmt] += 1
    return web.Response(body=encode_response(result, fmt), content_type=_MEDIA[fmt])


def _busy(state: _State, fmt: str) -> web.Response:
    message = "shutting down" if state.draining else "busy (export queue full or all decoding slots taken), retry later"
    return _reply(state, 503, _UNAVAILABLE, message, fmt, **{"Retry-After": str(state.config.retry_after)})


async def start_site(
    app: web.Application, host: str, port: int, *, shutdown_timeout: float = 10.0
) -> tuple[web.AppRunner, int]:
    """Start serving ``app``; returns the runner and the bound port (useful with port 0).

    ``auto_decompress=False``: aiohttp would otherwise inflate gzip bodies itself, before our cap.
    """
    state = app[STATE]
    check_exposure(host, state.config.auth_token, state.config.allow_unauthenticated)
    runner = web.AppRunner(
        app,
        access_log=None,
        handle_signals=False,
        auto_decompress=False,
        shutdown_timeout=shutdown_timeout,
        keepalive_timeout=state.config.idle_timeout,
        logger=HTTP_LOGGER,
    )
    await runner.setup()
    site = GuardedSite(runner, host, port, state.guard)
    await site.start()
    return runner, site.port


class SidecarServer(BackgroundServer):
    """The receiver on a background thread: ``with SidecarServer(exporter) as sidecar: ...``.

    For tests and for embedding in a process that already runs something else. ``stop()`` stops
    the receiver; shutting the exporter down stays the caller's decision.
    """

    thread_name = "otel-tool-exporter-sidecar"

    def __init__(
        self, exporter: ToolLogExporter, config: SidecarConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        super().__init__()
        self.exporter = exporter
        self.config = config or SidecarConfig()
        self.host = host
        self.port = port
        self.app: web.Application | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def traces_url(self) -> str:
        return f"{self.url}/v1/traces"

    async def _open(self) -> None:
        self.app = create_app(self.exporter, self.config)
        self._runner, self.port = await start_site(self.app, self.host, self.port, shutdown_timeout=2.0)

    async def _close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
