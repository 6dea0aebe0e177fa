"""Small validators for request bodies; every failure names the field path it is about.

The real service rejects a bad body with an envelope error; the provider's operators are
supposed to catch bad input before any call, so the sandbox is strict on purpose: required
fields, JSON types, positive quantities and amounts. Paths look like
``cargoParamList[0].quantity`` so a user can find the offending value at once.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from xportcn_provider.api.endpoints import Endpoint
from xportcn_provider.sandbox.failures import invalid

Body = Mapping[str, Any]


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | tuple | dict) and len(value) == 0)


def check_required(endpoint: Endpoint, body: Body) -> None:
    """Every field the catalogue marks required is present and not empty."""
    for name in endpoint.required:
        if _empty(body.get(name)):
            raise invalid(f"{name} is required for {endpoint.name}")


def present(body: Body, name: str) -> bool:
    return not _empty(body.get(name))


def obj(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise invalid(f"{path} must be a JSON object, got {_kind(value)}")
    return value


def obj_list(value: Any, path: str, *, min_items: int = 1) -> list[Mapping[str, Any]]:
    """A list of objects with at least ``min_items`` entries."""
    if not isinstance(value, list):
        raise invalid(f"{path} must be a JSON array, got {_kind(value)}")
    if len(value) < min_items:
        raise invalid(f"{path} must have at least {min_items} item(s)")
    return [obj(item, f"{path}[{i}]") for i, item in enumerate(value)]


def text(value: Any, path: str) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"{path} must be a non-empty string, got {_show(value)}")
    return value


def opt_text(body: Body, name: str, path: str | None = None) -> str | None:
    return None if body.get(name) is None else text(body[name], path or name)


def ident(value: Any, path: str) -> str:
    """An id given as a non-empty string or a whole number (ids travel as strings in answers)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise invalid(f"{path} must be an id (string or integer), got {_show(value)}")


def ident_list(value: Any, path: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise invalid(f"{path} must be a non-empty JSON array of ids, got {_show(value)}")
    return [ident(item, f"{path}[{i}]") for i, item in enumerate(value)]


def text_list(value: Any, path: str) -> list[str]:
    if not isinstance(value, list):
        raise invalid(f"{path} must be a JSON array of strings, got {_kind(value)}")
    return [text(item, f"{path}[{i}]") for i, item in enumerate(value)]


def positive_int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise invalid(f"{path} must be a positive integer, got {_show(value)}")
    return value


def non_negative_int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise invalid(f"{path} must be an integer >= 0, got {_show(value)}")
    return value


def positive_number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise invalid(f"{path} must be a positive number, got {_show(value)}")
    return float(value)


def opt_positive_number(body: Body, name: str, path: str | None = None) -> float | None:
    return None if body.get(name) is None else positive_number(body[name], path or name)


def one_of(value: Any, path: str, allowed: Iterable[str]) -> str:
    options = tuple(allowed)
    if value not in options:
        raise invalid(f"{path} must be one of {', '.join(options)}, got {_show(value)}")
    return str(value)


def json_text(value: Any, path: str) -> Any:
    """A string that holds JSON (the 1688 ``sort`` and ``filter`` fields)."""
    if not isinstance(value, str):
        raise invalid(f"{path} must be a JSON string, got {_kind(value)}")
    try:
        return json.loads(value)
    except ValueError:
        raise invalid(f"{path} must be a JSON string, got {_show(value)}") from None


def base64_bytes(value: Any, path: str) -> bytes:
    """Base64 image data (a ``data:`` URL prefix is accepted)."""
    raw = text(value, path)
    if raw.startswith("data:") and "," in raw:
        raw = raw.split(",", 1)[1]
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(f"{path} must be base64-encoded image data") from None
    if not data:
        raise invalid(f"{path} must not be empty")
    return data


def time_value(value: Any, path: str) -> float:
    """A point in time: ISO-8601 (``Z``/offset; naive means UTC) or Unix seconds/milliseconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) / 1000 if value > 1e11 else float(value)
    if isinstance(value, str) and value.strip():
        raw = value.strip()
        if raw.isdigit():
            number = int(raw)
            return number / 1000 if number > 1e11 else float(number)
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return parsed.timestamp()
    raise invalid(
        f"{path} must be an ISO-8601 time (e.g. 2026-11-25T08:00:00Z) or Unix seconds, got {_show(value)}"
    )


def paging(body: Body, page_field: str, max_size: int, default_size: int = 20) -> tuple[int, int]:
    """``(page, size)`` from a list request; page numbers start at 1."""
    page = body.get(page_field, 1)
    size = body.get("pageSize", default_size)
    page = positive_int(_int_like(page), page_field)
    size = positive_int(_int_like(size), "pageSize")
    if size > max_size:
        raise invalid(f"pageSize must be between 1 and {max_size}, got {size}")
    return page, size


def _int_like(value: Any) -> Any:
    """Page numbers sometimes travel as digit strings; accept them, nothing else."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def _show(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."
