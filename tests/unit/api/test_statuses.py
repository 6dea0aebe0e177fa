"""Status vocabularies against the contract (§3)."""

from __future__ import annotations

import pytest

from xportcn_provider.api import statuses as S
from xportcn_provider.api.errors import XportcnValidationError


def test_order_vocabulary_is_the_raw_1688_values() -> None:
    assert set(S.ORDER_STATUS.values) == {
        "waitbuyerpay",
        "waitsellersend",
        "waitbuyerreceive",
        "confirm_goods",
        "success",
        "cancel",
        "terminated",
        "waitlogisticstakein",
        "waitbuyersign",
        "signinsuccess",
    }
    assert S.ORDER_STATUS.success == {"success"}
    assert S.ORDER_STATUS.failure == {"cancel", "terminated"}


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("waitbuyerpay", "waitbuyerpay"),
        ("WAITING_FOR_PAYMENT", "waitbuyerpay"),
        ("waiting_for_payment", "waitbuyerpay"),
        ("WAITING_FOR_SENT", "waitsellersend"),
        ("WaitSellerSend", "waitsellersend"),
        (" waitsellersend ", "waitsellersend"),
        ("CANCEL", "cancel"),
        ("Cancel", "cancel"),
        ("SUCCESS", "success"),
        ("CONFIRM_GOODS", "confirm_goods"),
    ],
)
def test_order_status_accepts_either_spelling_case_insensitively(raw: str, expected: str) -> None:
    assert S.ORDER_STATUS.normalize(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "paid!", True, False, 3.5, "waitbuyerpayX"])
def test_unknown_statuses_normalize_to_none(raw: object) -> None:
    assert S.ORDER_STATUS.normalize(raw) is None


def test_pay_status_codes() -> None:
    assert S.PAY_STATUS.normalize(1) == "unpaid"
    assert S.PAY_STATUS.normalize("2") == "paid"


def test_refund_vocabulary() -> None:
    assert set(S.REFUND_STATUS.values) == {
        "waitselleragree",
        "waitbuyermodify",
        "waitbuyersend",
        "waitsellerreceive",
        "refundsuccess",
        "refundclose",
    }
    assert S.REFUND_STATUS.success == {"refundsuccess"}
    assert S.REFUND_STATUS.failure == {"refundclose"}
    assert S.REFUND_STATUS.normalize("REFUNDSUCCESS") == "refundsuccess"
    assert S.REFUND_STATUS.normalize("WAIT_SELLER_AGREE") == "waitselleragree"


@pytest.mark.parametrize(
    "code, name",
    [
        (12, "building"),
        (0, "wait_buyer_pay"),
        (1, "paid_wait_finance"),
        (2, "finance_passed"),
        (3, "finance_refused"),
        (5, "wait_finance_pay"),
        (10, "wait_seller_send"),
        (11, "wait_buyer_confirm"),
        (4, "closed"),
        (9, "other"),
    ],
)
def test_taobao_order_codes(code: int, name: str) -> None:
    assert S.TAOBAO_ORDER_STATUS.normalize(code) == name
    assert S.TAOBAO_ORDER_STATUS.normalize(str(code)) == name
    assert S.TAOBAO_ORDER_STATUS.normalize(name.upper()) == name


def test_taobao_order_closed_is_terminal() -> None:
    assert "closed" in S.TAOBAO_ORDER_STATUS.terminal


@pytest.mark.parametrize(
    "code, name, terminal",
    [
        (0, "none", False),
        (10, "applied", False),
        (20, "seller_agreed", False),
        (30, "wait_seller_receipt", False),
        (100, "success", True),
        (-10, "seller_refused", True),
        (-20, "closed", True),
    ],
)
def test_taobao_refund_codes(code: int, name: str, terminal: bool) -> None:
    vocab = S.TAOBAO_REFUND_STATUS
    assert vocab.normalize(code) == name
    assert (name in vocab.terminal) is terminal


def test_package_vocabulary() -> None:
    assert S.PACKAGE_STATUS.values == (
        "FORECASTED",
        "INBOUND",
        "QC_PASSED",
        "QC_FAILED",
        "SHIPPED",
        "DELIVERED",
    )
    assert S.PACKAGE_STATUS.normalize("qc_passed") == "QC_PASSED"


@pytest.mark.parametrize("vocab", list(S.VOCABULARIES.values()), ids=list(S.VOCABULARIES))
def test_vocabulary_invariants(vocab: S.StatusVocabulary) -> None:
    values = set(vocab.values)
    assert len(values) == len(vocab.values)
    assert vocab.success <= values and vocab.failure <= values
    assert not vocab.success & vocab.failure
    assert set(vocab.aliases.values()) <= values
    for group in vocab.groups.values():
        assert group <= values
    for value in vocab.values:
        assert vocab.normalize(value) == value
        assert vocab.normalize(value.upper()) == value


def test_parse_set_with_values_groups_and_a_single_string() -> None:
    assert S.REFUND_STATUS.parse_set(["REFUNDSUCCESS", "refundclose"], parameter="target_statuses") == {
        "refundsuccess",
        "refundclose",
    }
    assert S.REFUND_STATUS.parse_set("open", parameter="x") == S.REFUND_STATUS.groups["open"]
    assert S.ORDER_STATUS.parse_set("WAITING_FOR_SENT", parameter="x") == {"waitsellersend"}
    assert S.TAOBAO_REFUND_STATUS.parse_set(100, parameter="x") == {"success"}  # type: ignore[arg-type]


def test_parse_set_rejects_unknown_status_naming_the_parameter() -> None:
    with pytest.raises(XportcnValidationError) as exc:
        S.REFUND_STATUS.parse_set(["refundsuccess", "refunded"], parameter="target_statuses")
    assert exc.value.parameter == "target_statuses"
    assert "refunded" in str(exc.value) and "refundsuccess" in str(exc.value)


def test_get_vocabulary() -> None:
    assert S.get_vocabulary("refund") is S.REFUND_STATUS
    with pytest.raises(XportcnValidationError, match="order"):
        S.get_vocabulary("orders")


# --- one wording (issue 14 items 6 and 8) -----------------------------------------------------------


def test_a_refund_status_has_one_word_for_messages() -> None:
    assert S.REFUND_STATUS.describe(S.REFUNDSUCCESS) == "refundsuccess (succeeded)"
    assert S.REFUND_STATUS.describe(S.REFUNDCLOSE) == "refundclose (closed)"
    assert S.REFUND_STATUS.describe(None) == "an unknown status"
    assert S.PACKAGE_STATUS.describe(S.QC_PASSED) == "QC_PASSED"  # no word: shown bare


def test_a_target_group_is_named_and_listed_in_life_cycle_order() -> None:
    shipped = S.ORDER_STATUS.groups["shipped"]
    assert S.ORDER_STATUS.describe_set(shipped) == (
        "shipped (waitbuyerreceive, waitbuyersign, signinsuccess, confirm_goods, success)"
    )
    # not a group: life-cycle order, no name; unknown (extra) statuses last
    assert S.ORDER_STATUS.describe_set({"success", "waitsellersend", "custom_x"}) == (
        "waitsellersend, success, custom_x"
    )


def test_the_sensor_says_which_group_it_waits_for() -> None:
    from xportcn_provider.sensors.status import XportcnOrderStatusSensor
    from xportcn_provider.waiting import PollState

    sensor = XportcnOrderStatusSensor(task_id="o", order_id="2618493058261900001")
    text = PollState(sensor.build_spec(), 3).targets_text()
    assert text.startswith("shipped (waitbuyerreceive, ") and text.endswith("confirm_goods, success)")
