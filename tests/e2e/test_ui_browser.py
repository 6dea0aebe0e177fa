"""The Xportcn page and task tab inside the real Airflow UI, in headless Chromium (issue 18).

A real deployment (api-server, scheduler, dag-processor, triggerer) with the plugin; the sandbox
lets one ``xportcn_fulfilment`` run finish and holds the other's order unshipped, so its
``wait_until_shipped`` stays deferred. Chromium, driven over the DevTools protocol (no extra
Python package: ``websockets`` comes with uvicorn), signs in the way the UI does (the ``_token``
JWT cookie), opens the UI's ``/plugin/xportcn`` route (the nav page, in the UI's iframe) and the
tab of the deferred and of the finished run's wait, asserts the rows, links, the last status the
sensor recorded and the live statuses, and saves
screenshots to ``docs/images/``. Without Chromium the test is skipped, naming the Debian
packages; ``.ci/run`` installs them.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import airflow_stack as harness
import httpx
import pytest

from xportcn_provider.sandbox.server import start_in_thread

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "dags_examples"
#: Screenshots go to a temporary folder; ``XPORTCN_UPDATE_SCREENSHOTS=1`` writes the README's images
#: instead (a test run must not change tracked files).
IMAGES = REPO / "docs" / "images"
DAG_ID = "xportcn_fulfilment"
WAIT = "wait_until_shipped"
CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


class Browser:
    """Headless Chromium on a DevTools websocket: one page, commands answered in order."""

    def __init__(self, executable: str) -> None:
        from websockets.sync.client import connect

        self.profile = tempfile.mkdtemp(prefix="xportcn-chromium-")
        self.proc = subprocess.Popen(
            [
                executable,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--remote-debugging-port=0",
                f"--user-data-dir={self.profile}",
                "--window-size=1400,1000",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stderr is not None
        deadline = time.monotonic() + 60
        port = None
        while port is None and time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            found = re.search(r"ws://127\.0\.0\.1:(\d+)/", line)
            port = int(found[1]) if found else None
        assert port, "chromium did not start its DevTools endpoint"
        targets = httpx.get(f"http://127.0.0.1:{port}/json", timeout=10).json()
        page = next(t for t in targets if t["type"] == "page")
        self._exit = contextlib.ExitStack()  # the websocket is a context manager; closed in close()
        self.ws = self._exit.enter_context(connect(page["webSocketDebuggerUrl"], max_size=50_000_000))
        self.ids = itertools.count(1)
        self.send("Page.enable")
        self.send("Network.enable")

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=60))
            if message.get("id") == msg_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def frame_text(self) -> str:
        """The text of the UI's plugin iframe (same origin), or ``""`` until it has loaded."""
        return str(
            self.evaluate(
                "(() => { const f = document.querySelector('iframe');"
                " return f && f.contentDocument && f.contentDocument.body"
                " ? f.contentDocument.body.innerText : ''; })()"
            )
            or ""
        )

    def frame_links(self) -> list[str]:
        return list(
            self.evaluate(
                "(() => { const f = document.querySelector('iframe');"
                " return f && f.contentDocument ? [...f.contentDocument.querySelectorAll('a')]"
                ".map(a => a.getAttribute('href')) : []; })()"
            )
            or []
        )

    def wait_for_frame(self, needle: str, timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.frame_text()
            if needle in text:
                return text
            time.sleep(0.5)
        raise AssertionError(f"{needle!r} not in the plugin frame after {timeout}s: {text[:2000]!r}")

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"]))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._exit.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture
def browser() -> Iterator[Browser]:
    if CHROMIUM is None:
        pytest.skip("Chromium not installed: apt-get install chromium chromium-driver (Debian)")
    pytest.importorskip("websockets.sync.client", reason="needs websockets >= 11 (installed with uvicorn)")
    opened = Browser(CHROMIUM)
    yield opened
    opened.close()


@pytest.mark.slow
def test_nav_page_and_task_tab_in_a_real_browser(browser: Browser, tmp_path: Path) -> None:
    shots = IMAGES if os.environ.get("XPORTCN_UPDATE_SCREENSHOTS") == "1" else tmp_path
    if not harness.AIRFLOW_BIN.exists():
        pytest.skip(f"no airflow executable next to the interpreter ({harness.AIRFLOW_BIN})")
    running = start_in_thread("127.0.0.1", 0)
    control = running.handle.control
    try:
        control.configure(all_delays=1, order_ship_delay=15)
        env = {**running.handle.env(), "XPORTCN_EXAMPLE_POLL_SECONDS": "2"}
        with harness.airflow_stack(EXAMPLES, env) as stack:
            stack.wait_for_dag(DAG_ID)
            stack.unpause(DAG_ID)
            finished = stack.trigger(DAG_ID)
            deferred = stack.trigger(DAG_ID)
            held = _poll_xcom(stack, deferred, "create_order")
            control.force("order", held, "waitsellersend", hold=True)  # paid, never shipped
            assert stack.wait_for_run(DAG_ID, finished, timeout=400) == "success"
            stack.wait_for_task_state(DAG_ID, deferred, WAIT, "deferred", timeout=240)
            shipped = str(stack.xcom(DAG_ID, finished, "create_order"))

            browser.send("Network.setCookie", name="_token", value=stack.token(), url=stack.base_url)
            browser.send("Page.navigate", url=f"{stack.base_url}/plugin/xportcn")
            text = browser.wait_for_frame(f"order_id={held}")
            assert "In flight (1)" in text and "deferred" in text and "logistics" in text
            assert f"{DAG_ID} / {deferred} / {WAIT}" in text
            assert shipped in text and held in text  # both orders under "Recently created"
            links = browser.frame_links()
            assert f"/dags/{DAG_ID}/runs/{quote(deferred, safe='')}/tasks/{WAIT}" in links, links
            console = json.loads(running.handle.conn_json)["extra"].get(
                "console_url", "https://www.xportcn.com"
            )
            assert f"{console}/order/detail?orderId={held}" in links, links
            # "Last status": what the sensor read before it deferred (task_state_store).
            last = browser.evaluate(
                "document.querySelector('iframe').contentDocument.querySelector('.last-status')"
                ".closest('td').innerText"
            )
            assert "waitsellersend" in last and "check before deferring" in last, last
            browser.screenshot(shots / "xportcn-nav-page.png")

            def open_tab(run_id: str) -> str:
                run_path = f"/dags/{DAG_ID}/runs/{quote(run_id, safe='')}/tasks/{WAIT}"
                browser.send("Page.navigate", url=f"{stack.base_url}{run_path}/plugin/xportcn_task")
                return browser.wait_for_frame("Live status")

            text = open_tab(deferred)
            assert "waitsellersend" in text and held in text and running.handle.url in text
            browser.screenshot(shots / "xportcn-task-tab.png")

            # The finished run's tab: the shipped order's live status, read now from the sandbox.
            now_status = control.get("order", shipped)["status"]
            assert now_status != "waitsellersend"
            control.force("order", shipped, now_status, hold=True)  # no further step while we look
            text = open_tab(finished)
            assert f"Live status: {now_status}" in text, text[:2000]
            assert shipped in text and held not in text and running.handle.url in text
            browser.screenshot(shots / "xportcn-task-tab-finished.png")

            # Signed out, the same page shows no data.
            browser.send("Network.clearBrowserCookies")
            browser.send("Page.navigate", url=f"{stack.base_url}/xportcn/ui/")
            time.sleep(2)
            body = str(browser.evaluate("document.body.innerText"))
            assert held not in body and "Not authenticated" in body
    finally:
        running.stop()


def _poll_xcom(stack: harness.AirflowStack, run_id: str, task_id: str, timeout: float = 240) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = stack.api(
            "GET",
            f"dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value",
            ok=False,
        )
        if answer.status_code == 200:
            return str(answer.json()["value"])
        time.sleep(0.5)
    raise AssertionError(f"no XCom from {task_id} of {run_id} after {timeout}s")
