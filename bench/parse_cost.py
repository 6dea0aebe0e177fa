"""``parse_cost``: what the example DAGs cost the DAG processor, against the same flows on ``HttpOperator``.

Ours is ``dags_examples/`` (fulfilment, after-sale, order sync); the anchor is
``bench/anchor_dags/`` — the same DAG arguments, params, task ids and dependencies written with
``HttpOperator``/``HttpSensor``/``HttpHook`` from ``apache-airflow-providers-http``.

Every sample runs in a fresh interpreter that has already imported the Airflow SDK (what every
DAG file imports first), so only the provider-specific cost is measured. Sides alternate.

* ``cold``: ``DagBag(folder)`` in that interpreter — parsing plus the first import of the
  provider's modules (a DAG processor without pre-imported modules, ``airflow dags list``, a test).
* ``warm``: a second ``DagBag(folder)`` in the same interpreter — modules cached; what each parse
  costs a processor that pre-imports (``[dag_processor] parsing_pre_import_modules``).
* ``import``: ``import xportcn_provider.operators`` vs ``import airflow.providers.http.operators.http``
  (wall time in a fresh interpreter after the SDK import).

The headline ratio is the cold parse (it includes the import cost).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench._common import BENCH_DIR, REPO_ROOT, median, result, run_child

NAME = "parse_cost"
GOAL = 1.2
OURS_DIR = REPO_ROOT / "dags_examples"
ANCHOR_DIR = BENCH_DIR / "anchor_dags"
OURS_MODULE = "xportcn_provider.operators"
ANCHOR_MODULE = "airflow.providers.http.operators.http"


def _sdk_baseline() -> None:
    """What every DAG file imports before any provider."""
    from airflow.sdk import DAG, BaseHook, BaseOperator, BaseSensorOperator, Param, XComArg, task  # noqa: F401


def child_dagbag(folder: Path) -> dict[str, Any]:
    _sdk_baseline()
    from airflow.dag_processing.dagbag import DagBag

    start = time.perf_counter()
    bag = DagBag(dag_folder=str(folder))
    cold = time.perf_counter() - start
    start = time.perf_counter()
    again = DagBag(dag_folder=str(folder))
    warm = time.perf_counter() - start
    return {
        "cold_s": cold,
        "warm_s": warm,
        "dags": sorted(bag.dag_ids),
        "tasks": sum(len(dag.tasks) for dag in bag.dags.values()),
        "import_errors": {
            str(k): str(v)[-500:] for k, v in {**bag.import_errors, **again.import_errors}.items()
        },
    }


def child_import(module: str) -> dict[str, Any]:
    _sdk_baseline()
    import importlib

    start = time.perf_counter()
    importlib.import_module(module)
    return {"import_s": time.perf_counter() - start}


def _samples(kind: str, ours_arg: str, anchor_arg: str, repeats: int) -> tuple[list[Any], list[Any]]:
    ours: list[Any] = []
    anchor: list[Any] = []
    for repeat in range(repeats):
        sides = (("ours", ours_arg), ("anchor", anchor_arg))
        for side, arg in sides if repeat % 2 == 0 else reversed(sides):
            data = run_child(["-m", "bench.parse_cost", "--child", kind, arg])
            (ours if side == "ours" else anchor).append(data)
    return ours, anchor


def run(quick: bool = False) -> dict[str, Any]:
    repeats = 3 if quick else 5
    missing = [
        name for name in ("xportcn_fulfilment.py", "xportcn_after_sale.py") if not (OURS_DIR / name).exists()
    ]
    if missing:
        raise RuntimeError(f"parse_cost needs the example DAGs; missing: {', '.join(missing)}")
    ours_bags, anchor_bags = _samples("dagbag", str(OURS_DIR), str(ANCHOR_DIR), repeats)
    for side, bags in (("ours", ours_bags), ("anchor", anchor_bags)):
        if bags[0]["import_errors"]:
            raise RuntimeError(f"parse_cost: {side} DAGs do not import: {bags[0]['import_errors']}")
    ours_imports, anchor_imports = _samples("import", OURS_MODULE, ANCHOR_MODULE, repeats)

    def ms(samples: list[Any], key: str) -> float:
        return median([s[key] for s in samples]) * 1000

    cold_ours, cold_anchor = ms(ours_bags, "cold_s"), ms(anchor_bags, "cold_s")
    warm_ours, warm_anchor = ms(ours_bags, "warm_s"), ms(anchor_bags, "warm_s")
    imp_ours, imp_anchor = ms(ours_imports, "import_s"), ms(anchor_imports, "import_s")
    return result(
        cold_ours,
        cold_anchor,
        goal=GOAL,
        unit="ms per DagBag (cold, median)",
        anchor_name="the same flows on HttpOperator/HttpSensor (bench/anchor_dags)",
        measures="DagBag parse of the example DAG folder in a fresh interpreter (SDK pre-imported)",
        repeats_per_side=repeats,
        cold_samples_ms={
            "ours": [round(s["cold_s"] * 1000, 1) for s in ours_bags],
            "anchor": [round(s["cold_s"] * 1000, 1) for s in anchor_bags],
        },
        dags={"ours": ours_bags[0]["dags"], "anchor": anchor_bags[0]["dags"]},
        tasks={"ours": ours_bags[0]["tasks"], "anchor": anchor_bags[0]["tasks"]},
        warm_ms={
            "ours": round(warm_ours, 2),
            "anchor": round(warm_anchor, 2),
            "ratio": round(warm_ours / warm_anchor, 3),
        },
        import_ms={
            "ours": round(imp_ours, 2),
            "anchor": round(imp_anchor, 2),
            "ratio": round(imp_ours / imp_anchor, 3),
            "modules": {"ours": OURS_MODULE, "anchor": ANCHOR_MODULE},
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", nargs=2, metavar=("KIND", "ARG"))
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.child:
        kind, arg = args.child
        data = child_dagbag(Path(arg)) if kind == "dagbag" else child_import(arg)
        sys.stdout.write("\n" + json.dumps(data) + "\n")
    else:
        print(json.dumps(run(args.quick), indent=2))


if __name__ == "__main__":
    main()
