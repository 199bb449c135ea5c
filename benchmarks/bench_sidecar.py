"""Sidecar ingest: OTLP/protobuf spans per second decoded, recognised and handed on.

The sidecar's own HTTP server (``SidecarServer``) runs in a measuring process; a load generator in
another process posts requests of 512 spans (one in ten a GenAI tool call, the rest ordinary
spans, traces of ten) two at a time. The figure runs from the first request until the pipeline has
received every span; tool Logs then go to the sink (a third process). Baseline in the same run: a
bare aiohttp server that only parses each body with opentelemetry-proto (the ceiling of HTTP +
protobuf in Python). Order alternates round by round.

    python benchmarks/bench_sidecar.py [--rounds 3] [--n 20000]
Target: ≥ 20,000 spans/s. Also measured with a spool (``sidecar+spool``), as ``serve`` runs by
default: each request is answered only once its spans are in the spool's journal.
"""

from __future__ import annotations

import argparse

from _common import Results, final_line, run_worker, sink


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n", type=int, default=40_000)
    args = parser.parse_args()
    res = Results("sidecar ingest: spans/s")
    cpu = Results("sidecar ingest: CPU µs per span (receiving process)")
    complete = True
    common = ["--n", str(args.n), "--batch", "512", "--concurrency", "2", "--deadline", "120"]
    with sink(0) as port:
        for round_no in range(args.rounds):
            runs = [
                ("null_receiver", "null_receiver", []),
                ("sidecar", "sidecar", []),
                ("sidecar+spool", "sidecar", ["--spool"]),
            ]
            if round_no % 2:
                runs.reverse()
            for name, kind, extra in runs:
                r = run_worker(kind, "--port", str(port), *common, *extra)
                res.add(name, r["rate"], "spans/s")
                cpu.add(name, r["cpu_per_span_us"], "µs")
                if kind == "sidecar" and (r["handled"] != args.n or r["tool_logs"] != r["tool_spans"]):
                    complete = False
                    print("PROBLEM: sidecar run incomplete:", r)
    res.print(
        [("sidecar/null_receiver", "sidecar", "null_receiver"), ("sidecar+spool/sidecar", "sidecar+spool", "sidecar")]
    )
    cpu.print()
    final_line(
        sidecar_spans_per_s=res.median("sidecar"),
        sidecar_spool_spans_per_s=res.median("sidecar+spool"),
        sidecar_null_receiver_per_s=res.median("null_receiver"),
        sidecar_complete=complete,
    )


if __name__ == "__main__":
    main()
