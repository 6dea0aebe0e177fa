"""``sync_memory``: the order-sync example's operator over 10,000 orders vs over 1,000.

The ``xportcn_order_sync`` example DAG's task is
:class:`~xportcn_provider.transfers.XportcnOrdersToStorageOperator` (``XportcnHook.iter_orders``
page by page through :func:`~xportcn_provider.order_sync.write_order_partition` into a staged
JSON Lines file, then published as the day's ``file://`` partition). A streaming sync keeps its
peak memory flat as the number of orders grows, so the ratio is peak RSS over 10,000 orders /
peak RSS over 1,000 orders.

The sandbox (own process) holds both data sets at once — 1,000 orders created on one day and
10,000 on the next — so both runs page through the same store; each run syncs one day in a fresh
child process (clean peak RSS), sizes alternating. Orders per second is wall-clock throughput
of the whole sync (sandbox time included).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench._common import (
    WORK_DIR,
    bench_env,
    current_rss_mib,
    median,
    peak_rss_mib,
    result,
    run_child,
    sandbox_process,
)

NAME = "sync_memory"
GOAL = 1.2
SMALL, LARGE = 1_000, 10_000
PAGE_SIZE = 100
#: Day ``i`` holds the data set ``SIZES[i]``.
FIRST_DAY = datetime(2026, 11, 20, tzinfo=UTC)
SIZES = (SMALL, LARGE)


def _day(index: int) -> tuple[datetime, datetime]:
    start = FIRST_DAY + timedelta(days=index)
    return start, start + timedelta(days=1)


def child(day: int) -> dict[str, Any]:
    from airflow.sdk.lineage import get_hook_lineage_collector

    from xportcn_provider.transfers import XportcnOrdersToStorageOperator
    from xportcn_provider.transfers.storage import open_destination, partition_name

    start, end = _day(day)
    root = WORK_DIR / f"sync_{day}"
    operator = XportcnOrdersToStorageOperator(
        task_id="sync_orders", destination=f"file://{root}", page_size=PAGE_SIZE
    )
    hook = operator.hook
    # outside the measured window, as in a task process: file-system imports, and the plugin
    # load behind Airflow's hook-lineage collector (about 2 s here; the task runner loads plugins
    # for its listeners anyway)
    open_destination(operator.destination)
    get_hook_lineage_collector()
    hook.address_list()  # connection read, session opened, signing path warm
    rss_before = current_rss_mib()
    sampled = [rss_before]
    done = threading.Event()

    def sample() -> None:  # the RSS peak during the sync itself (ru_maxrss also sees import peaks)
        while not done.wait(0.005):
            sampled.append(current_rss_mib())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    began = time.perf_counter()
    counts = operator.execute({"data_interval_start": start, "data_interval_end": end})  # type: ignore[arg-type]
    seconds = time.perf_counter() - began
    done.set()
    sampler.join()
    sampled.append(current_rss_mib())
    path = root / partition_name(start, "jsonl")
    size = path.stat().st_size
    path.unlink()
    return {
        "orders": counts["orders"],
        "seconds": seconds,
        "rss_before_mib": rss_before,
        "rss_peak_mib": peak_rss_mib(),
        "rss_sync_peak_mib": max(sampled),
        "file_mib": size / 2**20,
    }


def run(quick: bool = False) -> dict[str, Any]:
    repeats = 1 if quick else 3
    samples: dict[int, list[dict[str, Any]]] = {SMALL: [], LARGE: []}
    with sandbox_process() as sandbox:
        control = sandbox.control
        control.reset()
        for index, count in enumerate(SIZES):
            start, _ = _day(index)
            # Spread over the day, in a held status (no life cycle runs while paging).
            control.seed_orders(
                count, start=start.isoformat(), step_seconds=86_000 / count, status="waitbuyerpay"
            )
        env = bench_env({"AIRFLOW_CONN_XPORTCN_DEFAULT": sandbox.handle.conn_json})
        for repeat in range(repeats):
            order = list(enumerate(SIZES)) if repeat % 2 == 0 else list(reversed(list(enumerate(SIZES))))
            for index, count in order:
                data = run_child(["-m", "bench.sync_memory", "--child", str(index)], env=env)
                if data["orders"] != count:
                    raise RuntimeError(f"sync_memory: synced {data['orders']} orders, expected {count}")
                samples[count].append(data)

    def med(count: int, key: str) -> float:
        return median([s[key] for s in samples[count]])

    def growth(count: int) -> float:
        return median([s["rss_sync_peak_mib"] - s["rss_before_mib"] for s in samples[count]])

    return result(
        med(LARGE, "rss_sync_peak_mib"),
        med(SMALL, "rss_sync_peak_mib"),
        goal=GOAL,
        unit="MiB peak RSS",
        anchor_name=f"the same sync over {SMALL:,} orders",
        measures=(
            f"peak RSS while XportcnOrdersToStorageOperator syncs {LARGE:,} orders vs {SMALL:,} "
            "(fresh process each, sampled every 5 ms)"
        ),
        repeats_per_size=repeats,
        page_size=PAGE_SIZE,
        orders_per_s={
            str(SMALL): round(SMALL / med(SMALL, "seconds"), 1),
            str(LARGE): round(LARGE / med(LARGE, "seconds"), 1),
        },
        rss_growth_mib={str(SMALL): round(growth(SMALL), 2), str(LARGE): round(growth(LARGE), 2)},
        rss_before_mib=round(med(SMALL, "rss_before_mib"), 1),
        process_peak_rss_mib={
            str(SMALL): round(med(SMALL, "rss_peak_mib"), 1),
            str(LARGE): round(med(LARGE, "rss_peak_mib"), 1),
        },
        file_mib={str(SMALL): round(med(SMALL, "file_mib"), 2), str(LARGE): round(med(LARGE, "file_mib"), 2)},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", type=int, metavar="DAY")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.child is not None:
        sys.stdout.write("\n" + json.dumps(child(args.child)) + "\n")
    else:
        print(json.dumps(run(args.quick), indent=2))


if __name__ == "__main__":
    main()
