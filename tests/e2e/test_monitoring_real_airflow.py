"""The Xportcn monitoring pages on a real api-server (issue 18, over HTTP; no browser here).

A real deployment (``airflow_stack.py``) loads the plugin from the installed package; a
``xportcn_fulfilment`` run against the sandbox buys an order and then waits, deferred, for a
shipment the sandbox holds back. Proven against the real api-server:

* anonymous requests to every page and JSON route get 401 (a bad token 403) and no data, while
  the push route stays reachable without a login (its own 404 rules);
* with the UI's cookie or a Bearer token, the nav page and its JSON list the deferred wait (kind,
  order id, state, age, link to the task instance, console link), the created order (from the
  operator's XCom) and honour the filters;
* the task tab reads the object's **live** status once from the sandbox through the task's
  connection (cached for 30 s: a second view makes no second call), shows the record and the
  base URL, and contains no secret;
* the UI learns of the nav page and the task tab from ``GET /api/v2/plugins``;
* a signed-in user who may not read ``xportcn_fulfilment`` (``outsider``, denied that DAG by the
  test auth manager ``e2e_auth.HiddenDagsAuthManager``, a stand-in for any auth manager with
  per-DAG rights) sees none of its objects: no wait, no created order, no run id, not the DAG in
  the filter, and the task tab answers 403 with no data — while the DAGs it may read are listed
  and the admin in the same stack sees everything.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import airflow_stack as harness
import httpx
import pytest

from xportcn_provider.sandbox.defaults import SandboxCredentials
from xportcn_provider.sandbox.server import start_in_thread

EXAMPLES = Path(__file__).resolve().parents[2] / "dags_examples"
DAG_ID = "xportcn_fulfilment"
WAIT = "wait_until_shipped"
SECRET = "MonitorE2E/secret 77+NEVER-SHOWN="
ACCESS_KEY = "e2e0mon075ca11e4b7d9f0a1b2c3d4e5"
#: A viewer who may read every example DAG but the fulfilment one.
OUTSIDER = "outsider"
#: The DAG filter's options on the nav page (the DAGs the signed-in user may read).
DAG_OPTION = re.compile(r'<select name="dag_id">(.*?)</select>', re.S)


def dag_options(html: str) -> set[str]:
    """The DAG ids offered by the nav page's DAG filter ("all" left out)."""
    [select] = DAG_OPTION.findall(html)
    return set(re.findall(r"<option[^>]*>([^<]+)</option>", select)) - {"all"}


