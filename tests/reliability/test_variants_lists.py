"""Issue 11 items 1, 2, 6, 7, 9 and issue 12 item 6: list reads against sandbox variants.

Each test switches on the variant that broke the old code (described in its docstring) and proves
the provider now reads every row exactly once, or fails with a typed error naming the field.
Everything runs over real HTTP against the provider's sandbox.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from xportcn_provider.api.client import ClientSettings, Credentials, XportcnClient, page_items
from xportcn_provider.api.errors import XportcnProtocolError, XportcnTimeoutError
from xportcn_provider.hooks.xportcn import XportcnHook
from xportcn_provider.order_sync import OrderShape, write_order_partition
from xportcn_provider.sandbox import SandboxHandle

DAY = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def client(xportcn_sandbox: SandboxHandle) -> Iterator[XportcnClient]:
    credentials = Credentials(
        xportcn_sandbox.access_key, xportcn_sandbox.access_secret, xportcn_sandbox.user_id
    )
    c = XportcnClient(
        credentials, ClientSettings(base_url=xportcn_sandbox.url, timeout=5.0, backoff_initial=0.01)
    )
    yield c
    c.close()


def _seed_day(handle: SandboxHandle, n: int) -> list[str]:
    """``n`` orders spread over ``DAY`` (the first at 00:00:00, one every 10 minutes)."""
    return handle.control.seed_orders(n, start=DAY.isoformat(), step_seconds=600)


def _ids(rows: list[Any]) -> list[str]:
    return [str(r["orderId"]) for r in rows]


def test_capped_page_size_reads_every_row(xportcn_sandbox: SandboxHandle, client: XportcnClient) -> None:
    """Item 1: a server capping pageSize at 20 used to give "20 of 75 orders", task green."""
    ids = _seed_day(xportcn_sandbox, 75)
    xportcn_sandbox.control.set_variants("page_size_cap")
    rows = list(client.paginate("order_list", {}, page_size=50))
    assert sorted(_ids(rows)) == sorted(ids)
    # 20 + 20 + 20 + 15 rows: four calls, no extra one (the total says when to stop).
    assert len(xportcn_sandbox.control.calls("order_list")) == 4


def test_total_zero_beside_rows_is_not_the_end(xportcn_sandbox: SandboxHandle, client: XportcnClient) -> None:
    """Item 1: ``total: 0`` used to stop paging after the first page."""
    ids = _seed_day(xportcn_sandbox, 45)
    xportcn_sandbox.control.set_variants("total_zero")
    assert sorted(_ids(list(client.paginate("order_list", {}, page_size=20)))) == sorted(ids)


def test_capped_page_size_without_total_still_reads_every_row(
    xportcn_sandbox: SandboxHandle, client: XportcnClient
) -> None:
    """Item 1, the worst case: capped pages and no usable total."""
    ids = _seed_day(xportcn_sandbox, 47)
    xportcn_sandbox.control.set_variants("page_size_cap", "total_zero")
    assert sorted(_ids(list(client.paginate("order_list", {}, page_size=50)))) == sorted(ids)


def test_ignored_page_field_fails_instead_of_looping(
    xportcn_sandbox: SandboxHandle, client: XportcnClient
) -> None:
    """Issue 12 item 6: a service ignoring ``pageNo`` used to loop (no total) or repeat rows."""
    _seed_day(xportcn_sandbox, 30)
    xportcn_sandbox.control.set_variants("ignore_page", "total_zero")
    with pytest.raises(XportcnProtocolError) as err:
        list(client.paginate("order_list", {}, page_size=10))
    assert "pageNo" in str(err.value) and "order_list" in str(err.value)
    assert len(xportcn_sandbox.control.calls("order_list")) == 2


def test_ignored_page_field_with_a_total_fails_too(
    xportcn_sandbox: SandboxHandle, client: XportcnClient
) -> None:
    _seed_day(xportcn_sandbox, 30)
    xportcn_sandbox.control.set_variants("ignore_page")
    with pytest.raises(XportcnProtocolError, match="pageNo"):
        list(client.paginate("order_list", {}, page_size=10))


def test_paging_that_ends_before_the_total_fails() -> None:
    """A page that comes back short while the total says more rows exist is never "the end"."""

    class Short(XportcnClient):
        def call(self, name: str, payload: Any = None, *, params: Any = None) -> Any:
            page = payload["pageNo"]
            rows = [{"orderId": f"{page}-{i}"} for i in range(10 if page == 1 else 4)]
            return {"list": rows, "total": 30}

    client = Short(Credentials("key", "secret", "user"), ClientSettings())
    with pytest.raises(XportcnProtocolError, match="total 30"):
        list(client.paginate("order_list", {}, page_size=10))


def test_list_null_is_an_empty_page(xportcn_sandbox: SandboxHandle, client: XportcnClient) -> None:
    """Item 9: ``{"list": null, "total": 0}`` used to raise a validation error."""
    xportcn_sandbox.control.set_variants("list_null")
    assert list(client.paginate("order_list", {"outOrderId": "none"}, page_size=10)) == []
    assert page_items({"list": None, "total": 0}) == ([], 0)
    with pytest.raises(XportcnProtocolError, match="no list of rows"):
        page_items({"list": None, "total": 5}, endpoint="order_list")
    with pytest.raises(XportcnProtocolError, match="expected a list page"):
        page_items("oops", endpoint="order_list")


def test_status_filter_does_not_skip_a_row_that_changes_status_mid_read(
    xportcn_default_conn: SandboxHandle,
) -> None:
    """Item 7: server-side status filtering skipped a row when another left the status mid-read."""
    control = xportcn_default_conn.control
    ids = control.seed_orders(25, status="waitsellersend", start=DAY.isoformat(), step_seconds=60)
    hook = XportcnHook()
    seen: list[str] = []
    for row in hook.iter_orders(status="waitsellersend", page_size=10):
        if not seen:  # after the first page: the newest order ships, leaving the filter
            control.force("order", ids[-1], "waitbuyerreceive", hold=True)
        seen.append(str(row["orderId"]))
    # The newest was read (still waiting) before it shipped; none of the others was skipped.
    assert sorted(seen) == sorted(ids) and len(seen) == 25
    assert all(c["code"] == 200 for c in control.calls("order_list"))


def _sync(
    handle: SandboxHandle, tmp_path: Path, shape: OrderShape | None = None
) -> tuple[dict[str, Any], list[str]]:
    hook = XportcnHook()
    path = tmp_path / "dt.jsonl"
    counts = write_order_partition(hook, DAY, DAY + timedelta(days=1), path, page_size=20, shape=shape)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return counts, [str(_id) for _id in (r.get("orderId") or r["baseInfo"]["id"] for r in rows)]


def test_sync_with_nested_ids_fails_loudly_then_works_with_the_id_path(
    xportcn_default_conn: SandboxHandle, tmp_path: Path
) -> None:
    """Item 2: rows nesting the id (``baseInfo.id``) used to key every row to "None": 30 -> 1."""
    ids = _seed_day(xportcn_default_conn, 30)
    xportcn_default_conn.control.set_variants("nested_ids")
    with pytest.raises(XportcnProtocolError, match="orderId") as err:
        _sync(xportcn_default_conn, tmp_path)
    assert "baseInfo" in str(err.value)
    assert not (tmp_path / "dt.jsonl").exists()
    shape = OrderShape(id_field="baseInfo.id", time_field="baseInfo.createTime")
    counts, written = _sync(xportcn_default_conn, tmp_path, shape)
    assert counts["orders"] == 30 and sorted(written) == sorted(ids)
    assert counts["by_status"] == {"waitbuyerpay": 30}


def test_sync_leaves_out_the_midnight_order_of_an_inclusive_end(
    xportcn_default_conn: SandboxHandle, tmp_path: Path
) -> None:
    """Item 6: an inclusive end duplicated the next day's 00:00:00 order into this partition."""
    control = xportcn_default_conn.control
    ids = control.seed_orders(3, start=(DAY + timedelta(hours=23)).isoformat(), step_seconds=3600)
    control.set_variants("inclusive_end")
    counts, written = _sync(xportcn_default_conn, tmp_path)
    assert written == [ids[0]] and counts["outside_window"] == 1


