"""Input checks shared by the operators: each returns the clean value or raises
:class:`~xportcn_provider.api.errors.XportcnValidationError` whose ``parameter`` names the
operator argument to fix. They run in ``execute`` on rendered values, before any HTTP call.
"""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from xportcn_provider.api import ids
from xportcn_provider.api.errors import XportcnValidationError

#: Largest request body an operator sends (JSON, UTF-8). Larger is almost certainly a mistake
#: (a whole XCom list pasted into a field) and the server would refuse it after a slow upload.
MAX_PAYLOAD_BYTES = 1024 * 1024
#: Longest caller-chosen id accepted (the contract publishes no limit; 64 is generous).
MAX_CALLER_ID_LENGTH = 64


def invalid(parameter: str, message: str) -> XportcnValidationError:
    return XportcnValidationError(f"{parameter}: {message}", parameter=parameter)


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def require_id(value: Any, parameter: str) -> str:
    """An id whose format no page shows: a non-empty string or an integer, no whitespace.

    Ids whose format is known have their own check below (``api/ids.py``, one per kind).
    """
    return ids.loose_id(value, parameter)


def optional_id(value: Any, parameter: str) -> str | None:
    return None if is_blank(value) else require_id(value, parameter)


def require_order_id(value: Any, parameter: str = "order_id") -> str:
    """A 1688 order id: digits only (``2618493058261900001``)."""
    return ids.ORDER_1688.check(value, parameter)


def optional_order_id(value: Any, parameter: str) -> str | None:
    return None if is_blank(value) else require_order_id(value, parameter)


def require_refund_id(value: Any, parameter: str = "refund_id") -> str:
    """A 1688 refund id: two letters then digits (``TQ260923837649136042``)."""
    return ids.REFUND.check(value, parameter)


def require_sub_order_ids(value: Any, parameter: str = "order_entry_ids") -> list[str]:
    """A non-empty list of 1688 sub-order ids (``subItemID``: digits), no duplicates."""
    entries = require_id_list(value, parameter)
    for index, entry in enumerate(entries):
        try:
            ids.SUB_ORDER_1688.check(entry, f"{parameter}[{index}]")
        except XportcnValidationError as err:
            raise invalid(parameter, err.message.split(": ", 1)[1]) from None
    return entries


def caller_id(value: Any, parameter: str) -> str:
    """A caller-chosen idempotency key: printable, no spaces, at most 64 characters."""
    text = require_id(value, parameter)
    if len(text) > MAX_CALLER_ID_LENGTH:
        raise invalid(parameter, f"must be at most {MAX_CALLER_ID_LENGTH} characters, got {len(text)}.")
    return text


def require_str(value: Any, parameter: str, *, max_length: int = 2000) -> str:
    if is_blank(value):
        raise invalid(parameter, "is required (a non-empty string).")
    if not isinstance(value, str):
        raise invalid(parameter, f"must be a string, got {type(value).__name__}.")
    if len(value) > max_length:
        raise invalid(parameter, f"must be at most {max_length} characters, got {len(value)}.")
    return value.strip()


def optional_str(value: Any, parameter: str, *, max_length: int = 2000) -> str | None:
    return None if is_blank(value) else require_str(value, parameter, max_length=max_length)


def _as_int(value: Any, parameter: str, what: str) -> int:
    if isinstance(value, bool):
        raise invalid(parameter, f"must be {what}, got a boolean.")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        # A rendered template ("{{ params.qty }}") arrives as text.
        return int(value.strip())
    raise invalid(parameter, f"must be {what}, got {value!r}.")


def require_positive_int(value: Any, parameter: str) -> int:
    """A quantity or an amount in fen that must be at least 1."""
    if value is None:
        raise invalid(parameter, "is required (a whole number > 0).")
    number = _as_int(value, parameter, "a whole number > 0")
    if number <= 0:
        raise invalid(parameter, f"must be > 0, got {number}.")
    return number


def optional_non_negative_int(value: Any, parameter: str) -> int | None:
    if value is None:
        return None
    number = _as_int(value, parameter, "a whole number >= 0")
    if number < 0:
        raise invalid(parameter, f"must be >= 0, got {number}.")
    return number


def optional_positive_number(value: Any, parameter: str) -> float | None:
    """A weight or a size: any finite number > 0."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise invalid(parameter, f"must be a number > 0, got {value!r}.") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise invalid(parameter, f"must be a number > 0, got {value!r}.")
    if value <= 0:
        raise invalid(parameter, f"must be > 0, got {value}.")
    return value


def require_choice(value: Any, parameter: str, choices: Iterable[str]) -> str:
    allowed = tuple(choices)
    if value not in allowed:
        raise invalid(parameter, f"must be one of {', '.join(allowed)}, got {value!r}.")
    return str(value)


def optional_choice(value: Any, parameter: str, choices: Iterable[str]) -> str | None:
    return None if value is None else require_choice(value, parameter, choices)


def coerce_json(value: Any, parameter: str) -> Any:
    """A structure that may have been rendered to text by a template, parsed back.

    Airflow renders templates to strings unless the DAG sets ``render_template_as_native_obj``;
    a JSON or Python-literal string is parsed so both DAG styles work.
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text or text[0] not in "[{":
        return value
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise invalid(parameter, "is text that is neither JSON nor a Python literal.") from None