@pytest.mark.slow
def test_monitoring_pages_need_a_login_and_show_the_waits() -> None:
    if not harness.AIRFLOW_BIN.exists():
        pytest.skip(f"no airflow executable next to the interpreter ({harness.AIRFLOW_BIN})")
    running = start_in_thread(
        "127.0.0.1", 0, credentials=SandboxCredentials(ACCESS_KEY, SECRET, "2100008388036")
    )
    control = running.handle.control
    try:
        control.configure(all_delays=1, order_ship_delay=3600)  # paid at once, shipped in an hour
        env = {**running.handle.env(), "XPORTCN_EXAMPLE_POLL_SECONDS": "30"}
        with harness.airflow_stack(
            EXAMPLES, env, users={OUTSIDER: "viewer"}, hidden_dags={OUTSIDER: [DAG_ID]}
        ) as stack:
            stack.wait_for_dag(DAG_ID)
            stack.unpause(DAG_ID)
            run_id = stack.trigger(DAG_ID)
            stack.wait_for_task_state(DAG_ID, run_id, WAIT, "deferred", timeout=240)
            order_id = str(stack.xcom(DAG_ID, run_id, "create_order"))
            ui = f"{stack.base_url}/xportcn/ui"
            # URL-encoded, as the UI fills the tab's {RUN_ID} ("+" in a run id must not become a space)
            task_url = f"{ui}/task?" + urlencode(
                {"dag_id": DAG_ID, "run_id": run_id, "task_id": WAIT, "map_index": -1}
            )
            anonymous = httpx.Client(timeout=60)
            bearer = httpx.Client(timeout=60, headers={"Authorization": f"Bearer {stack.token()}"})
            cookie = httpx.Client(timeout=60, cookies={"_token": stack.token()})  # what the UI iframe sends

            # --- no login, no data; the push route needs none ------------------------------------
            for url in (f"{ui}/", f"{ui}/api/in-flight", task_url):
                answer = anonymous.get(url)
                assert answer.status_code == 401, (url, answer.text)
                assert order_id not in answer.text and DAG_ID not in answer.text
                forged = anonymous.get(url, headers={"Authorization": "Bearer not-a-jwt"})
                assert forged.status_code == 403 and order_id not in forged.text
            push = anonymous.post(f"{stack.base_url}/xportcn/push/xportcn_default/{'x' * 40}", json={})
            assert (push.status_code, push.json()) == (
                404,
                {"detail": "Not Found"},
            )  # no token set: 404, not 401

            # --- the JSON and the page list the deferred wait and the created order -----------------
            data = bearer.get(f"{ui}/api/in-flight").json()
            [row] = [w for w in data["waits"] if w["run_id"] == run_id]
            assert (row["task_id"], row["kind"], row["state"]) == (WAIT, "logistics", "deferred"), row
            assert row["ids"]["order_id"] == order_id and row["age_hours"] < 1
            # the DAG sets no statuses: the sensor's defaults, said to be defaults
            assert (row["target"], row["failure"]) == (["trackingNumber present"], ["cancel", "terminated"])
            assert row["target_is_default"] and row["failure_is_default"]
            # last status seen: the sensor's check before deferring, from task_state_store
            last = row["last_status"]
            assert (last["status"], last["via"]) == (
                "waitsellersend (no trackingNumber yet)",
                "check before deferring",
            ), row
            assert any(c["kind"] == "order" and c["id"] == order_id for c in data["created"]), data["created"]
            assert bearer.get(f"{ui}/api/in-flight", params={"kind": "refund"}).json()["waits"] == []
            assert bearer.get(f"{ui}/api/in-flight", params={"older_than_hours": "2"}).json()["waits"] == []

            page = cookie.get(f"{ui}/")
            assert page.status_code == 200, page.text
            html = page.text
            assert f"order_id={order_id}" in html and "deferred" in html
            assert (
                f'href="/dags/{DAG_ID}/runs/{run_id.replace("+", "%2B").replace(":", "%3A")}/tasks/{WAIT}"'
                in html
            )
            wait_row = html[html.find('<tr class="wait">') :][:2000]
            console = json.loads(running.handle.conn_json)["extra"].get(
                "console_url", "https://www.xportcn.com"
            )
            assert f'href="{console}/order/detail?orderId={order_id}"' in html, wait_row  # console link
            assert (
                "prefers-color-scheme: dark" in html
                and "<script" not in html
                and "http://" not in html.split("<body>")[0]
            )
            filtered = cookie.get(f"{ui}/", params={"kind": "package"}).text
            assert f"order_id={order_id}" not in filtered and "Nothing in flight." in filtered

            # --- the task tab: live status, read once, cached ----------------------------------------
            control.clear_calls()
            tab = cookie.get(task_url)
            assert tab.status_code == 200, tab.text
            assert 'class="live-status">waitsellersend (no trackingNumber yet)<' in tab.text, tab.text
            assert running.handle.url in tab.text and order_id in tab.text
            again = cookie.get(task_url)
            assert "(cached)" in again.text
            assert [c["endpoint"] for c in control.calls()] == ["order_logistics"]  # one read, read-only
            for text in (html, tab.text, again.text, json.dumps(data)):
                assert SECRET not in text and "NEVER-SHOWN" not in text
            other_run = cookie.get(task_url.replace(f"task_id={WAIT}", "task_id=create_order"))
            assert other_run.status_code == 200 and order_id in other_run.text  # created, from XCom

            # --- a user who may not read the DAG sees none of it ---------------------------------------
            outsider_token = stack.token(username=OUTSIDER)
            outsiders = (
                httpx.Client(timeout=60, headers={"Authorization": f"Bearer {outsider_token}"}),
                httpx.Client(timeout=60, cookies={"_token": outsider_token}),
            )
            # the auth manager really denies it (Airflow's own API), and only it
            denied = outsiders[0].get(f"{stack.base_url}/api/v2/dags/{DAG_ID}")
            assert denied.status_code == 403, denied.text
            admin_dags = dag_options(cookie.get(f"{ui}/").text)
            assert DAG_ID in admin_dags and len(admin_dags) > 1, admin_dags
            for client in outsiders:
                listed = client.get(f"{ui}/api/in-flight")
                assert listed.status_code == 200, listed.text
                assert (listed.json()["waits"], listed.json()["created"]) == ([], []), listed.text
                page = client.get(f"{ui}/")
                assert page.status_code == 200, page.text
                assert dag_options(page.text) == admin_dags - {DAG_ID}, page.text  # the others: readable
                assert f"DAGs you may read: {len(admin_dags) - 1}<" in page.text
                assert "Nothing in flight." in page.text
                created = page.text[page.text.index('<h2 id="created">') :].split("</table>")[0]
                assert "Nothing yet." in created and order_id not in created, created
                for task in (WAIT, "create_order"):
                    tab = client.get(task_url.replace(f"task_id={WAIT}", f"task_id={task}"))
                    assert (tab.status_code, tab.json()) == (403, {"detail": "Forbidden"}), tab.text
                for text in (listed.text, page.text):
                    assert order_id not in text and run_id not in text and DAG_ID not in text, text
            # ... while the admin, in the same stack and at the same time, still sees the wait
            again_listed = bearer.get(f"{ui}/api/in-flight").json()
            assert any(w["run_id"] == run_id for w in again_listed["waits"]), again_listed

            # --- the UI is told about the page and the tab --------------------------------------------
            plugins: list[dict[str, Any]] = stack.api("GET", "plugins")["plugins"]
            [ours] = [p for p in plugins if p["name"] == "xportcn"]
            views = {v["destination"]: v for v in ours["external_views"]}
            assert views["nav"]["href"] == "/xportcn/ui/" and views["nav"]["url_route"] == "xportcn"
            assert views["task_instance"]["href"].startswith("/xportcn/ui/task?dag_id={DAG_ID}")
            for client in (anonymous, bearer, cookie, *outsiders):
                client.close()
    finally:
        running.stop()
