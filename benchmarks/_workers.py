"""One measurement per process: ``python benchmarks/_workers.py KIND [options]``.

The benchmark scripts start these (a fresh interpreter each, so no run inherits another's
threads, pools or warmed caches) and read the ``RESULT {json}`` line they print. The
``humanloop`` kinds run under the Humanloop SDK's own venv and import nothing from this project.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from _common import (
    cpu_seconds,
    emit,
    genai_tool_attributes,
    humanloop_tool_attributes,
    other_attributes,
)

WORKLOADS: dict[str, tuple[str, Callable[[int], dict[str, Any]]]] = {
    "genai": ("execute_tool get_weather", genai_tool_attributes),
    "humanloop": ("humanloop.tool", humanloop_tool_attributes),
    "other": ("GET /v1/items", other_attributes),
}


def make_spans(tracer: Any, workload: str, start: int, n: int) -> None:
    """Create, fill and end ``n`` spans the way instrumentation does: start, set attributes, end."""
    name, attributes = WORKLOADS[workload]
    for i in range(start, start + n):
        span = tracer.start_span(name)
        for key, value in attributes(i).items():
            span.set_attribute(key, value)
        span.end()


def make_spans_mixed(tracer: Any, start: int, n: int, tool_every: int) -> int:
    """Every ``tool_every``-th span a tool call, the others ordinary spans; returns tool count."""
    tools = 0
    for i in range(start, start + n):
        if i % tool_every == 0:
            tools += 1
            name, attributes = WORKLOADS["genai"]
        else:
            name, attributes = WORKLOADS["other"]
        span = tracer.start_span(name)
        for key, value in attributes(i).items():
            span.set_attribute(key, value)
        span.end()
    return tools


# ============================================================================ product
def _product_provider(port: int, setup: str, **settings: Any) -> tuple[Any, Any, Any]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from otel_tool_exporter import ToolLogExporter, ToolSpanProcessor

    exporter = ToolLogExporter(api_key="bench-key", base_url=f"http://127.0.0.1:{port}/v5", **settings)
    provider = TracerProvider()
    if setup == "bsp":
        provider.add_span_processor(BatchSpanProcessor(exporter))
    else:
        provider.add_span_processor(ToolSpanProcessor(exporter))
    return provider, exporter, provider.get_tracer("bench", "1.0")


def product(args: argparse.Namespace) -> None:
    """Throughput and CPU per Log: N tool spans as fast as the app can make them, until every
    Log is acknowledged."""
    settings: dict[str, Any] = {}
    if args.transport:
        settings["transport"] = args.transport
    provider, exporter, tracer = _product_provider(args.port, args.setup, **settings)
    make_spans(tracer, args.workload, 0, args.warmup)  # connections up, code paths warm
    provider.force_flush(30_000)
    before = exporter.stats()
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    make_spans(tracer, args.workload, args.warmup, args.n)
    t_app = time.perf_counter()
    ok = provider.force_flush(int(args.deadline * 1000))
    t1, cpu1 = time.perf_counter(), cpu_seconds()
    after = exporter.stats()
    sent = after["sent"] - before["sent"]
    provider.shutdown()
    emit(
        {
            "rate": sent / (t1 - t0),
            "cpu_per_log_ms": (cpu1 - cpu0) / max(1, sent) * 1000,
            "app_s": t_app - t0,
            "elapsed_s": t1 - t0,
            "sent": sent,
            "n": args.n,
            "flushed": ok,
            "failed": after["failed"],
            "dropped": after["dropped"],
        }
    )


# ============================================================================ raw aiohttp
def raw(args: argparse.Namespace) -> None:
    """The machine's limit: the same-sized JSON POSTs from a bare aiohttp client, no exporter."""
    import aiohttp

    body = _sample_body()
    url = f"http://127.0.0.1:{args.port}/v5/tools/log"
    headers = {"X-API-KEY": "bench-key", "Content-Type": "application/json"}

    async def run() -> dict[str, Any]:
        connector = aiohttp.TCPConnector(limit=args.concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            remaining = [args.warmup]

            async def worker() -> None:
                while remaining[0] > 0:
                    remaining[0] -= 1
                    async with session.post(url, data=body, headers=headers) as resp:
                        json.loads(await resp.read())
                        assert resp.status == 200

            await asyncio.gather(*(worker() for _ in range(args.concurrency)))
            remaining[0] = args.n
            cpu0, t0 = cpu_seconds(), time.perf_counter()
            await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(args.concurrency))), args.deadline)
            t1, cpu1 = time.perf_counter(), cpu_seconds()
        return {"rate": args.n / (t1 - t0), "cpu_per_req_ms": (cpu1 - cpu0) / args.n * 1000, "body_bytes": len(body)}

    emit(asyncio.run(run()))


