"""``LastStatusRecorder``: what a wait writes for the monitoring page's "last status seen"."""

from __future__ import annotations

import logging
from typing import Any

from xportcn_provider.api import monitoring as mon
from xportcn_provider.last_status import LastStatusRecorder

log = logging.getLogger("test")


class Store:
    def __init__(self, fail: bool = False) -> None:
        self.writes: list[dict[str, Any]] = []
        self.fail = fail
        self.attempts = 0

    def set(self, key: str, value: dict[str, Any]) -> None:
        assert key == mon.LAST_STATUS_KEY
        self.attempts += 1
        if self.fail:
            raise RuntimeError("execution API down")
        self.writes.append(value)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_writes_on_change_and_refreshes_an_unchanged_status_now_and_then() -> None:
    store, clock = Store(), Clock()
    recorder = LastStatusRecorder({"task_state_store": store}, log, clock=clock)
    recorder.seen("waitsellersend")
    recorder.seen("waitsellersend")  # unchanged, too soon: no write
    clock.now += mon.LAST_STATUS_REFRESH_SECONDS - 1
    recorder.seen("waitsellersend")
    assert [w["status"] for w in store.writes] == ["waitsellersend"]
    clock.now += 1  # refresh due: "seen at" moves on
    recorder.seen("waitsellersend")
    recorder.seen("waitbuyerreceive")
    recorder.seen(None)  # a read without a status writes nothing
    assert [(w["status"], w["via"]) for w in store.writes] == [
        ("waitsellersend", mon.VIA_POKE),
        ("waitsellersend", mon.VIA_POKE),
        ("waitbuyerreceive", mon.VIA_POKE),
    ]
    assert all(mon.parse_last_status(w) is not None for w in store.writes)


def test_the_check_before_deferring_says_so() -> None:
    store = Store()
    LastStatusRecorder({"task_state_store": store}, log).seen("waitsellersend", deferring=True)
    [written] = store.writes
    parsed = mon.parse_last_status(written)
    assert parsed is not None and parsed.via == mon.VIA_BEFORE_DEFER and parsed.seen_at is not None


def test_no_store_or_a_failing_store_never_fails_the_wait() -> None:
    LastStatusRecorder({}, log).seen("waitsellersend")
    failing = Store(fail=True)
    recorder = LastStatusRecorder({"task_state_store": failing}, log)
    recorder.seen("waitsellersend")
    recorder.seen("waitsellersend")  # not remembered as written: tried again
    assert (failing.writes, failing.attempts) == ([], 2)
