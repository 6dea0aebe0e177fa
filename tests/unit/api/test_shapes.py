"""Response shapes as data (issue 12, item 5): shape_of, compare, and the generated docs table."""

from __future__ import annotations

import json
from pathlib import Path

from xportcn_provider.api import shapes
from xportcn_provider.api.endpoints import CATALOGUE

DOC = Path(__file__).resolve().parents[3] / "docs" / "data-shapes.md"


def test_every_endpoint_has_an_assumed_shape() -> None:
    assert set(shapes.ASSUMED_SHAPES) == set(CATALOGUE)


def test_docs_table_is_generated_from_the_data() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert shapes.render_doc(text) == text, "run: python -m xportcn_provider.api.shapes --write"


def test_shape_of_keeps_keys_and_types_never_values() -> None:
    value = {
        "name": "张三 13800000000",
        "n": 7,
        "price": 1.5,
        "ok": True,
        "none": None,
        "tags": ["secret-tag-1", "secret-tag-2"],
        "items": [{"a": 1}, {"a": 2, "b": "x"}],
        "empty": [],
    }
    shape = shapes.shape_of(value)
    assert shape == {
        "name": "string",
        "n": "integer",
        "price": "number",
        "ok": "boolean",
        "none": "null",
        "tags": ["string"],
        "items": [{"a": "integer", "b": "string"}],
        "empty": [],
    }
    dumped = json.dumps(shape, ensure_ascii=False)
    for secret in ("张三", "13800000000", "secret-tag", '"x"', "1.5"):
        assert secret not in dumped


def test_merge_marks_nullable_objects_and_unions_scalars() -> None:
    assert shapes.merge("string", "null") == "string|null"
    assert shapes.merge({"a": "string"}, "null") == {"$nullable": True, "a": "string"}
    assert shapes.shape_of([{"x": None}, {"x": {"y": 1}}]) == [{"x": {"$nullable": True, "y": "integer"}}]


def test_compare_reports_lacking_extra_and_types() -> None:
    expected = {"id": "string", "amount": "integer", "when": "string|null", "sub": {"k": "string"}}
    actual = {"id": "integer", "when": "null", "sub": {"k": "string", "new": "boolean"}, "more": []}
    found = {(d.path, d.kind) for d in shapes.compare(expected, actual)}
    assert found == {("id", "type"), ("amount", "missing"), ("sub.new", "extra"), ("more", "extra")}
    assert (
        shapes.compare(
            expected, {"id": "string", "amount": "integer", "when": "string", "sub": {"k": "string"}}
        )
        == []
    )
    # A list seen empty says nothing about its items; "any" matches everything.
    assert shapes.compare({"l": [{"a": "string"}]}, {"l": []}) == []
    assert shapes.compare({"q": "any"}, {"q": {"deep": ["string"]}}) == []
    assert shapes.compare({"n": "number"}, {"n": "integer"}) == []
    nullable = {"r": {"$nullable": True, "x": "string"}}
    assert shapes.compare(nullable, {"r": "null"}) == []
    assert [str(d) for d in shapes.compare(nullable, {"r": "string"})] == ["r: type string, assumed object"]