def _sample_body() -> bytes:
    """The wire body the product sends for the benchmark's GenAI tool span."""
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

    from otel_tool_exporter._internal.build.conventions import ConventionRegistry
    from otel_tool_exporter._internal.build.mapping import map_tool_span
    from otel_tool_exporter._internal.spans import SpanRecord

    captured: list[Any] = []

    class Keep(SpanProcessor):
        def on_end(self, span: Any) -> None:
            captured.append(span)

    provider = TracerProvider()
    provider.add_span_processor(Keep())
    make_spans(provider.get_tracer("bench", "1.0"), "genai", 1, 1)
    record = SpanRecord.from_readable(captured[0])
    call = ConventionRegistry().recognise(record)
    assert call is not None
    return map_tool_span(record, call).request.to_json_bytes()


# ============================================================================ Humanloop SDK
def _humanloop_setup(port: int, threads: int) -> tuple[Any, Any, Any]:
    from humanloop import Humanloop
    from humanloop.otel.exporter import HumanloopSpanExporter
    from humanloop.otel.processor import HumanloopSpanProcessor
    from opentelemetry.sdk.trace import TracerProvider

    client = Humanloop(api_key="bench-key", base_url=f"http://127.0.0.1:{port}/v5")
    exporter = HumanloopSpanExporter(client=client, worker_threads=threads)
    provider = TracerProvider()
    provider.add_span_processor(HumanloopSpanProcessor(exporter))
    return provider, exporter, provider.get_tracer("humanloop.sdk")


def _humanloop_wait(exporter: Any, deadline: float) -> bool:
    """The SDK's own ``force_flush`` stops its workers for good, so wait on its upload queue."""
    queue = exporter._upload_queue
    end = time.monotonic() + deadline
    while queue.unfinished_tasks and time.monotonic() < end:
        time.sleep(0.005)
    return queue.unfinished_tasks == 0


def humanloop(args: argparse.Namespace) -> None:
    """Humanloop SDK's own exporter: one OTLP POST per span from ``worker_threads`` threads."""
    _provider, exporter, tracer = _humanloop_setup(args.port, args.threads)
    make_spans(tracer, "humanloop", 0, args.warmup)
    _humanloop_wait(exporter, 60)
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    make_spans(tracer, "humanloop", args.warmup, args.n)
    ok = _humanloop_wait(exporter, args.deadline)
    t1, cpu1 = time.perf_counter(), cpu_seconds()
    done = args.n - exporter._upload_queue.unfinished_tasks
    emit(
        {
            "rate": done / (t1 - t0),
            "cpu_per_log_ms": (cpu1 - cpu0) / max(1, done) * 1000,
            "sent": done,
            "n": args.n,
            "flushed": ok,
        }
    )


