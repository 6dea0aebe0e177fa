"""Every request-shape example of ``docs/operators.md`` runs against the sandbox (issue 14 item 1).

A new user learned ``fullName``/``mobile`` from 400 answers because the docs said "``ADDR`` stands
for your own dict". Now ``docs/operators.md`` has a complete example of each structured parameter
(blocks starting ``# example:``); this test executes each block as written (with ids from earlier
tasks — ``ORDER_ID``, ``ENTRY``, ``RENDER_ID`` — taken from the sandbox), then executes every
operator the block built against the sandbox: all succeed, no 400. It also checks that the
one-line examples only use names the shape examples define, that each dict is a valid value of
the ``TypedDict`` it is annotated with, and that the sandbox's OpenAPI shows those schemas.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_type_hints

import pytest
import requests
from airflow.sdk import BaseOperator
from pydantic import TypeAdapter

from xportcn_provider.api import request_shapes
from xportcn_provider.api.endpoints import get_endpoint
from xportcn_provider.hooks.xportcn import XportcnHook
from xportcn_provider.sandbox.handle import SandboxHandle

from .operators_support import make_context, use_sandbox

DOC = Path(__file__).resolve().parents[2] / "docs" / "operators.md"
BLOCK = re.compile(r"```python\n(# example: (?P<name>[^\n]+)\n.*?)```", re.S)


def examples() -> list[tuple[str, str]]:
    found = [(m["name"].strip(), m.group(1)) for m in BLOCK.finditer(DOC.read_text())]
    assert len(found) >= 6, "docs/operators.md lost its request-shape examples"
    return found


def ids_from_earlier_tasks(sandbox: SandboxHandle) -> dict[str, Any]:
    """What ``ORDER_ID``, ``ENTRY`` and ``RENDER_ID`` would be pulled from XCom in a DAG."""
    sandbox.control.configure(auto_advance=False)
    order_id = sandbox.control.seed_orders(1, status="waitbuyerreceive", quantity=3)[0]
    entry = sandbox.control.get("order", order_id)["productItems"][0]["subItemID"]
    render = XportcnHook().freight_preview(
        receiver_address={"name": "a", "country": "US", "address": "b"},
        render_items=[{"itemId": "1", "quantity": 1}],
    )
    return {"ORDER_ID": order_id, "ENTRY": entry, "RENDER_ID": render["renderId"]}


def test_every_example_runs_against_the_sandbox(
    xportcn_sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_sandbox(monkeypatch, xportcn_sandbox)
    namespace: dict[str, Any] = ids_from_earlier_tasks(xportcn_sandbox)
    ran: list[str] = []
    for name, code in examples():
        before = set(namespace)
        exec(compile(code, f"docs/operators.md ({name})", "exec"), namespace)
        tasks = [v for k, v in namespace.items() if k not in before and isinstance(v, BaseOperator)]
        assert tasks, f"example {name!r} builds no operator"
        for task in tasks:
            xportcn_sandbox.control.clear_calls()
            task.execute(make_context())
            codes = [c["code"] for c in xportcn_sandbox.control.calls()]
            # the write (last) succeeds; before it only look-ups may find nothing (404); never a 400
            assert codes and codes[-1] == 200 and set(codes) <= {200, 404}, (name, task.task_id, codes)
            ran.append(task.task_id)
    assert {
        "preview",
        "buy",
        "tb_render",
        "tb_buy",
        "freight",
        "book",
        "waybill",
        "forecast",
        "update_pkg",
        "inbound",
        "refund",
    } <= set(ran)


def test_the_examples_are_valid_values_of_their_typed_dicts(xportcn_sandbox: SandboxHandle) -> None:
    namespace: dict[str, Any] = {
        "ORDER_ID": "2618493058261900001",
        "ENTRY": "3618493058261900001",
        "RENDER_ID": "FF1",
    }
    for name, code in examples():
        exec(compile(code, f"docs/operators.md ({name})", "exec"), namespace)
        annotations = namespace.get("__annotations__", {})
        for variable, hint in annotations.items():
            shape = eval(hint, vars(request_shapes)) if isinstance(hint, str) else hint
            value = namespace[variable]
            TypeAdapter(shape).validate_python(value, strict=False)  # required keys, value types
            # ...and no key the shape does not know (pydantic ignores extra keys of a TypedDict)
            element = shape.__args__[0] if isinstance(value, list) else shape
            for item in value if isinstance(value, list) else [value]:
                assert set(item) <= set(get_type_hints(element)), (name, variable, sorted(item))


def test_the_one_line_examples_use_only_defined_names() -> None:
    text = DOC.read_text()
    one_liners = text.split("One-line examples:", 1)[1].split("```", 2)[1]
    defined = {"ORDER_ID", "ENTRY", "RENDER_ID", "LOGISTICS_ORDER_ID"}
    for _, code in examples():
        defined |= set(re.findall(r"^([A-Z_]+)(?::[^=]+)? =", code, re.M))
    code_only = re.sub(r'"[^"]*"', '""', one_liners)  # names, not the words inside strings
    used = set(re.findall(r"\b([A-Z][A-Z_]{2,})\b", code_only))
    assert used <= defined, f"undefined in docs/operators.md: {sorted(used - defined)}"


@pytest.mark.parametrize(
    ("endpoint", "field"), [(e, f) for e, fs in request_shapes.BODY_SHAPES.items() for f in fs]
)
def test_the_sandbox_openapi_shows_the_shapes(
    xportcn_sandbox: SandboxHandle, endpoint: str, field: str
) -> None:
    spec = requests.get(xportcn_sandbox.base_url + "/openapi.json", timeout=10).json()
    path = xportcn_sandbox.url.removeprefix(xportcn_sandbox.base_url) + get_endpoint(endpoint).path
    body = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    shown = body["properties"][field]
    assert shown == request_shapes.body_field_schema(endpoint, field)
    target = shown.get("items", shown)
    assert target["type"] == "object" and target["properties"], shown  # not "addressParam": {}
    hints = get_type_hints(
        request_shapes.BODY_SHAPES[endpoint][field].__args__[0]
        if shown.get("type") == "array"
        else request_shapes.BODY_SHAPES[endpoint][field]
    )
    assert set(target["properties"]) == set(hints)