def test_sync_with_an_ignored_time_format_keeps_only_its_day(
    xportcn_default_conn: SandboxHandle, tmp_path: Path
) -> None:
    """Item 6: a filter the server cannot parse was ignored and every order went into every day."""
    control = xportcn_default_conn.control
    day_before = control.seed_orders(5, start=(DAY - timedelta(days=1)).isoformat(), step_seconds=600)
    today = _seed_day(xportcn_default_conn, 5)
    day_after = control.seed_orders(5, start=(DAY + timedelta(days=1)).isoformat(), step_seconds=600)
    control.set_variants("local_time_only")
    counts, written = _sync(xportcn_default_conn, tmp_path)
    assert sorted(written) == sorted(today) and counts["outside_window"] == 10
    # Configured with the server's format, the filter works and nothing outside is even sent.
    shape = OrderShape(time_format="%Y-%m-%d %H:%M:%S", time_zone="+08:00")
    counts, written = _sync(xportcn_default_conn, tmp_path, shape)
    assert sorted(written) == sorted(today) and counts["outside_window"] == 0
    assert day_before and day_after


def test_order_shape_rejects_bad_settings_before_any_call() -> None:
    for kwargs, field in (
        ({"id_field": ""}, "id_field"),
        ({"time_format": "yyyy"}, "time_format"),
        ({"time_zone": "Mars/Base"}, "time_zone"),
    ):
        with pytest.raises(Exception) as err:
            OrderShape(**kwargs)
        assert getattr(err.value, "parameter", None) == field