# ============================================================================ hot path
class _NoOpExporter:
    def export(self, spans: Any) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        return SpanExportResult.SUCCESS

    def shutdown(self) -> None: ...

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def hotpath(args: argparse.Namespace) -> None:
    """App-thread cost per span: CPU time of the thread that makes the spans (the delivery
    thread's work is not on the app's path; it is counted in CPU per Log), and wall time."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider()
    if args.setup == "bsp":
        provider.add_span_processor(BatchSpanProcessor(_NoOpExporter()))  # type: ignore[arg-type]
    elif args.setup == "tsp":
        from otel_tool_exporter import ToolLogExporter, ToolSpanProcessor

        exporter = ToolLogExporter(api_key="bench-key", base_url=f"http://127.0.0.1:{args.port}/v5")
        provider.add_span_processor(ToolSpanProcessor(exporter))
    tracer = provider.get_tracer("bench", "1.0")
    make_spans(tracer, args.workload, 0, args.batch)
    provider.force_flush(30_000)
    cpu: list[float] = []
    wall: list[float] = []
    start = args.batch
    for _ in range(args.batches):
        c0, w0 = time.thread_time(), time.perf_counter()
        make_spans(tracer, args.workload, start, args.batch)
        w1, c1 = time.perf_counter(), time.thread_time()
        start += args.batch
        cpu.append((c1 - c0) / args.batch * 1e6)
        wall.append((w1 - w0) / args.batch * 1e6)
        provider.force_flush(30_000)  # the background work of this batch happens outside the timing
    provider.shutdown()
    emit({"cpu_us": statistics.median(cpu), "wall_us": statistics.median(wall)})


# ============================================================================ interleaved chunks
def interleaved(args: argparse.Namespace) -> None:
    """App-thread wall and CPU time per span in chunks taken in turn by each setup, in one process:
    ``--batches`` chunks of ``--batch`` spans per setup, the order of the setups rotated chunk by
    chunk, each chunk's background work finished (flushed) untimed before the next. Every chunk is
    a burst: this shows what the delivery thread's handling of a burst costs the application."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from otel_tool_exporter import ToolLogExporter, ToolSpanProcessor

    providers: dict[str, Any] = {"bsp": TracerProvider(), "tsp": TracerProvider()}
    providers["bsp"].add_span_processor(BatchSpanProcessor(_NoOpExporter()))  # type: ignore[arg-type]
    exporter = ToolLogExporter(api_key="bench-key", base_url=f"http://127.0.0.1:{args.port}/v5")
    providers["tsp"].add_span_processor(ToolSpanProcessor(exporter))
    tracers = {name: p.get_tracer("bench", "1.0") for name, p in providers.items()}
    order = list(providers)
    for name in order:  # warm-up, untimed
        make_spans(tracers[name], args.workload, 0, args.batch)
        providers[name].force_flush(30_000)
    cpu: dict[str, list[float]] = {name: [] for name in order}
    wall: dict[str, list[float]] = {name: [] for name in order}
    start = args.batch
    for chunk in range(args.batches):
        rotated = order[chunk % len(order) :] + order[: chunk % len(order)]
        for name in rotated:
            c0, w0 = time.thread_time(), time.perf_counter()
            make_spans(tracers[name], args.workload, start, args.batch)
            w1, c1 = time.perf_counter(), time.thread_time()
            start += args.batch
            cpu[name].append((c1 - c0) / args.batch * 1e6)
            wall[name].append((w1 - w0) / args.batch * 1e6)
            providers[name].force_flush(30_000)
    for provider in providers.values():
        provider.shutdown()
    emit(
        {
            f"{name}_{kind}_us": statistics.median(values[name])
            for name in order
            for kind, values in (("cpu", cpu), ("wall", wall))
        }
    )


# ============================================================================ idle
def idle(args: argparse.Namespace) -> None:
    """CPU of the whole process while nothing is sent, after some spans were."""
    if args.setup == "humanloop":
        provider, exporter, tracer = _humanloop_setup(args.port, args.threads)
        make_spans(tracer, "humanloop", 0, 100)
        _humanloop_wait(exporter, 30)
    else:
        provider, exporter, tracer = _product_provider(args.port, "tsp")
        make_spans(tracer, "genai", 0, 100)
        provider.force_flush(30_000)
    time.sleep(0.5)
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    time.sleep(args.seconds)
    t1, cpu1 = time.perf_counter(), cpu_seconds()
    emit({"core_pct": (cpu1 - cpu0) / (t1 - t0) * 100, "threads": threading.active_count()})


