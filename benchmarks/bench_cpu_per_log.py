"""CPU per delivered Log: the whole process's CPU time (app thread making the spans, mapping,
ordering, HTTP) divided by the Logs acknowledged, sink answering at once and after 50 ms.

Baselines in the same run: the bare aiohttp client's CPU per request (the HTTP floor), and the
Humanloop SDK's exporter (its own venv). Fresh process per measurement, order alternating.

    python benchmarks/bench_cpu_per_log.py [--rounds 3]
Target: product ≤ 1.0 ms per Log.
"""

from __future__ import annotations

import argparse
from typing import Any

from _common import HUMANLOOP_PYTHON, Results, final_line, humanloop_available, run_worker, sink


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--n-slow", type=int, default=600)
    args = parser.parse_args()
    hl_missing = humanloop_available()
    summary: dict[str, Any] = {}
    for delay in (0.0, 50.0):
        res = Results(f"CPU per delivered Log, sink answering after {delay:g} ms (whole process)")
        with sink(delay) as port:
            for round_no in range(args.rounds):
                runs: list[tuple[str, list[str], dict[str, Any]]] = [
                    ("raw aiohttp", ["raw", "--n", str(args.n)], {}),
                    ("product", ["product", "--n", str(args.n)], {}),
                ]
                if not hl_missing:
                    runs.append(("humanloop", ["humanloop", "--n", str(args.n_slow)], {"python": HUMANLOOP_PYTHON}))
                if round_no % 2:
                    runs.reverse()
                for name, (kind, *rest), extra in runs:
                    r = run_worker(kind, "--port", str(port), *rest, **extra)
                    res.add(name, r.get("cpu_per_log_ms", r.get("cpu_per_req_ms")), "ms")
        ratios = [("product/raw aiohttp", "product", "raw aiohttp")]
        if not hl_missing:
            ratios.append(("product/humanloop", "product", "humanloop"))
        res.print(ratios)
        tag = f"{delay:g}ms"
        summary[f"cpu_per_log_{tag}_ms"] = res.median("product")
        summary[f"cpu_raw_{tag}_ms"] = res.median("raw aiohttp")
        if not hl_missing:
            summary[f"cpu_humanloop_{tag}_ms"] = res.median("humanloop")
    if hl_missing:
        print("humanloop baseline skipped:", hl_missing)
    final_line(**summary)


if __name__ == "__main__":
    main()
