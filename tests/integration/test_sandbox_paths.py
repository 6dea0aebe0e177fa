"""The sandbox serves some endpoints under other paths (issue 12, item 7) and logs request bodies."""

from __future__ import annotations

import json

import pytest
import requests

from xportcn_provider.api.endpoints import CATALOGUE
from xportcn_provider.api.errors import XportcnError
from xportcn_provider.sandbox import SandboxHandle
from xportcn_provider.sandbox.client import SandboxControlError
from xportcn_provider.sandbox.engine import Sandbox
from xportcn_provider.sandbox.paths import PathMapError, load_path_map

from .conftest import make_client


def test_a_moved_endpoint_answers_at_its_new_path_only(xportcn_sandbox: SandboxHandle) -> None:
    control = xportcn_sandbox.control
    alternate = CATALOGUE["order_detail"].alternates[0]
    assert control.move_endpoint("order_detail", alternate) == {"order_detail": alternate}
    [order_id] = control.seed_orders(1)
    home = make_client(xportcn_sandbox, max_retries=0)
    with pytest.raises(XportcnError) as info:
        home.call("order_detail", {"orderId": order_id})
    assert info.value.http_status == 404  # "no such route", not an envelope
    moved = make_client(xportcn_sandbox, endpoint_overrides={"order_detail": alternate})
    assert moved.call("order_detail", {"orderId": order_id})["orderId"] == order_id
    calls = control.calls()
    assert [(c["endpoint"], c["http_status"]) for c in calls] == [(None, 404), ("order_detail", 200)]
    assert calls[1]["path"] == "/api" + alternate
    assert json.loads(calls[1]["body"]) == {"orderId": order_id}
    # A wrong method at the new path is a 405; moving back home restores the catalogue path.
    response = requests.get(xportcn_sandbox.url + alternate, timeout=5)
    assert response.status_code == 405 and response.headers["Allow"] == "POST"
    assert control.move_endpoint("order_detail", None) == {}
    assert home.call("order_detail", {"orderId": order_id})["orderId"] == order_id


def test_reset_undoes_control_moves(xportcn_sandbox: SandboxHandle) -> None:
    xportcn_sandbox.control.move_endpoint("address_list", "/nowhere/address/list")
    assert xportcn_sandbox.control.paths() == {"address_list": "/nowhere/address/list"}
    xportcn_sandbox.control.reset()
    assert xportcn_sandbox.control.paths() == {}
    assert isinstance(make_client(xportcn_sandbox).call("address_list", {}), list)


@pytest.mark.parametrize(
    "endpoint, path, words",
    [
        ("no_such_endpoint", "/x", "unknown endpoint"),
        ("order_detail", "relative/path", "must start with '/'"),
        ("order_detail", "/alibaba/ka/order/list", "order_list"),
    ],
)
def test_bad_moves_are_control_errors(
    xportcn_sandbox: SandboxHandle, endpoint: str, path: str, words: str
) -> None:
    with pytest.raises(SandboxControlError) as info:
        xportcn_sandbox.control.move_endpoint(endpoint, path)
    assert info.value.status == 400 and words in str(info.value.detail)


def test_path_map_file_survives_a_reset(tmp_path: object) -> None:
    from pathlib import Path

    file = Path(str(tmp_path)) / "paths.json"
    file.write_text(json.dumps({"refund_detail": "/alibaba/refund/info"}))
    sandbox = Sandbox(path_map=load_path_map(file))
    sandbox.paths.move("address_list", "/elsewhere")
    sandbox.reset()
    assert sandbox.paths.moves() == {"refund_detail": "/alibaba/refund/info"}
    file.write_text("[1, 2]")
    with pytest.raises(PathMapError, match="JSON object"):
        load_path_map(file)