# ============================================================================ burst
def burst(args: argparse.Namespace) -> None:
    """N spans at once with default settings; how many arrive."""
    t0 = time.perf_counter()
    if args.setup == "bsp_otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        class Counting(OTLPSpanExporter):
            exported = 0

            def export(self, spans: Any) -> Any:
                result = super().export(spans)
                if result.name == "SUCCESS":
                    Counting.exported += len(spans)
                return result

        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(Counting(endpoint=f"http://127.0.0.1:{args.port}/v1/traces")))
        tracer = provider.get_tracer("bench", "1.0")
        make_spans(tracer, args.workload, 0, args.n)
        provider.force_flush(int(args.deadline * 1000))
        delivered = Counting.exported
        provider.shutdown()
        extra: dict[str, Any] = {}
    else:
        provider, exporter, tracer = _product_provider(args.port, args.setup)
        make_spans(tracer, args.workload, 0, args.n)
        provider.force_flush(int(args.deadline * 1000))
        # the SDK's BatchSpanProcessor.force_flush exports but never calls exporter.force_flush
        exporter.force_flush(int(args.deadline * 1000))
        stats = exporter.stats()
        delivered = stats["sent"]
        extra = {"dropped": stats["dropped"], "failed": stats["failed"]}
        provider.shutdown()
    t1 = time.perf_counter()
    emit({"delivered": delivered, "n": args.n, "elapsed_s": t1 - t0, **extra})


