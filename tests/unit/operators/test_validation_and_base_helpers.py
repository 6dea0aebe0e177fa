"""The shared input checks, derived ids, payload limit and retry memory of the base module."""

from __future__ import annotations

import re

import pytest

from xportcn_provider.api.errors import XportcnValidationError
from xportcn_provider.operators import base, validation
from xportcn_provider.operators.orders import XportcnPayOrderOperator

from .conftest import FakeTI, make_context


@pytest.mark.parametrize(("value", "expected"), [(1, 1), ("3", 3), (2.0, 2), (" 7 ", 7)])
def test_positive_int_accepts_whole_numbers_and_rendered_text(value, expected):
    assert validation.require_positive_int(value, "quantity") == expected


@pytest.mark.parametrize("value", [0, -1, 1.5, "1.5", "abc", True, None, [1], float("nan")])
def test_positive_int_refuses(value):
    with pytest.raises(XportcnValidationError) as err:
        validation.require_positive_int(value, "quantity")
    assert err.value.parameter == "quantity"
    assert str(err.value).startswith("quantity:")


@pytest.mark.parametrize("value", ["", "  ", None, True, 1.5, ["1"], "a b", "x" * 129])
def test_require_id_refuses(value):
    with pytest.raises(XportcnValidationError) as err:
        validation.require_id(value, "order_id")
    assert err.value.parameter == "order_id"


def test_require_id_normalises():
    assert validation.require_id(2618493058261900001, "order_id") == "2618493058261900001"
    assert validation.require_id(" TQ1 ", "refund_id") == "TQ1"


def test_coerce_json_parses_rendered_structures():
    assert validation.coerce_json('{"a": 1}', "p") == {"a": 1}
    assert validation.coerce_json("[{'a': 1}]", "p") == [{"a": 1}]
    assert validation.coerce_json("plain text", "p") == "plain text"
    with pytest.raises(XportcnValidationError, match="neither JSON"):
        validation.coerce_json("{not: valid", "p")


def test_require_items_names_the_entry():
    with pytest.raises(XportcnValidationError, match=r"cargo\[1\]\.quantity") as err:
        validation.require_items(
            [{"offerId": "1", "quantity": 1}, {"offerId": "2", "quantity": 0}], "cargo", id_keys=("offerId",)
        )
    assert err.value.parameter == "cargo"


def test_payload_size_names_the_biggest_field():
    with pytest.raises(XportcnValidationError) as err:
        validation.check_payload_size({"small": "x", "big": "y" * 200}, limit=100)
    assert err.value.parameter == "big"
    assert validation.check_payload_size({"a": "中"}, limit=100) == len('"中"'.encode())


def test_payload_must_be_json():
    with pytest.raises(XportcnValidationError) as err:
        validation.check_payload_size({"extra": {"when": object()}})
    assert err.value.parameter == "extra"


def test_derived_id_shape_and_inputs():
    ids = {
        base.derived_id(make_context(FakeTI(dag_id=d, task_id=t, run_id=r, map_index=m)))
        for d, t, r, m in [
            ("d", "t", "r", -1),
            ("d2", "t", "r", -1),
            ("d", "t2", "r", -1),
            ("d", "t", "r2", -1),
            ("d", "t", "r", 0),
        ]
    }
    assert len(ids) == 5
    for value in ids:
        assert len(value) == 32 and re.fullmatch(r"af-[0-9a-f]{29}", value)
    same = base.derived_id(make_context(FakeTI(dag_id="d", task_id="t", run_id="r")))
    assert same in ids


class BrokenStore:
    def get(self, key, default=None):
        raise RuntimeError("state store unavailable")

    def set(self, key, value):
        raise RuntimeError("state store unavailable")


def test_recall_and_remember_survive_a_broken_store():
    op = XportcnPayOrderOperator(task_id="p", order_id="1")
    context = make_context(store=BrokenStore())
    assert op.recall(context, "k") is None
    op.remember(context, "k", "v")  # logged, not raised


def test_state_key_carries_the_idempotency_key():
    assert base.XportcnBaseOperator.state_key("order", "o-1") == "xportcn:order:o-1"


@pytest.mark.parametrize(
    ("poll", "timeout", "parameter"), [(0, 10, "poll_interval"), (1, -1, "timeout"), (1, "soon", "timeout")]
)
def test_wait_settings_refuse(poll, timeout, parameter):
    with pytest.raises(XportcnValidationError) as err:
        base.wait_settings(poll, timeout)
    assert err.value.parameter == parameter


def test_wait_settings_accept_no_timeout():
    assert base.wait_settings("2.5", None) == (2.5, None)
