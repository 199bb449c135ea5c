"""The OTLP/gRPC receiver: ``TraceService/Export`` → decode once → the same pipeline.

Why gRPC at all: the OpenTelemetry Collector's ``loadbalancing`` exporter speaks only OTLP/gRPC,
so without this every sidecar needs a relay Collector in front of it. With it, the gateway
Collector routes ``traceID``-hashed batches straight to each sidecar's gRPC port.

It mirrors the HTTP receiver (:mod:`.server`) step for step, and shares its decoder, its limits
(:class:`SidecarConfig`) and the exporter: token, then queue room, then at most
``max_concurrent`` bodies read at once under ``body_timeout``, decoded on a worker thread, room
checked again for the actual span count, then handed to the pipeline. The answers are the gRPC
ones the OTLP spec names:

- ``UNAUTHENTICATED``: ``--auth-token`` set and the ``authorization`` metadata is not ``Bearer <token>``;
- ``RESOURCE_EXHAUSTED`` + ``RetryInfo``: the export queue is full (the Collector retries
  ``RESOURCE_EXHAUSTED`` only when ``RetryInfo`` is attached, so it always is);
- ``UNAVAILABLE`` + ``RetryInfo``: shutting down;
- ``INVALID_ARGUMENT``: not an ``ExportTraceServiceRequest`` (garbage bytes, corrupt gzip);
- ``RESOURCE_EXHAUSTED`` without ``RetryInfo``: a message over the body cap (gRPC core's own
  answer, checked after decompression) or more spans than ``max_queue`` — retrying cannot help;
- ``DEADLINE_EXCEEDED``: the message did not arrive within ``body_timeout``;
- OK with ``partial_success`` when some spans were unusable.

The method is registered *stream-unary* although clients call it unary (on the wire they are the
same): that way the handler runs before the message is read, so a wrong token or a full queue
costs no body, bodies in memory are bounded by a semaphore, and the read has a deadline — a slow
sender cannot hold a slot for ever. The server runs on ``grpc.aio``, in the same event loop as
the HTTP receiver under ``serve``.

``RetryInfo`` goes out twice: inside ``grpc-status-details-bin`` (the standard rich-status place,
read by the Collector and Go/Java clients) and as ``google.rpc.retryinfo-bin`` (where the Python
OTLP exporter looks).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import grpc.aio
from google.protobuf.any_pb2 import Any as AnyProto
from google.protobuf.duration_pb2 import Duration
from google.rpc import error_details_pb2, status_pb2

from otel_tool_exporter._internal.background import BackgroundServer
from otel_tool_exporter._internal.pipeline import pipeline_of
from otel_tool_exporter._internal.spans.otlp import (
    PROTOBUF,
    DecodeError,
    DecodeResult,
    encode_response,
)
from otel_tool_exporter.exporter import ToolLogExporter
from otel_tool_exporter.sidecar.guard import acquire_within, check_exposure
from otel_tool_exporter.sidecar.handoff import hand_in, span_reader
from otel_tool_exporter.sidecar.server import SidecarConfig, bearer_matches

__all__ = [
    "DEFAULT_GRPC_PORT",
    "EXPORT_METHOD",
    "MAX_PENDING_RPCS",
    "GrpcReceiver",
    "GrpcSidecarServer",
    "start_grpc_server",
]

logger = logging.getLogger("otel_tool_exporter.sidecar")

DEFAULT_GRPC_PORT = 4317
SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
EXPORT_METHOD = f"/{SERVICE}/Export"
# RPCs in progress at once, waiting ones included (each waiting RPC costs a coroutine and at most
# one HTTP/2 flow-control window). Past it gRPC answers RESOURCE_EXHAUSTED itself. Far above what
# a Collector opens (sending_queue num_consumers, 10 by default), so it only bounds a flood.
MAX_PENDING_RPCS = 256


class GrpcReceiver:
    """The ``Export`` handler and its counters; one per gRPC server."""

    def __init__(self, exporter: ToolLogExporter, config: SidecarConfig | None = None) -> None:
        self.exporter = exporter
        self.decode = span_reader(exporter)
        self.config = config or SidecarConfig()
        self.token = self.config.auth_token.encode() if self.config.auth_token else None
        self.slots = asyncio.Semaphore(self.config.max_concurrent)
        self.executor = ThreadPoolExecutor(self.config.max_concurrent, thread_name_prefix="otel-tool-exporter-grpc")
        self.draining = False
        self.responses: Counter[str] = Counter()  # by gRPC status name, e.g. "OK", "UNAUTHENTICATED"
        self.spans_accepted = 0
        self.spans_rejected = 0
        self._logged: set[str] = set()

    def snapshot(self) -> dict[str, Any]:
        return {
            "responses": dict(sorted(self.responses.items())),
            "spans_accepted": self.spans_accepted,
            "spans_rejected": self.spans_rejected,
            "draining": self.draining,
        }

    def handler(self) -> grpc.GenericRpcHandler:
        """``TraceService/Export`` with raw bytes in and out: decoding is ours (:func:`decode_protobuf`)."""
        method = grpc.stream_unary_rpc_method_handler(self.export)
        return grpc.method_handlers_generic_handler(SERVICE, {"Export": method})

    def close(self) -> None:
        self.draining = True
        self.executor.shutdown(wait=False, cancel_futures=True)

    def _log_once(self, key: str, message: str, *args: Any) -> None:
        """Warn once per distinct problem: a misbehaving client must not flood the log."""
        if key in self._logged or len(self._logged) > 1000:
            return
        self._logged.add(key)
        logger.warning(message, *args)

    def _authorised(self, context: grpc.aio.ServicerContext, token: bytes) -> bool:
        for key, value in context.invocation_metadata() or ():
            if key == "authorization":  # gRPC lower-cases metadata keys
                text = value.decode("latin-1") if isinstance(value, bytes) else value
                return bearer_matches(text, token)
        return False

    async def _fail(
        self, context: grpc.aio.ServicerContext, code: grpc.StatusCode, message: str, retry_after: int | None = None
    ) -> None:
        """End the RPC with ``code``; with ``retry_after`` the status carries ``RetryInfo`` (retryable)."""
        self.responses[code.name] += 1
        trailers: tuple[tuple[str, bytes], ...] = ()
        if retry_after is not None:
            info = error_details_pb2.RetryInfo(retry_delay=Duration(seconds=retry_after))
            detail = AnyProto()
            detail.Pack(info)
            status = status_pb2.Status(code=code.value[0], message=message, details=[detail])
            trailers = (
                ("grpc-status-details-bin", status.SerializeToString()),
                ("google.rpc.retryinfo-bin", info.SerializeToString()),
            )
        await context.abort(code, message, trailing_metadata=trailers)

    async def _busy(self, context: grpc.aio.ServicerContext) -> None:
        if self.draining:
            await self._fail(context, grpc.StatusCode.UNAVAILABLE, "shutting down", self.config.retry_after)
        await self._fail(
            context, grpc.StatusCode.RESOURCE_EXHAUSTED, "export queue full, retry later", self.config.retry_after
        )

    async def export(self, requests: Any, context: grpc.aio.ServicerContext) -> bytes:
        """One ``Export`` call; every failure leaves through :meth:`_fail` (``context.abort`` raises)."""
        config = self.config
        if self.token is not None and not self._authorised(context, self.token):
            await self._fail(context, grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")
        inbox = pipeline_of(self.exporter).inbox
        if self.draining or not inbox.has_room(1):
            await self._busy(context)
        deadline = asyncio.get_running_loop().time() + config.body_timeout  # the wait for a slot included
        if not await acquire_within(self.slots, min(config.slot_timeout, config.body_timeout)):
            await self._busy(context)
        try:
            try:
                body = await asyncio.wait_for(context.read(), max(0.0, deadline - asyncio.get_running_loop().time()))
            except asyncio.TimeoutError:
                await self._fail(
                    context, grpc.StatusCode.DEADLINE_EXCEEDED, f"message not received within {config.body_timeout} s"
                )
            if not isinstance(body, bytes):  # grpc.aio.EOF: the client half-closed without a message
                await self._fail(context, grpc.StatusCode.INVALID_ARGUMENT, "no ExportTraceServiceRequest message")
            try:
                result: DecodeResult = await asyncio.get_running_loop().run_in_executor(
                    self.executor, self.decode, body, PROTOBUF
                )
            except DecodeError as exc:
                self._log_once("decode", "sidecar (gRPC): malformed OTLP request: %s", exc)
                await self._fail(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            except RuntimeError:  # the executor was shut down under us: we are stopping
                await self._busy(context)
            except Exception:
                logger.exception("sidecar (gRPC): internal error decoding an OTLP request")
                await self._fail(context, grpc.StatusCode.INTERNAL, "internal error while decoding")
            del body
        finally:
            self.slots.release()
        spans = result.spans
        max_queue = inbox.max_queue
        if len(spans) > max_queue:
            message = f"{len(spans)} spans in one request, more than max_queue ({max_queue}): split it"
            await self._fail(context, grpc.StatusCode.RESOURCE_EXHAUSTED, message)
        if self.draining or not inbox.has_room(len(spans)):
            await self._busy(context)
        if not await hand_in(self.exporter, spans):
            await self._busy(context)
        self.spans_accepted += len(spans)
        if result.rejected:
            self.spans_rejected += result.rejected_count
            self._log_once(f"rejected:{sorted(result.rejected)}", "sidecar (gRPC): %s", result.error_message())
        self.responses["OK"] += 1
        return encode_response(result, PROTOBUF)


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


async def start_grpc_server(
    exporter: ToolLogExporter, config: SidecarConfig | None, host: str, port: int
) -> tuple[grpc.aio.Server, GrpcReceiver, int]:
    """Start the gRPC receiver on the running loop; returns the server, its receiver and the bound port.

    ``grpc.max_receive_message_length`` is the body cap: gRPC core checks it on the wire size and
    again after decompressing, and answers RESOURCE_EXHAUSTED before our handler sees a byte.
    The HTTP receiver's connection rules hold here too, kept by gRPC core: at most
    ``max_connections`` open connections (more are refused before the handshake), and a
    connection that has not completed its HTTP/2 handshake within ``head_timeout`` is closed.
    Raises ``RuntimeError`` when the address cannot be bound.
    """
    receiver = GrpcReceiver(exporter, config)
    check_exposure(host, receiver.config.auth_token, receiver.config.allow_unauthenticated)
    cap = receiver.config.max_body_bytes
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", cap),
            ("grpc.max_send_message_length", 4 * 1024 * 1024),
            ("grpc.so_reuseport", 0),  # a second sidecar on the same port must fail, not share it
            ("grpc.max_allowed_incoming_connections", receiver.config.max_connections),
            ("grpc.server_handshake_timeout_ms", max(1, int(receiver.config.head_timeout * 1000))),
        ],
        maximum_concurrent_rpcs=MAX_PENDING_RPCS,
    )
    server.add_generic_rpc_handlers((receiver.handler(),))
    try:
        bound = server.add_insecure_port(_address(host, port))
    except RuntimeError:
        receiver.close()
        raise
    await server.start()
    return server, receiver, bound


async def stop_grpc_server(server: grpc.aio.Server, receiver: GrpcReceiver, grace: float) -> None:
    """Refuse new calls (UNAVAILABLE), give calls in progress ``grace`` seconds, then free the workers."""
    receiver.draining = True
    await server.stop(grace)
    receiver.close()


class GrpcSidecarServer(BackgroundServer):
    """The gRPC receiver on a background thread: ``with GrpcSidecarServer(exporter) as sidecar: ...``.

    For tests and embedding, like :class:`SidecarServer`; ``stop()`` stops the receiver, shutting
    the exporter down stays the caller's decision.
    """

    thread_name = "otel-tool-exporter-grpc"

    def __init__(
        self, exporter: ToolLogExporter, config: SidecarConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        super().__init__()
        self.exporter = exporter
        self.config = config or SidecarConfig()
        self.host = host
        self.port = port
        self.receiver: GrpcReceiver | None = None
        self._server: grpc.aio.Server | None = None

    @property
    def target(self) -> str:
        """``host:port``, what a gRPC channel or ``OTLPSpanExporter(endpoint=...)`` takes."""
        return _address(self.host, self.port)

    async def _open(self) -> None:
        self._server, self.receiver, self.port = await start_grpc_server(
            self.exporter, self.config, self.host, self.port
        )

    async def _close(self) -> None:
        if self._server is not None and self.receiver is not None:
            await stop_grpc_server(self._server, self.receiver, 2.0)
