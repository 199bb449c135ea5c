"""Burst: 20,000 spans ended at once, default settings everywhere; how many arrive.

  product      — ToolSpanProcessor(ToolLogExporter()), tool spans, until every Log is acknowledged;
  bsp+exporter — BatchSpanProcessor(ToolLogExporter()) with the SDK's default 2,048-span queue
                 (also a valid setup, SPEC §1: export() only appends, so the SDK's queue drains
                 fast enough; note that the SDK's force_flush never calls the exporter's);
  bsp+otlp     — BatchSpanProcessor + the OTLP/HTTP exporter (the issue's baseline).

    python benchmarks/bench_burst.py [--n 20000] [--rounds 1]
Target: product delivers all 20,000.
"""

from __future__ import annotations

import argparse

from _common import Results, final_line, run_worker, sink


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    res = Results(f"burst of {args.n:,} spans: share delivered")
    secs = Results("burst: seconds until delivered")
    complete = True
    with sink(0) as port:
        for round_no in range(args.rounds):
            setups = [("product", "tsp"), ("bsp+exporter", "bsp"), ("bsp+otlp", "bsp_otlp")]
            if round_no % 2:
                setups.reverse()
            for name, setup in setups:
                r = run_worker(
                    "burst", "--port", str(port), "--setup", setup, "--n", str(args.n), "--deadline", "240", timeout=400
                )
                res.add(name, r["delivered"] / r["n"] * 100, "%")
                secs.add(name, r["elapsed_s"], "s")
                if name == "product" and r["delivered"] != r["n"]:
                    complete = False
                    print("PROBLEM: product delivered", r)
    res.print()
    secs.print()
    final_line(
        burst_n=args.n,
        burst_product_pct=res.median("product"),
        burst_bsp_exporter_pct=res.median("bsp+exporter"),
        burst_bsp_otlp_pct=res.median("bsp+otlp"),
        burst_complete=complete,
    )


if __name__ == "__main__":
    main()
