"""``hook_overhead``: one ``refund_detail`` through ``XportcnHook`` vs a raw ``requests.Session``.

Both sides call the same sandbox (in its own process) over keep-alive HTTP on 127.0.0.1 and read
the same refund. The anchor posts the same JSON body with headers signed *before* the timed
region (one fresh set per request: the sandbox refuses a reused nonce) and only checks the
envelope's ``code``. Ours is the full hook path: catalogue lookup, body building, signing,
tenacity, envelope parsing and error mapping. The two sides run in this one process, alternating
blocks of calls, so machine noise hits both alike; the result is the median per-call wall time.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from bench._common import apply_bench_env, median, percentile, result, sandbox_process

NAME = "hook_overhead"
GOAL = 1.10


def _make_refund(hook: Any, control: Any) -> str:
    """A refund-only request on a paid order (it waits for the seller, which is fine for reading)."""
    [order_id] = control.seed_orders(1, status="waitsellersend")
    entry = hook.order_detail(order_id=order_id)["productItems"][0]
    created = hook.refund_create(
        order_id=order_id,
        order_entry_ids=[entry["subItemID"]],
        dispute_request="refund",
        apply_payment=entry["itemAmount"],
        goods_status="not_received",
        description="bench hook_overhead",
    )
    return str(created["refundId"])


def run(quick: bool = False) -> dict[str, Any]:
    calls, blocks = (400, 8) if quick else (2000, 20)
    per_block = calls // blocks
    apply_bench_env()
    import requests

    from xportcn_provider.api.client import USER_AGENT
    from xportcn_provider.api.endpoints import resolve
    from xportcn_provider.api.signing import signed_headers
    from xportcn_provider.hooks.xportcn import XportcnHook

    with sandbox_process() as sandbox:
        handle = sandbox.handle
        os.environ["AIRFLOW_CONN_XPORTCN_DEFAULT"] = handle.conn_json
        try:
            hook = XportcnHook()
            refund_id = _make_refund(hook, sandbox.control)

            endpoint = resolve("refund_detail")
            url = handle.url + endpoint.path
            body = json.dumps({"refundId": refund_id}, separators=(",", ":")).encode()
            warmup = 50
            # Signed outside every timed region: one fresh nonce per request.
            presigned = [
                {
                    **signed_headers(handle.access_key, handle.access_secret, handle.user_id),
                    "Content-Type": "application/json",
                    "User-Agent": USER_AGENT,
                }
                for _ in range(calls + warmup)
            ]
            session = requests.Session()

            def raw_call(headers: dict[str, str]) -> Any:
                response = session.post(url, data=body, headers=headers, timeout=30)
                envelope = response.json()
                if response.status_code != 200 or envelope.get("code") != 200:
                    raise RuntimeError(f"raw call failed: {response.status_code} {envelope}")
                return envelope["data"]

            # Warm both paths (connections, lazy imports, caches) outside the measurement.
            for i in range(warmup):
                hook.refund_detail(refund_id=refund_id)
                raw_call(presigned[calls + i])

            ours: list[float] = []
            anchor: list[float] = []
            clock = time.perf_counter
            for block in range(blocks):
                sides = ("ours", "anchor") if block % 2 == 0 else ("anchor", "ours")
                for side in sides:
                    if side == "ours":
                        for _ in range(per_block):
                            start = clock()
                            hook.refund_detail(refund_id=refund_id)
                            ours.append(clock() - start)
                    else:
                        headers = presigned[block * per_block : (block + 1) * per_block]
                        for h in headers:
                            start = clock()
                            raw_call(h)
                            anchor.append(clock() - start)
            stats = sandbox.control.stats()
            session.close()
            hook.client.close()
        finally:
            os.environ.pop("AIRFLOW_CONN_XPORTCN_DEFAULT", None)

    ours_ms = median(ours) * 1000
    anchor_ms = median(anchor) * 1000
    return result(
        ours_ms,
        anchor_ms,
        goal=GOAL,
        unit="ms/call (median)",
        anchor_name="requests.Session posting pre-signed headers",
        measures="median wall time of one refund_detail call against the sandbox (keep-alive)",
        calls_per_side=len(ours),
        blocks=blocks,
        ours_p90_ms=round(percentile(ours, 0.9) * 1000, 4),
        anchor_p90_ms=round(percentile(anchor, 0.9) * 1000, 4),
        ours_mean_ms=round(sum(ours) / len(ours) * 1000, 4),
        anchor_mean_ms=round(sum(anchor) / len(anchor) * 1000, 4),
        overhead_us_per_call=round((median(ours) - median(anchor)) * 1e6, 1),
        sandbox_connections=stats["connections"],
    )


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
