"""The example DAG's journal of pushed messages (``xportcn_provider.message_journal``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from xportcn_provider.message_journal import append_messages, journal_path, needs_follow_up


def extra(key: str, sent_at: str, **fields: Any) -> dict[str, Any]:
    base = {
        "message_key": key,
        "sent_at": sent_at,
        "sent_at_ms": int(key[-1]),
        "message_type": "ORDER_PAY_SUCCESS",
        "kind": "orders",
        "platform": "1688",
        "order_id": "1",
        "refund_id": None,
        "status": "waitsellersend",
        "stale": False,
    }
    return {**base, **fields}


def test_messages_land_in_their_day_once(tmp_path: Path) -> None:
    first = [extra("k1", "2026-12-01T23:59:59.000Z"), extra("k2", "2026-12-02T00:00:01.000Z")]
    summary = append_messages(tmp_path, first)
    assert (summary["appended"], summary["duplicates"]) == (2, 0)
    assert summary["files"] == [
        str(journal_path(tmp_path, "2026-12-01")),
        str(journal_path(tmp_path, "2026-12-02")),
    ]
    again = append_messages(tmp_path, [*first, extra("k3", "2026-12-02T00:00:02.000Z"), {"no": "key"}])
    assert (again["appended"], again["duplicates"], again["skipped"]) == (1, 2, 1)
    day2 = journal_path(tmp_path, "2026-12-02").read_text().splitlines()
    assert [json.loads(line)["message_key"] for line in day2] == ["k2", "k3"]


def test_follow_ups_are_cancels_and_refunds_that_are_not_stale(tmp_path: Path) -> None:
    cancel = extra("k4", "2026-12-02T01:00:00.000Z", message_type="ORDER_CANCEL", status="cancel")
    refund = extra("k5", "2026-12-02T01:00:00.000Z", kind="refunds", refund_id="TQ1", status="refundsuccess")
    stale_cancel = extra("k6", "2026-12-02T01:00:00.000Z", message_type="ORDER_CANCEL", stale=True)
    summary = append_messages(
        tmp_path, [extra("k1", "2026-12-02T00:00:00.000Z"), cancel, refund, stale_cancel]
    )
    assert [f["status"] for f in summary["follow_up"]] == ["cancel", "refundsuccess"]
    assert summary["stale"] == 1 and summary["appended"] == 4
    assert not needs_follow_up(stale_cancel) and needs_follow_up(refund)
