"""Run the benchmarks, print a table and write ``bench/results.json``.

python -m bench.run            # everything (a few minutes on 2 cores)
python -m bench.run --quick    # smaller runs, written to bench/.work/results-quick.json
python -m bench.run --only wait_scale --only parse_cost   # update those entries only
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # ``python bench/run.py``: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import BENCHMARKS
from bench._common import QUICK_RESULTS_PATH, RESULTS_PATH, format_table, markdown_table, write_results


def _previous(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {name: entry for name, entry in document.items() if not name.startswith("_")}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the xportcn provider benchmarks.")
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke check, not the numbers)")
    parser.add_argument(
        "--only", action="append", choices=BENCHMARKS, help="run only this benchmark (repeatable)"
    )
    parser.add_argument("--out", type=Path, help="results file (default bench/results.json)")
    parser.add_argument(
        "--markdown", action="store_true", help="print the README table of the results file and exit"
    )
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown_table(json.loads((args.out or RESULTS_PATH).read_text())))
        return 0
    out = args.out or (QUICK_RESULTS_PATH if args.quick else RESULTS_PATH)
    selected = [name for name in BENCHMARKS if not args.only or name in args.only]

    results: dict[str, Any] = _previous(out) if args.only else {}
    failed = []
    began = time.perf_counter()
    for name in selected:
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            entry = importlib.import_module(f"bench.{name}").run(quick=args.quick)
        except Exception:
            traceback.print_exc()
            failed.append(name)
            continue
        entry["seconds"] = round(time.perf_counter() - started, 1)
        results[name] = entry
        print(
            f"[bench] {name}: ratio {entry['ratio']} (goal <= {entry['goal']})", file=sys.stderr, flush=True
        )
    ordered = {name: results[name] for name in BENCHMARKS if name in results}
    write_results(ordered, out, quick=args.quick, seconds=time.perf_counter() - began)
    print(format_table(ordered))
    print(f"\nwritten to {out}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
