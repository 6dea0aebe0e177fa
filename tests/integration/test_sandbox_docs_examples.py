"""The examples of docs/sandbox.md, run as written (so the README cannot drift from the code)."""

from __future__ import annotations

from typing import Any

from xportcn_provider.sandbox import SandboxHandle


def test_order_sync_survives_a_flaky_api(xportcn_default_conn: SandboxHandle) -> None:
    from xportcn_provider.hooks.xportcn import XportcnHook

    control = xportcn_default_conn.control
    control.seed_orders(120, status="waitsellersend")
    control.inject("http_503", endpoint="order_list", count=2)

    orders = list(XportcnHook().iter_orders(status="waitsellersend", page_size=50))

    assert len(orders) == 120
    codes = [call["http_status"] for call in control.calls("order_list")]
    assert codes == [503, 503, 200, 200, 200]  # two failures retried, then three pages


def test_with_my_conn(xportcn_sandbox: SandboxHandle, monkeypatch: Any) -> None:
    from xportcn_provider.hooks.xportcn import XportcnHook

    for name, value in xportcn_sandbox.env("my_conn").items():  # AIRFLOW_CONN_MY_CONN
        monkeypatch.setenv(name, value)
    assert XportcnHook(xportcn_conn_id="my_conn").test_connection()[0]


def test_start_in_thread_example() -> None:
    from xportcn_provider.sandbox import start_in_thread

    with start_in_thread(port=0) as running:  # background thread, free port
        assert running.handle.url.endswith("/api") and running.handle.conn_uri.startswith("xportcn://")
        assert len(running.handle.control.seed_orders(10)) == 10
    assert not running.thread.is_alive()