def require_mapping(value: Any, parameter: str, *, required_keys: Sequence[str] = ()) -> dict[str, Any]:
    value = coerce_json(value, parameter)
    if value is None or value == {}:
        raise invalid(parameter, "is required (a JSON object).")
    if not isinstance(value, Mapping):
        raise invalid(parameter, f"must be a mapping (JSON object), got {type(value).__name__}.")
    missing = [k for k in required_keys if is_blank(value.get(k))]
    if missing:
        raise invalid(parameter, f"is missing {', '.join(repr(k) for k in missing)}.")
    return dict(value)


def optional_mapping(value: Any, parameter: str) -> dict[str, Any] | None:
    value = coerce_json(value, parameter)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise invalid(parameter, f"must be a mapping (JSON object), got {type(value).__name__}.")
    return dict(value)


def require_items(
    value: Any,
    parameter: str,
    *,
    id_keys: Sequence[str] = (),
    quantity_key: str | None = "quantity",
    quantity_required: bool = True,
    max_items: int = 500,
) -> list[dict[str, Any]]:
    """A non-empty list of objects; each names its id fields and has a positive quantity."""
    value = coerce_json(value, parameter)
    if value is None or (isinstance(value, list | tuple) and not value):
        raise invalid(parameter, "is required (a non-empty list of objects).")
    if not isinstance(value, list | tuple):
        raise invalid(parameter, f"must be a list of objects, got {type(value).__name__}.")
    if len(value) > max_items:
        raise invalid(parameter, f"has {len(value)} entries; at most {max_items} are accepted.")
    items: list[dict[str, Any]] = []
    for index, item in enumerate(value):
        where = f"{parameter}[{index}]"
        if not isinstance(item, Mapping):
            raise XportcnValidationError(
                f"{where} must be an object, got {type(item).__name__}.", parameter=parameter
            )
        entry = dict(item)
        for key in id_keys:
            if is_blank(entry.get(key)):
                raise XportcnValidationError(f"{where} is missing {key!r}.", parameter=parameter)
            entry[key] = _item_id(entry[key], where, key, parameter)
        if quantity_key is not None and (quantity_required or entry.get(quantity_key) is not None):
            entry[quantity_key] = _item_quantity(entry.get(quantity_key), where, quantity_key, parameter)
        items.append(entry)
    return items


def _item_id(value: Any, where: str, key: str, parameter: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise XportcnValidationError(
            f"{where}.{key} must be a string or an integer id, got {type(value).__name__}.",
            parameter=parameter,
        )
    return value


def _item_quantity(value: Any, where: str, key: str, parameter: str) -> int:
    try:
        return require_positive_int(value, f"{where}.{key}")
    except XportcnValidationError as err:
        raise XportcnValidationError(err.message, parameter=parameter) from None


def require_id_list(value: Any, parameter: str, *, max_items: int = 500) -> list[str]:
    """A non-empty list of ids (strings or integers); duplicates are an error."""
    value = coerce_json(value, parameter)
    if isinstance(value, str | int) and not isinstance(value, bool):
        value = [value]
    if value is None or (isinstance(value, list | tuple) and not value):
        raise invalid(parameter, "is required (a non-empty list of ids).")
    if not isinstance(value, list | tuple):
        raise invalid(parameter, f"must be a list of ids, got {type(value).__name__}.")
    if len(value) > max_items:
        raise invalid(parameter, f"has {len(value)} ids; at most {max_items} are accepted.")
    ids = [require_id(v, f"{parameter}[{i}]") for i, v in enumerate(value)]
    if len(set(ids)) != len(ids):
        raise invalid(parameter, "contains the same id twice.")
    return ids


def optional_str_list(value: Any, parameter: str, *, max_items: int = 50) -> list[str] | None:
    value = coerce_json(value, parameter)
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        raise invalid(parameter, f"must be a list of strings, got {type(value).__name__}.")
    if len(value) > max_items:
        raise invalid(parameter, f"has {len(value)} entries; at most {max_items} are accepted.")
    for i, v in enumerate(value):
        if not isinstance(v, str) or not v.strip():
            raise invalid(parameter, f"entry {i} must be a non-empty string, got {v!r}.")
    return [v.strip() for v in value]


def optional_bool(value: Any, parameter: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise invalid(parameter, f"must be True or False, got {value!r}.")


def check_payload_size(fields: Mapping[str, Any], limit: int = MAX_PAYLOAD_BYTES) -> int:
    """Fail when the JSON body would exceed ``limit`` bytes, naming the biggest field."""
    sizes: dict[str, int] = {}
    for name, value in fields.items():
        try:
            sizes[name] = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
        except (TypeError, ValueError) as exc:
            raise invalid(name, f"is not JSON-serialisable ({exc}).") from None
    total = sum(sizes.values())
    if total > limit:
        biggest = max(sizes, key=lambda k: sizes[k])
        raise invalid(
            biggest,
            f"the request would be {total} bytes of JSON ({biggest} alone {sizes[biggest]}); "
            f"the limit is {limit} bytes.",
        )
    return total
