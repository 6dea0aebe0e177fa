"""``airflow xportcn check`` against the sandbox over real HTTP (issues 12 and 13).

The checker runs exactly as the command does (``xportcn_provider.check.run`` reading the Airflow
connection through the hook); the sandbox's call log shows every body it sent, and the
sandbox's state shows that nothing was created, paid, cancelled or booked.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import pytest

from xportcn_provider.api.endpoints import CATALOGUE
from xportcn_provider.api.signing import DEFAULT_SIGNATURE_RULE, SIGNATURE_RULE_NAMES
from xportcn_provider.check import build_parser, run
from xportcn_provider.hooks.xportcn import XportcnHook
from xportcn_provider.sandbox import SandboxHandle

from .conftest import make_client

CONN_ID = "xportcn_default"
ALTERNATIVES = [name for name in SIGNATURE_RULE_NAMES if name != DEFAULT_SIGNATURE_RULE]

#: Every body a read probe may send, spelled out here independently of ``probe_body``: ids that
#: cannot exist, neutral words, first page of size 1 — or nothing at all.
READ_BODIES: dict[str, Any] = {
    "address_list": {},
    "freight_estimate": {"country": "US", "weight": 1},
    "freight_preview": {},
    "product_search": {"keyword": "xportcn-check", "beginPage": 1, "pageSize": 1},
    "product_image_search": {"beginPage": 1, "pageSize": 1},
    "product_category": {},
    "product_detail": {"offerId": "0"},
    "product_freight_estimate": {"offerId": "0"},
    "product_pool_list": {"pageNo": 1, "pageSize": 1},
    "order_preview": {},
    "order_list": {"pageNo": 1, "pageSize": 1},
    "order_detail": {"orderId": "0"},
    "order_logistics": {"orderId": "0"},
    "refund_reasons": {"orderId": "0"},
    "logistics_companies": None,
    "refund_detail": {"refundId": "0"},
    "im_openuid_decrypt": {"openUid": "xportcn-check", "offerId": "0"},
    "taobao_product_detail": {"itemId": "0"},
    "taobao_product_search": {"keyword": "xportcn-check", "pageNo": 1, "pageSize": 1},
    "taobao_product_image_search": {"pageNo": 1, "pageSize": 1},
    "taobao_order_render": {},
    "taobao_order_list": {"pageNo": 1, "pageSize": 1},
    "package_detail": {},
}
#: The second page of the paging probe (not for ``taobao_order_list``: no Taobao order is seeded, an
#: empty first page has nothing to page through).
PAGE_TWO = {
    "product_search": {"keyword": "xportcn-check", "beginPage": 2, "pageSize": 1},
    "product_pool_list": {"pageNo": 2, "pageSize": 1},
    "order_list": {"pageNo": 2, "pageSize": 1},
    "taobao_product_search": {"keyword": "xportcn-check", "pageNo": 2, "pageSize": 1},
}


def check(*argv: str, out: io.StringIO | None = None) -> tuple[int, str]:
    args: argparse.Namespace = build_parser().parse_args(["--delay", "0", *argv])
    buffer = out or io.StringIO()
    code = run(args, out=buffer, err=buffer)
    return code, buffer.getvalue()


def check_json(*argv: str) -> tuple[int, dict[str, Any]]:
    code, text = check("--output", "json", *argv)
    return code, json.loads(text)


def set_conn(monkeypatch: pytest.MonkeyPatch, handle: SandboxHandle, conn_id: str, **fields: Any) -> str:
    doc = json.loads(handle.conn_json)
    extra = fields.pop("extra", {})
    doc.update(fields)
    doc["extra"].update(extra)
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(doc))
    return conn_id


def sent_bodies(handle: SandboxHandle) -> list[tuple[str, str, Any]]:
    """(path, method, decoded body or None) of every call the sandbox received, in order."""
    return [
        (c["path"], c["method"], json.loads(c["body"]) if c["body"] else None) for c in handle.control.calls()
    ]


def seed_world(handle: SandboxHandle) -> dict[str, Any]:
    """Orders in several states and an open refund, so a harmful probe would show in the state."""
    control = handle.control
    unpaid = control.seed_orders(2)
    paid = control.seed_orders(2, status="waitsellersend")
    client = make_client(handle)
    entry = client.call("order_detail", {"orderId": paid[0]})["productItems"][0]
    refund = client.call(
        "refund_create",
        {
            "orderId": paid[0],
            "orderEntryIds": [entry["subItemID"]],
            "disputeRequest": "refund",
            "applyPayment": entry["itemAmount"],
        },
    )["refundId"]
    control.configure(auto_advance=False)
    control.clear_calls()
    return {"unpaid": unpaid, "paid": paid, "refund": refund, "state": control.state()}


def test_clean_sandbox_exit_0_and_only_the_listed_read_bodies(xportcn_default_conn: SandboxHandle) -> None:
    handle = xportcn_default_conn
    handle.control.seed_orders(3)
    handle.control.clear_calls()
    code, report = check_json()
    assert code == 0, report
    assert {e["endpoint"]: e["result"] for e in report["endpoints"]} == dict.fromkeys(READ_BODIES, "ok")
    assert report["endpoint_overrides"] == {} and report["missing"] == []
    paging = {e["endpoint"]: e["paging"]["result"] for e in report["endpoints"] if e["paging"]}
    assert paging == {**dict.fromkeys(PAGE_TWO, "ok"), "taobao_order_list": "unknown"}
    sent = sent_bodies(handle)
    expected = [("/api" + CATALOGUE[n].path, CATALOGUE[n].method, body) for n, body in READ_BODIES.items()]
    expected += [("/api" + CATALOGUE[n].path, "POST", body) for n, body in PAGE_TWO.items()]
    assert sorted(sent, key=repr) == sorted(expected, key=repr)
    assert sent[0][0] == "/api" + CATALOGUE["address_list"].path  # the cheap read goes first


def test_include_writes_sends_only_empty_bodies_and_changes_nothing(
    xportcn_default_conn: SandboxHandle,
) -> None:
    handle = xportcn_default_conn
    world = seed_world(handle)
    code, report = check_json("--include-writes")
    assert code == 0, report
    writes = {e.name for e in CATALOGUE.values() if not e.read_only}
    results = {e["endpoint"]: e["result"] for e in report["endpoints"]}
    assert writes <= set(results) and {results[w] for w in writes} == {"ok"}
    calls = handle.control.calls()
    by_path = {"/api" + e.path: e for e in CATALOGUE.values()}
    write_calls = [c for c in calls if not by_path[c["path"]].read_only]
    assert len(write_calls) == len(writes)
    assert {c["body"] for c in write_calls} == {"{}"}  # exactly an empty JSON object, nothing else
    assert all(c["code"] == 400 for c in write_calls)  # each refused for missing fields
    # Nothing was created, paid, cancelled or booked.
    assert handle.control.state() == world["state"]
    for order_id in world["unpaid"]:
        assert handle.control.get("order", order_id)["status"] == "waitbuyerpay"
    assert handle.control.get("refund", world["refund"])["status"] == "waitselleragree"


def test_without_include_writes_no_write_endpoint_is_called(xportcn_default_conn: SandboxHandle) -> None:
    handle = xportcn_default_conn
    world = seed_world(handle)
    assert check()[0] == 0
    called = {c["endpoint"] for c in handle.control.calls()}
    assert called and all(CATALOGUE[name].read_only for name in called)
    assert handle.control.state() == world["state"]


def test_moved_endpoints_are_found_and_the_overrides_work(
    xportcn_default_conn: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    handle = xportcn_default_conn
    control = handle.control
    moves = {
        "order_detail": CATALOGUE["order_detail"].alternates[0],
        "refund_detail": CATALOGUE["refund_detail"].alternates[0],
        "product_detail": CATALOGUE["product_detail"].alternates[0],
        "address_save": CATALOGUE["address_save"].alternates[0],
    }
    for name, path in moves.items():
        control.move_endpoint(name, path)
    control.move_endpoint("product_category", "/somewhere/unknown")  # not at any known path
    code, text = check("--include-writes")
    assert code == 1, text
    suggested = json.loads(text.split("(endpoint_overrides):\n", 1)[1].splitlines()[0])
    assert suggested == {"endpoint_overrides": moves}
    assert "product_category: not found at any known path" in text
    code, report = check_json("--include-writes")
    assert report["missing"] == ["product_category"]
    moved_rows = {e["endpoint"]: e for e in report["endpoints"] if e["result"] == "moved"}
    assert set(moved_rows) == {*moves, "product_category"}
    assert [a["http_status"] for a in moved_rows["order_detail"]["attempts"]] == [404, 200]
    # A hook using the suggested overrides now calls the moved endpoints successfully.
    [order_id] = control.seed_orders(1, status="waitsellersend")
    conn_id = set_conn(monkeypatch, handle, "xportcn_fixed", extra={"endpoint_overrides": moves})
    hook = XportcnHook(conn_id)
    detail = hook.order_detail(order_id=order_id)
    assert detail["orderId"] == order_id
    refund_id = hook.refund_create(
        order_id=order_id,
        order_entry_ids=[detail["productItems"][0]["subItemID"]],
        dispute_request="refund",
        apply_payment=detail["productItems"][0]["itemAmount"],
    )["refundId"]
    assert hook.refund_detail(refund_id=refund_id)["refundId"] == refund_id
    assert hook.address_save(name="A", province="P", city="C", address="X 1", phone="138")["id"]
    # ... and a second check with that connection finds everything where expected but the missing one.
    control.move_endpoint("product_category", None)
    code, report = check_json("--include-writes", "--conn-id", conn_id)
    assert code == 0, report


@pytest.mark.parametrize(
    "fields, cause, advice",
    [
        ({"login": "0" * 32}, "access_key", "Access Key"),
        ({"extra": {"user_id": "999"}}, "user_id", "user id"),
    ],
)
def test_wrong_credentials_stop_at_the_first_probe(
    xportcn_sandbox: SandboxHandle,
    monkeypatch: pytest.MonkeyPatch,
    fields: dict[str, Any],
    cause: str,
    advice: str,
) -> None:
    conn_id = set_conn(monkeypatch, xportcn_sandbox, "xportcn_wrong", **fields)
    code, text = check("--conn-id", conn_id)
    assert code == 2, text
    assert "Stopped at address_list: " in text and advice in text
    calls = xportcn_sandbox.control.calls()
    assert [c["endpoint"] for c in calls] == ["address_list"]  # one probe, then the run stopped
    code, report = check_json("--conn-id", conn_id)
    assert report["auth"]["auth_cause"] == cause and report["rule_search"] == []


def test_a_wrong_secret_tries_each_rule_once_then_exits_2(
    xportcn_sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn_id = set_conn(monkeypatch, xportcn_sandbox, "xportcn_wrong", password="Not-The-Secret-93")
    code, text = check("--conn-id", conn_id)
    assert code == 2, text
    assert "No listed signature rule was accepted" in text
    assert "Not-The-Secret-93" not in text
    calls = xportcn_sandbox.control.calls()
    assert [c["endpoint"] for c in calls] == ["address_list"] * len(SIGNATURE_RULE_NAMES)
    assert len({c["body"] for c in calls}) == 1  # the same read each time


@pytest.mark.parametrize("rule", ALTERNATIVES)
def test_the_checker_names_the_rule_the_service_accepts(
    xportcn_default_conn: SandboxHandle, monkeypatch: pytest.MonkeyPatch, rule: str
) -> None:
    handle = xportcn_default_conn
    handle.control.set_signature_rule(rule)
    code, text = check("--endpoints", "address_list,order_list,order_detail")
    assert code == 1, text
    assert f"The service accepted signature rule {rule!r}" in text
    assert f'"signature_rule": "{rule}"' in text
    code, report = check_json("--endpoints", "address_list,order_list,order_detail")
    assert report["accepted_rule"] == rule
    assert {e["endpoint"]: e["result"] for e in report["endpoints"]} == dict.fromkeys(
        ("address_list", "order_list", "order_detail"), "ok"
    )
    # Bounded: the refused first probe, then at most one call per alternative rule.
    assert len(report["rule_search"]) <= len(ALTERNATIVES)
    # A hook configured with the named rule then works.
    conn_id = set_conn(monkeypatch, handle, "xportcn_ruled", extra={"signature_rule": rule})
    [order_id] = handle.control.seed_orders(1)
    assert XportcnHook(conn_id).order_detail(order_id=order_id)["orderId"] == order_id
    assert check("--conn-id", conn_id)[0] == 0


def test_record_holds_shapes_and_no_value(xportcn_default_conn: SandboxHandle, tmp_path: Path) -> None:
    handle = xportcn_default_conn
    handle.control.seed_orders(3, out_order_prefix="PII-Zhang-San-13800000000-")
    record = tmp_path / "real.json"
    code, text = check("--record", str(record))
    assert code == 0, text
    document = json.loads(record.read_text(encoding="utf-8"))
    written = json.dumps({"shapes": document["shapes"], "paths": document["paths"]}, ensure_ascii=False)
    assert document["shapes"]["order_list"]["list"][0]["outOrderId"] == "string"
    assert set(document["shapes"]) >= {"address_list", "order_list", "logistics_companies"}
    assert document["paging"]["order_list"] == "ok"
    # No value of any answer appears in the file: collect every scalar the sandbox served.
    client = make_client(handle)
    served: set[str] = set()

    def leaves(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                leaves(item)
        elif isinstance(value, list):
            for item in value:
                leaves(item)
        elif (isinstance(value, str) and len(value) > 3) or (isinstance(value, int) and value > 9):
            served.add(str(value))

    for name, body in READ_BODIES.items():
        try:
            leaves(client.call(name, body))
        except Exception:
            continue
    assert any(value.startswith("PII-Zhang-San") for value in served)
    served.discard("xportcn-check")  # our own probe keyword, echoed by the search endpoints
    assert [value for value in served if value in written] == []


def test_compare_reports_lacking_extra_and_other_types(
    xportcn_default_conn: SandboxHandle, tmp_path: Path
) -> None:
    record = tmp_path / "real.json"
    xportcn_default_conn.control.seed_orders(2)
    assert check("--record", str(record))[0] == 0
    code, text = check("--compare", str(record))  # alone: no call at all
    assert code == 0 and "recorded shapes fit" in text
    document = json.loads(record.read_text())
    summary = document["shapes"]["order_list"]["list"][0]
    del summary["status"]
    summary["sumPayment"] = "string"
    summary["buyerMemo"] = "string"
    record.write_text(json.dumps(document))
    xportcn_default_conn.control.clear_calls()
    code, text = check("--compare", str(record))
    assert code == 1
    assert "list[].status: lacking (assumed string)" in text
    assert "list[].sumPayment: type string, assumed integer" in text
    assert "list[].buyerMemo: extra (string)" in text
    assert xportcn_default_conn.control.calls() == []


@pytest.mark.parametrize("variant, result", [("ignore_page", "repeats"), ("total_zero", "total_disagrees")])
def test_paging_that_would_loop_or_lie_is_reported(
    xportcn_default_conn: SandboxHandle, variant: str, result: str
) -> None:
    handle = xportcn_default_conn
    handle.control.seed_orders(3)
    handle.control.set_variants(variant)
    code, report = check_json("--endpoints", "order_list")
    assert code == 1, report
    [entry] = report["endpoints"]
    assert entry["result"] == "ok" and entry["paging"]["result"] == result


def test_unreachable_service_exits_2_quickly(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    doc = {
        "conn_type": "xportcn",
        "host": f"http://127.0.0.1:{port}/api",
        "login": "k",
        "password": "s",
        "extra": {"user_id": "1"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_XPORTCN_DOWN", json.dumps(doc))
    code, report = check_json("--conn-id", "xportcn_down")
    assert code == 2
    assert "unreachable" in report["stopped"] and len(report["endpoints"]) == 3


def test_a_clock_refusal_tries_only_the_millisecond_rule_then_blames_the_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time

    from xportcn_provider.sandbox.engine import Sandbox
    from xportcn_provider.sandbox.server import start_in_thread

    skewed = Sandbox(clock=lambda: time.time() + 3600)  # the server's clock is an hour ahead
    running = start_in_thread("127.0.0.1", 0, sandbox=skewed)
    try:
        set_conn(monkeypatch, running.handle, "xportcn_skewed")
        code, report = check_json("--conn-id", "xportcn_skewed")
        assert code == 2
        assert report["auth"]["auth_cause"] == "clock" and "clock" in report["stopped"]
        assert [a["rule"] for a in report["rule_search"]] == ["md5-ms"]  # one extra call, no more
        assert len(running.handle.control.calls()) == 2
    finally:
        running.stop()


def test_a_wrong_connection_override_falls_back_to_the_catalogue_path(
    xportcn_default_conn: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    handle = xportcn_default_conn
    overrides = {"order_detail": "/wrong/order/detail", "order_list": "/alibaba/ka/order/list"}
    conn_id = set_conn(monkeypatch, handle, "xportcn_overridden", extra={"endpoint_overrides": overrides})
    code, report = check_json("--conn-id", conn_id, "--endpoints", "order_detail,order_list")
    assert code == 1
    detail = next(e for e in report["endpoints"] if e["endpoint"] == "order_detail")
    assert [(a["path"], a["result"]) for a in detail["attempts"]] == [
        ("/wrong/order/detail", "moved"),
        (CATALOGUE["order_detail"].path, "ok"),
    ]
    # The suggestion keeps the override that works and drops the wrong one.
    assert report["endpoint_overrides"] == {"order_list": "/alibaba/ka/order/list"}


def test_probes_run_one_at_a_time_with_the_delay(xportcn_default_conn: SandboxHandle) -> None:
    from xportcn_provider.api.contract_check import ContractChecker, select_endpoints

    config = XportcnHook().config
    sleeps: list[float] = []
    checker = ContractChecker(config.credentials, config.settings, sleep=sleeps.append)
    checker.run(select_endpoints(["address_list", "order_detail", "refund_detail"], include_writes=False))
    calls = xportcn_default_conn.control.calls()
    assert len(calls) == 3 and sleeps == [0.2, 0.2]  # the default delay between two probes
    assert checker.settings.max_retries == 0  # each endpoint is called once: no retries


def test_bad_input_fails_before_any_call(
    xportcn_sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, text = check("--conn-id", "xportcn_not_defined_anywhere")
    assert code == 2 and "cannot read connection 'xportcn_not_defined_anywhere'" in text
    conn_id = set_conn(monkeypatch, xportcn_sandbox, "xportcn_badrule", extra={"signature_rule": "md6"})
    code, text = check("--conn-id", conn_id)
    assert code == 2 and "hmac-sha256" in text  # the error lists the valid rule names
    code, text = check("--endpoints", "order_create")
    assert code == 2 and "--include-writes" in text
    assert xportcn_sandbox.control.calls() == []
