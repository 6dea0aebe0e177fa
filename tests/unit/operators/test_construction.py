"""Building operators does no I/O and validates nothing a template could change; the metadata
(template fields, renderers, links, provider info) is consistent for every operator."""

from __future__ import annotations

import inspect
import socket
from typing import Any
from unittest import mock

import pytest
import requests
from airflow.sdk import DAG, BaseHook

import xportcn_provider.operators as ops
from xportcn_provider.get_provider_info import get_provider_info
from xportcn_provider.operators.base import XportcnBaseOperator

OPERATORS = sorted(
    (cls for cls in vars(ops).values() if inspect.isclass(cls) and issubclass(cls, XportcnBaseOperator)),
    key=lambda c: c.__name__,
)
TEMPLATE = "{{ ti.xcom_pull(task_ids='upstream') }}"

#: Minimal arguments for each operator: every required argument is a template string, which is
#: what a DAG file holds at parse time (the real value only exists when the task runs).
ARGS: dict[str, dict[str, Any]] = {
    "XportcnApiOperator": {"endpoint": TEMPLATE, "payload": TEMPLATE},
    "XportcnCancelRefundOperator": {"refund_id": TEMPLATE},
    "XportcnCreateInternationalLogisticsOrderOperator": {
        "render_id": TEMPLATE,
        "receiver_address": TEMPLATE,
        "line_items": TEMPLATE,
    },
    "XportcnCreateOrderOperator": {
        "address_param": TEMPLATE,
        "cargo_param_list": TEMPLATE,
        "max_total_fen": TEMPLATE,
    },
    "XportcnCreateRefundOperator": {
        "order_id": TEMPLATE,
        "order_entry_ids": TEMPLATE,
        "dispute_request": TEMPLATE,
        "apply_payment": TEMPLATE,
        "wait_for_completion": True,
        "deferrable": True,
    },
    "XportcnForecastPackageOperator": {"out_order_id": TEMPLATE, "logistics_tracking_number": TEMPLATE},
    "XportcnFreightPreviewOperator": {"receiver_address": TEMPLATE, "render_items": TEMPLATE},
    "XportcnPackageInboundOperator": {"out_order_id": TEMPLATE, "logistics_tracking_number": TEMPLATE},
    "XportcnPayOrderOperator": {"order_id": TEMPLATE},
    "XportcnPreviewOrderOperator": {"address_param": TEMPLATE, "cargo_param_list": TEMPLATE},
    "XportcnRefundReasonsOperator": {"order_id": TEMPLATE},
    "XportcnSaveAddressOperator": {
        "name": TEMPLATE,
        "province": TEMPLATE,
        "city": TEMPLATE,
        "address": TEMPLATE,
        "phone": TEMPLATE,
    },
    "XportcnSubmitReturnLogisticsOperator": {
        "refund_id": TEMPLATE,
        "logistics_company_no": TEMPLATE,
        "freight_bill": TEMPLATE,
    },
    "XportcnTaobaoCreateOrderOperator": {"items": TEMPLATE, "address": TEMPLATE},
    "XportcnTaobaoRenderOrderOperator": {"items": TEMPLATE, "address": TEMPLATE},
    "XportcnUpdateDomesticLogisticsOperator": {"order_id": TEMPLATE, "logistic_infos": TEMPLATE},
    "XportcnUpdatePackageOperator": {"out_order_id": TEMPLATE},
    "XportcnUploadRefundVoucherOperator": {"content": TEMPLATE},
}


def test_every_operator_has_construction_arguments():
    assert {cls.__name__ for cls in OPERATORS} == set(ARGS)
    assert len(OPERATORS) == 18


def _no_io(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("I/O while constructing an operator")


@pytest.mark.parametrize("cls", OPERATORS, ids=lambda c: c.__name__)
def test_construction_does_no_io(cls, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_XPORTCN_DEFAULT", raising=False)
    with (
        mock.patch.object(socket.socket, "connect", _no_io),
        mock.patch.object(requests.Session, "request", _no_io),
        mock.patch.object(BaseHook, "get_connection", _no_io),
        DAG("construction", schedule=None),
    ):
        op = cls(task_id="op", **ARGS[cls.__name__])
    assert "hook" not in op.__dict__  # the hook (and the connection) only exist in execute


@pytest.mark.parametrize("cls", OPERATORS, ids=lambda c: c.__name__)
def test_template_fields_and_renderers(cls):
    op = cls(task_id="op", **ARGS[cls.__name__])
    assert "xportcn_conn_id" in cls.template_fields
    assert "extra" in cls.template_fields
    for name in cls.template_fields:
        assert hasattr(op, name), name
    for name, renderer in cls.template_fields_renderers.items():
        assert name in cls.template_fields
        assert renderer in ("json", "py")
    # Every templated argument given above really is a template field.
    for name, value in ARGS[cls.__name__].items():
        if value == TEMPLATE:
            assert name in cls.template_fields, name


@pytest.mark.parametrize("cls", OPERATORS, ids=lambda c: c.__name__)
def test_endpoint_is_declared(cls):
    from xportcn_provider.api.endpoints import CATALOGUE

    assert cls.endpoint_name is None or cls.endpoint_name in CATALOGUE
    if cls.__name__ != "XportcnApiOperator":
        assert cls.endpoint_name is not None


def test_provider_info_lists_every_operator_module_and_link():
    info = get_provider_info()
    modules = {m for entry in info["operators"] for m in entry["python-modules"]}
    assert {cls.__module__ for cls in OPERATORS} == modules
    links = {
        f"{type(link).__module__}.{type(link).__name__}"
        for cls in OPERATORS
        for link in cls.operator_extra_links
    }
    assert links <= set(info["extra-links"])
    assert len(info["extra-links"]) == 4


def test_deferrable_default_follows_the_airflow_setting(monkeypatch):
    from xportcn_provider.operators.base import default_deferrable

    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "True")
    assert default_deferrable() is True
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "False")
    assert default_deferrable() is False


def test_docs_list_every_operator_with_a_one_line_example():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[3] / "docs" / "operators.md").read_text()
    for cls in OPERATORS:
        assert f"`{cls.__name__}`" in text, cls.__name__
        assert any(line.startswith(f"{cls.__name__}(task_id=") for line in text.splitlines()), cls.__name__
