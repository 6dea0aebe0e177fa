"""Reschedule mode with a short poke_interval (issue 14 item 5): raised to 30 s, with a warning.

The race itself is reproduced against a real scheduler in
``tests/e2e/test_first_run_real_airflow.py``; here: which settings are raised and which are not.
"""

from __future__ import annotations

import warnings
from datetime import timedelta

import pytest

from xportcn_provider.sensors.base import MIN_RESCHEDULE_INTERVAL
from xportcn_provider.sensors.status import XportcnRefundStatusSensor


def make(**kwargs: object) -> XportcnRefundStatusSensor:
    return XportcnRefundStatusSensor(task_id="wait", refund_id="TQ260923837649136042", **kwargs)  # type: ignore[arg-type]


def test_a_short_interval_in_reschedule_mode_is_raised_with_a_warning_that_says_why() -> None:
    with pytest.warns(UserWarning, match=r"poke_interval=5s in reschedule mode is raised to 30s") as caught:
        sensor = make(mode="reschedule", poke_interval=5, deferrable=False)
    assert sensor.poke_interval == MIN_RESCHEDULE_INTERVAL == 30
    assert sensor.requested_poke_interval == 5
    message = str(caught[0].message)
    assert "apache/airflow#71172" in message and "deferrable=True" in message


def test_max_wait_under_the_floor_is_raised_too() -> None:
    with pytest.warns(UserWarning):
        sensor = make(
            mode="reschedule", poke_interval=2, exponential_backoff=True, max_wait=10, deferrable=False
        )
    assert sensor.max_wait == timedelta(seconds=30)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": "poke", "poke_interval": 5, "deferrable": False},
        {"mode": "reschedule", "poke_interval": 5, "deferrable": True},  # the trigger polls, no reschedule
        {"mode": "reschedule", "poke_interval": 30, "deferrable": False},
        {"mode": "reschedule", "poke_interval": 300, "deferrable": False},
    ],
    ids=["poke", "deferrable", "at-the-floor", "above"],
)
def test_other_settings_are_left_alone(kwargs: dict[str, object]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        sensor = make(**kwargs)
    assert sensor.poke_interval == kwargs["poke_interval"]
    assert sensor.requested_poke_interval is None


def test_the_floor_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """``[xportcn] min_reschedule_interval``: 0 where no scheduler runs the pokes (``dag.test()``)."""
    monkeypatch.setenv("AIRFLOW__XPORTCN__MIN_RESCHEDULE_INTERVAL", "0")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        assert make(mode="reschedule", poke_interval=5, deferrable=False).poke_interval == 5
    monkeypatch.setenv("AIRFLOW__XPORTCN__MIN_RESCHEDULE_INTERVAL", "45")
    with pytest.warns(UserWarning, match="raised to 45s"):
        assert make(mode="reschedule", poke_interval=30, deferrable=False).poke_interval == 45