# ============================================================================ sidecar ingest
def _otlp_bodies(n: int, batch: int, tool_every: int) -> list[bytes]:
    """``n`` spans as OTLP/protobuf export requests of ``batch`` spans: traces of 10 spans, every
    ``tool_every``-th span a GenAI tool call, the rest ordinary spans (as a Collector sends)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

    def kv(key: str, value: Any) -> Any:
        if isinstance(value, bool):
            return KeyValue(key=key, value=AnyValue(bool_value=value))
        if isinstance(value, int):
            return KeyValue(key=key, value=AnyValue(int_value=value))
        return KeyValue(key=key, value=AnyValue(string_value=str(value)))

    bodies = []
    now = time.time_ns()
    for first in range(0, n, batch):
        request = ExportTraceServiceRequest()
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.append(kv("service.name", "bench"))
        scope_spans = resource_spans.scope_spans.add()
        scope_spans.scope.name = "bench"
        for i in range(first, min(n, first + batch)):
            span = scope_spans.spans.add()
            trace = i // 10 + 1
            span.trace_id = trace.to_bytes(16, "big")
            span.span_id = (i + 1).to_bytes(8, "big")
            if i % 10:
                span.parent_span_id = (i - i % 10 + 1).to_bytes(8, "big")
            tool = i % tool_every == tool_every - 1
            name, attributes = WORKLOADS["genai" if tool else "other"]
            span.name = name
            span.kind = 1
            span.start_time_unix_nano = now + i * 1000
            span.end_time_unix_nano = now + i * 1000 + 500
            span.attributes.extend(kv(k, v) for k, v in attributes(i).items())
        bodies.append(request.SerializeToString())
    return bodies


def otlp_load(args: argparse.Namespace) -> None:
    """Load generator: prints READY once its bodies are built, posts them on GO, reports."""
    import aiohttp

    bodies = _otlp_bodies(args.n, args.batch, args.tool_every)
    print("READY", flush=True)
    sys.stdin.readline()
    url = f"http://127.0.0.1:{args.port}/v1/traces"
    headers = {"Content-Type": "application/x-protobuf"}

    async def run() -> dict[str, Any]:
        queue = list(reversed(bodies))
        statuses: dict[int, int] = {}

        async def worker(session: Any) -> None:
            while queue:
                body = queue.pop()
                for _ in range(50):  # 503 (queue full) is retried after a short pause, bounded
                    async with session.post(url, data=body, headers=headers) as resp:
                        await resp.read()
                        statuses[resp.status] = statuses.get(resp.status, 0) + 1
                        if resp.status != 503:
                            break
                    await asyncio.sleep(0.05)

        t0 = time.perf_counter()
        async with aiohttp.ClientSession() as session:
            await asyncio.wait_for(asyncio.gather(*(worker(session) for _ in range(args.concurrency))), args.deadline)
        return {"post_s": time.perf_counter() - t0, "statuses": statuses}

    emit(asyncio.run(run()))


def _drive_load(receiver_port: int, args: argparse.Namespace) -> tuple[Any, float]:
    import os
    import subprocess

    here = os.path.dirname(os.path.abspath(__file__))
    load = subprocess.Popen(
        [
            sys.executable,
            os.path.join(here, "_workers.py"),
            "otlp_load",
            "--port",
            str(receiver_port),
            "--n",
            str(args.n),
            "--batch",
            str(args.batch),
            "--tool-every",
            str(args.tool_every),
            "--concurrency",
            str(args.concurrency),
            "--deadline",
            str(args.deadline),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert load.stdin is not None and load.stdout is not None
    if load.stdout.readline().strip() != "READY":
        raise RuntimeError("load generator did not start")
    t0 = time.perf_counter()
    load.stdin.write("GO\n")
    load.stdin.flush()
    return load, t0


def _load_result(load: Any) -> dict[str, Any]:
    out, _ = load.communicate(timeout=60)
    for line in reversed(out.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {}


def sidecar(args: argparse.Namespace) -> None:
    """The sidecar's own HTTP server in this process, the load from another: spans/s from the
    first request until every span was decoded, recognised and handed to ordering."""
    import tempfile

    from otel_tool_exporter import ToolLogExporter
    from otel_tool_exporter.sidecar import SidecarServer

    spool = tempfile.mkdtemp(prefix="bench-spool-") if args.spool else None  # as `serve` runs by default
    exporter = ToolLogExporter(api_key="bench-key", base_url=f"http://127.0.0.1:{args.port}/v5", spool_dir=spool)
    with SidecarServer(exporter) as server:
        load, t0 = _drive_load(server.port, args)
        cpu0 = cpu_seconds()
        end = time.monotonic() + args.deadline
        while exporter.stats()["received"] < args.n and time.monotonic() < end:
            time.sleep(0.002)
        t1, cpu1 = time.perf_counter(), cpu_seconds()
        posted = _load_result(load)
        handled = exporter.stats()["received"]
        exporter.force_flush(60_000)
        stats = exporter.stats()
    exporter.shutdown()
    if spool is not None:
        import shutil

        shutil.rmtree(spool, ignore_errors=True)
    emit(
        {
            "rate": handled / (t1 - t0),
            "cpu_per_span_us": (cpu1 - cpu0) / max(1, handled) * 1e6,
            "handled": handled,
            "n": args.n,
            "tool_logs": stats["sent"],
            "tool_spans": stats["tool_spans"],
            "statuses": posted.get("statuses"),
        }
    )


def null_receiver(args: argparse.Namespace) -> None:
    """Baseline: a bare aiohttp server that only parses each OTLP/protobuf body (opentelemetry-proto)."""
    from aiohttp import web
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    count = [0]
    done = threading.Event()

    async def handle(request: Any) -> Any:
        message = ExportTraceServiceRequest.FromString(await request.read())
        for resource_spans in message.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                count[0] += len(scope_spans.spans)
        if count[0] >= args.n:
            done.set()
        return web.Response(body=b"", content_type="application/x-protobuf")

    ready = threading.Event()
    port = [0]
    holder: dict[str, Any] = {}

    def serve() -> None:
        loop = asyncio.new_event_loop()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/traces", handle)
        runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        port[0] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        holder["loop"] = loop
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    load, t0 = _drive_load(port[0], args)
    cpu0 = cpu_seconds()
    done.wait(args.deadline)
    t1, cpu1 = time.perf_counter(), cpu_seconds()
    _load_result(load)
    holder["loop"].call_soon_threadsafe(holder["loop"].stop)
    thread.join(5)
    emit(
        {
            "rate": count[0] / (t1 - t0),
            "cpu_per_span_us": (cpu1 - cpu0) / max(1, count[0]) * 1e6,
            "handled": count[0],
            "n": args.n,
        }
    )


# ============================================================================ main
KINDS: dict[str, Callable[[argparse.Namespace], None]] = {
    "product": product,
    "raw": raw,
    "humanloop": humanloop,
    "hotpath": hotpath,
    "interleaved": interleaved,
    "idle": idle,
    "burst": burst,
    "otlp_load": otlp_load,
    "sidecar": sidecar,
    "null_receiver": null_receiver,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=sorted(KINDS))
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--deadline", type=float, default=120.0)
    parser.add_argument("--setup", default="tsp")
    parser.add_argument("--workload", default="genai")
    parser.add_argument("--transport", default=None)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--batch", type=int, default=2000, help="spans per batch (hotpath) or per OTLP request")
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--tool-every", type=int, default=10)
    parser.add_argument("--spool", action="store_true", help="sidecar: with a spool (answers once on disk)")
    args = parser.parse_args()
    KINDS[args.kind](args)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
