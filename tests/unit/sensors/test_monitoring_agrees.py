"""The monitoring page reads and describes each wait exactly as its sensor polls it.

``api.monitoring`` cannot import the sensors (the API layer is free of Airflow), so it rebuilds a
sensor's :class:`WaitSpec` from the rendered fields. This checks the two agree — endpoint, body,
status field, targets and failures — for every sensor and each way it names its object.
"""

from __future__ import annotations

from typing import Any

import pytest

from xportcn_provider.api import monitoring as mon
from xportcn_provider.sensors.status import (
    XportcnLogisticsStatusSensor,
    XportcnOrderStatusSensor,
    XportcnPackageStatusSensor,
    XportcnRefundStatusSensor,
)

CASES: list[tuple[type, dict[str, Any]]] = [
    (XportcnOrderStatusSensor, {"order_id": "2618493058261900001"}),
    (XportcnOrderStatusSensor, {"order_id": "3300001", "platform": "taobao"}),
    (XportcnRefundStatusSensor, {"refund_id": "TQ123456"}),
    (XportcnPackageStatusSensor, {"out_order_id": "af-1"}),
    (XportcnPackageStatusSensor, {"tracking_number": "SF123"}),
    (XportcnLogisticsStatusSensor, {"order_id": "2618493058261900001", "leg": "domestic"}),
    (XportcnLogisticsStatusSensor, {"out_order_id": "af-1", "leg": "international"}),
    (XportcnLogisticsStatusSensor, {"tracking_number": "SF123", "leg": "international"}),
]


@pytest.mark.parametrize(("sensor_class", "fields"), CASES, ids=lambda v: str(v))
def test_the_page_rebuilds_the_sensors_own_wait(sensor_class: type, fields: dict[str, Any]) -> None:
    sensor = sensor_class(task_id="w", **fields)
    expected = sensor.build_spec()
    rendered = {name: getattr(sensor, name) for name in sensor.template_fields}
    row = mon.describe_wait(
        dag_id="d",
        run_id="r",
        task_id="w",
        map_index=-1,
        state="deferred",
        operator=sensor_class.__name__,
        rendered=rendered,
        since=None,
    )
    assert row is not None
    [live] = mon.live_objects(row, {}, operator=sensor_class.__name__)
    assert live.spec is not None
    assert (live.spec.endpoint, dict(live.spec.body), live.spec.status_field) == (
        expected.endpoint,
        dict(expected.body),
        expected.status_field,
    )
    expected_target = sorted(expected.targets) or [f"{expected.status_field} present"]
    assert (row.target, row.failure) == (expected_target, sorted(expected.failures | expected.failure_values))
    assert row.target_is_default and row.failure_is_default
