"""Idle: CPU of the whole process while nothing is being sent, after 100 spans were delivered.

Product (ToolSpanProcessor) against the Humanloop SDK's exporter (4 worker threads that poll
their queue every 100 ms), each in a fresh process, for ``--seconds`` each, order alternating.

    python benchmarks/bench_idle.py [--rounds 2] [--seconds 5]
Target: product ≈ 0 % (no polling loop).
"""

from __future__ import annotations

import argparse

from _common import HUMANLOOP_PYTHON, Results, final_line, humanloop_available, run_worker, sink


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    hl_missing = humanloop_available()
    res = Results(f"idle CPU over {args.seconds:g} s, % of one core (whole process)")
    with sink(0) as port:
        for round_no in range(args.rounds):
            runs = [("product", {}), ("humanloop", {"python": HUMANLOOP_PYTHON})]
            if hl_missing:
                runs = runs[:1]
            if round_no % 2:
                runs.reverse()
            for setup, extra in runs:
                r = run_worker("idle", "--port", str(port), "--setup", setup, "--seconds", str(args.seconds), **extra)
                res.add(setup, r["core_pct"], "%")
    res.print()
    if hl_missing:
        print("humanloop baseline skipped:", hl_missing)
    final_line(idle_product_pct=res.median("product"), idle_humanloop_pct=res.median("humanloop"))


if __name__ == "__main__":
    main()