def test_a_trickling_body_cannot_hold_a_call_past_its_timeout(xportcn_sandbox: SandboxHandle) -> None:
    """Low item: each piece of a trickled body came within the read timeout, so a call took ~5 s
    with timeout=1; the sync client now has a total deadline per attempt."""
    (order_id,) = xportcn_sandbox.control.seed_orders(1)
    xportcn_sandbox.control.set_variants("slow_body")
    credentials = Credentials(
        xportcn_sandbox.access_key, xportcn_sandbox.access_secret, xportcn_sandbox.user_id
    )
    client = XportcnClient(
        credentials, ClientSettings(base_url=xportcn_sandbox.url, timeout=1.0, max_retries=0)
    )
    started = time.monotonic()
    with pytest.raises(XportcnTimeoutError, match="too slowly"):
        client.call("order_detail", {"orderId": order_id})
    assert time.monotonic() - started < 2.5
    client.close()
    xportcn_sandbox.control.reset()  # ends the trickle still being sent


def test_sync_against_an_ignored_page_field_fails_and_keeps_the_old_partition(
    xportcn_default_conn: SandboxHandle, tmp_path: Path
) -> None:
    """Issue 12 item 6: the order sync can neither loop nor write the same rows twice."""
    _seed_day(xportcn_default_conn, 45)
    _sync(xportcn_default_conn, tmp_path)  # a good partition first
    before = (tmp_path / "dt.jsonl").read_text()
    xportcn_default_conn.control.set_variants("ignore_page", "total_zero")
    with pytest.raises(XportcnProtocolError, match="pageNo"):
        _sync(xportcn_default_conn, tmp_path)
    assert (tmp_path / "dt.jsonl").read_text() == before
    assert len(before.splitlines()) == 45


def test_the_generic_operator_filters_a_paged_status_on_the_rows_too(
    xportcn_default_conn: SandboxHandle,
) -> None:
    """Item 7 for ``XportcnApiOperator(paginate=True)``: the payload's ``status`` is not sent.

    Page 2 is answered with a 429 first (``after=1``), so the newest order ships while the
    operator waits to read it: with the filter on the server, every later row would move up one
    place and one would be skipped.
    """
    import threading

    from xportcn_provider.operators.generic import XportcnApiOperator

    from .conftest import make_context

    control = xportcn_default_conn.control
    ids = control.seed_orders(25, status="waitsellersend", start=DAY.isoformat(), step_seconds=60)
    other = control.seed_orders(3, status="waitbuyerreceive", start=DAY.isoformat(), step_seconds=60)
    control.clear_calls()
    control.inject("http_429", endpoint="order_list", count=1, after=1, retry_after=1)

    def ship_after_the_first_page() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if any(c["code"] == 200 for c in control.calls("order_list")):
                control.force("order", ids[-1], "waitbuyerreceive", hold=True)
                return
            time.sleep(0.02)

    shipper = threading.Thread(target=ship_after_the_first_page, daemon=True)
    shipper.start()
    op = XportcnApiOperator(
        task_id="orders",
        endpoint="order_list",
        payload={"status": "WAITING_FOR_SENT"},
        paginate=True,
        page_size=10,
    )
    rows = op.execute(make_context())
    shipper.join(5)
    seen = [str(r["orderId"]) for r in rows]
    # The newest one was read (still waiting) before it shipped; none skipped; no other status.
    assert sorted(seen) == sorted(ids) and not set(seen) & set(other)
    bodies = [json.loads(c["body"]) for c in control.calls("order_list")]
    assert bodies and all("status" not in b for b in bodies), bodies
    assert any(c["code"] == 429 or c["http_status"] == 429 for c in control.calls("order_list"))


def test_an_unknown_paged_status_fails_before_any_call(xportcn_default_conn: SandboxHandle) -> None:
    from xportcn_provider.api.errors import XportcnValidationError
    from xportcn_provider.operators.generic import XportcnApiOperator

    from .conftest import make_context

    xportcn_default_conn.control.clear_calls()
    op = XportcnApiOperator(
        task_id="o", endpoint="taobao_order_list", payload={"status": "shipped!"}, paginate=True
    )
    with pytest.raises(XportcnValidationError, match="not a Taobao order status") as err:
        op.execute(make_context())
    assert err.value.parameter == "status" and xportcn_default_conn.control.calls() == []
