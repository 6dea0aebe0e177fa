"""``push_latency``: how fast the push receiver answers on a real api-server, against Xport's limit.

Xport's message service expects HTTP 200 within 1,000 ms and retries otherwise (contract §4).
A real Airflow deployment (``tests/e2e/airflow_stack.py``: api-server with the provider's plugin
loaded from the installed package, scheduler, dag-processor, triggerer; SQLite, 2 cores shared)
receives 50 pushes per second for 30 seconds from a plain HTTP client that signs nothing, as
Xport does. The load is open-loop: each push is due at a fixed time and its latency is measured
from that time, so a slow answer also delays (and is charged to) the pushes queued behind it.
Every 20th push repeats an earlier message (Xport's redelivery), which must answer 200 too.

``ours`` = p99 answer time in ms; ``anchor`` = Xport's 1,000 ms limit; goal ratio ≤ 0.1. The
run also checks that every distinct message became exactly one asset event.
"""

from __future__ import annotations

import json
import secrets
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench._common import BENCH_DIR, REPO_ROOT, median, percentile, result

NAME = "push_latency"
GOAL = 0.1
ANCHOR_MS = 1000.0
RATE = 50  # pushes per second
DURATION = 30.0  # seconds
REDELIVER_EVERY = 20
DAG_ID = "push_latency_consumer"


def _message(index: int, base_ms: int) -> dict[str, Any]:
    body = {"orderId": str(3_000_000_000_000_000 + index), "orderStatus": "WAITING_FOR_SENT", "payStatus": 2}
    return {
        "messageType": "ORDER_PAY_SUCCESS",
        "messageBody": json.dumps(body),
        "messagePlatform": 1,
        "timestamp": str(base_ms + index),
    }


def run(quick: bool = False) -> dict[str, Any]:
    sys.path.insert(0, str(REPO_ROOT / "tests" / "e2e"))
    import airflow_stack as harness
    import httpx

    duration = 8.0 if quick else DURATION
    token = secrets.token_urlsafe(32)
    conn = {
        "conn_type": "xportcn",
        "host": "http://127.0.0.1:9/api",
        "login": "bench",
        "password": "bench-secret",
        "extra": {"user_id": "1", "push_token": token},
    }
    env = {"AIRFLOW_CONN_XPORTCN_DEFAULT": json.dumps(conn)}
    with harness.airflow_stack(BENCH_DIR / "push_dags", env) as stack:
        stack.wait_for_dag(DAG_ID)
        url = f"{stack.base_url}/xportcn/push/xportcn_default/{token}"
        base_ms = int(time.time() * 1000)
        total = int(RATE * duration)
        latencies: list[float] = [0.0] * total
        statuses: list[int] = [0] * total
        local = threading.local()

        def client() -> httpx.Client:
            if not hasattr(local, "client"):
                local.client = httpx.Client(timeout=10.0)
            return local.client

        with httpx.Client(timeout=10.0) as warm:  # first request: table check, connections
            for i in range(5):
                warm.post(url, json=_message(10_000_000 + i, base_ms))

        start = time.perf_counter() + 0.5

        def push(i: int) -> None:
            due = start + i / RATE
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            source = i - REDELIVER_EVERY // 2 if i % REDELIVER_EVERY == REDELIVER_EVERY - 1 else i
            answer = client().post(url, json=_message(source, base_ms))
            latencies[i] = (time.perf_counter() - due) * 1000
            statuses[i] = answer.status_code

        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(push, range(total)))
        distinct = len(
            {
                i - REDELIVER_EVERY // 2 if i % REDELIVER_EVERY == REDELIVER_EVERY - 1 else i
                for i in range(total)
            }
        )
        events = stack.query(
            "SELECT count(*) AS n FROM asset_event e JOIN asset a ON a.id = e.asset_id WHERE a.uri = ?",
            ("xportcn://xportcn_default/orders",),
        )[0]["n"]
        bad = [s for s in statuses if s != 200]
        if bad:
            raise RuntimeError(
                f"{len(bad)} pushes were not answered 200: {sorted(set(bad))}; see {stack.home}"
            )
        if events != distinct + 5:
            raise RuntimeError(f"{events} asset events for {distinct} distinct messages (+5 warm-up)")
    p99 = percentile(latencies, 0.99)
    return result(
        p99,
        ANCHOR_MS,
        goal=GOAL,
        unit="ms p99 answer",
        anchor_name="Xport's 1,000 ms answer limit (contract §4)",
        measures=f"{RATE} unsigned pushes/s for {duration:.0f} s to POST /xportcn/push/<conn>/<token> on a "
        "real api-server (SQLite; 2 cores shared with scheduler, dag-processor, triggerer); open-loop",
        pushes=total,
        distinct_messages=distinct,
        asset_events=events - 5,
        p50_ms=round(median(latencies), 1),
        p90_ms=round(percentile(latencies, 0.90), 1),
        max_ms=round(max(latencies), 1),
    )


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
