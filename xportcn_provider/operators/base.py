"""What every Xportcn operator shares: the hook, input checks, XCom, log lines, retry memory.

Each operator is a thin layer over one typed hook method. The shape is always the same, and it
lives here so it is written once:

1. ``execute`` calls :meth:`XportcnBaseOperator.build_request`, which checks the (rendered)
   arguments and returns the hook keyword arguments. Every check happens here, before any HTTP
   call, and a failure is an :class:`~xportcn_provider.api.errors.XportcnValidationError` whose
   ``parameter`` is the operator argument to fix. ``__init__`` checks nothing a template could
   change, and does no I/O: operators are built while DAG files are parsed.
2. The JSON size of the request is checked (``max_payload_bytes``, 1 MiB by default).
3. :meth:`XportcnBaseOperator.perform` does the remote work, pushes ids and console URLs to XCom
   under explicit keys (before any wait), logs one line per remote action with its
   ``requestId``, and returns the XCom return value.

Create operators keep the remote id in ``context["task_state_store"]`` (Airflow 3.3) right
after the create call answers, and read it first on the next try, so a retry reconnects without
even a lookup (:meth:`recall` / :meth:`remember`).
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, conf

from xportcn_provider.api.endpoints import get_endpoint
from xportcn_provider.api.errors import XportcnError, XportcnValidationError
from xportcn_provider.api.waits import WaitSpec
from xportcn_provider.connection import DEFAULT_CONN_ID
from xportcn_provider.hooks.xportcn import XportcnHook
from xportcn_provider.links import console_link

if TYPE_CHECKING:
    from airflow.sdk import Context

#: Largest request body an operator sends (JSON, UTF-8). Larger is almost certainly a mistake
#: (a whole XCom list pasted into a field) and the server would refuse it after a slow upload.
MAX_PAYLOAD_BYTES = 1024 * 1024
#: Longest id the provider derives on its own (``out_order_id``, ``tmall_order_id``).
DERIVED_ID_LENGTH = 32
DERIVED_ID_PREFIX = "af-"
#: Longest caller-chosen id accepted (the contract publishes no limit; 64 is generous).
MAX_CALLER_ID_LENGTH = 64
#: Prefix of every key this provider writes into ``task_state_store``.
STATE_PREFIX = "xportcn"
#: Defaults of the operators that wait (same meaning as the sensors' poke_interval/timeout).
DEFAULT_POLL_INTERVAL = 60.0
DEFAULT_WAIT_TIMEOUT = 7 * 24 * 3600.0


# --- validation helpers (all raise XportcnValidationError naming the parameter) ---------------


def _fail(parameter: str, message: str) -> XportcnValidationError:
    return XportcnValidationError(f"{parameter}: {message}", parameter=parameter)


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def require_id(value: Any, parameter: str) -> str:
    """A remote or caller id: a non-empty string or an integer, returned as a stripped string."""
    if _is_blank(value):
        raise _fail(parameter, "is required (a non-empty id).")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _fail(parameter, f"must be a string or an integer id, got {type(value).__name__}.")
    text = str(value).strip()
    if len(text) > 128 or any(ch.isspace() for ch in text):
        raise _fail(parameter, f"{text[:40]!r} does not look like an id (no spaces, at most 128 chars).")
    return text


def optional_id(value: Any, parameter: str) -> str | None:
    return None if _is_blank(value) else require_id(value, parameter)


def caller_id(value: Any, parameter: str) -> str:
    """A caller-chosen idempotency key: printable, no spaces, at most 64 characters."""
    text = require_id(value, parameter)
    if len(text) > MAX_CALLER_ID_LENGTH:
        raise _fail(parameter, f"must be at most {MAX_CALLER_ID_LENGTH} characters, got {len(text)}.")
    return text


def require_str(value: Any, parameter: str, *, max_length: int = 2000) -> str:
    if _is_blank(value):
        raise _fail(parameter, "is required (a non-empty string).")
    if not isinstance(value, str):
        raise _fail(parameter, f"must be a string, got {type(value).__name__}.")
    if len(value) > max_length:
        raise _fail(parameter, f"must be at most {max_length} characters, got {len(value)}.")
    return value.strip()


def optional_str(value: Any, parameter: str, *, max_length: int = 2000) -> str | None:
    return None if _is_blank(value) else require_str(value, parameter, max_length=max_length)


def _as_int(value: Any, parameter: str, what: str) -> int:
    if isinstance(value, bool):
        raise _fail(parameter, f"must be {what}, got a boolean.")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        # A rendered template ("{{ params.qty }}") arrives as text.
        return int(value.strip())
    raise _fail(parameter, f"must be {what}, got {value!r}.")


def require_positive_int(value: Any, parameter: str) -> int:
    """A quantity or an amount in fen that must be at least 1."""
    if value is None:
        raise _fail(parameter, "is required (a whole number > 0).")
    number = _as_int(value, parameter, "a whole number > 0")
    if number <= 0:
        raise _fail(parameter, f"must be > 0, got {number}.")
    return number


def optional_non_negative_int(value: Any, parameter: str) -> int | None:
    if value is None:
        return None
    number = _as_int(value, parameter, "a whole number >= 0")
    if number < 0:
        raise _fail(parameter, f"must be >= 0, got {number}.")
    return number


def optional_positive_number(value: Any, parameter: str) -> float | None:
    """A weight or a size: any finite number > 0."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise _fail(parameter, f"must be a number > 0, got {value!r}.") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(parameter, f"must be a number > 0, got {value!r}.")
    if value <= 0:
        raise _fail(parameter, f"must be > 0, got {value}.")
    return value


def require_choice(value: Any, parameter: str, choices: Iterable[str]) -> str:
    allowed = tuple(choices)
    if value not in allowed:
        raise _fail(parameter, f"must be one of {', '.join(allowed)}, got {value!r}.")
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
        raise _fail(parameter, "is text that is neither JSON nor a Python literal.") from None


def require_mapping(value: Any, parameter: str, *, required_keys: Sequence[str] = ()) -> dict[str, Any]:
    value = coerce_json(value, parameter)
    if value is None or value == {}:
        raise _fail(parameter, "is required (a JSON object).")
    if not isinstance(value, Mapping):
        raise _fail(parameter, f"must be a mapping (JSON object), got {type(value).__name__}.")
    missing = [k for k in required_keys if _is_blank(value.get(k))]
    if missing:
        raise _fail(parameter, f"is missing {', '.join(repr(k) for k in missing)}.")
    return dict(value)


def optional_mapping(value: Any, parameter: str) -> dict[str, Any] | None:
    value = coerce_json(value, parameter)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise _fail(parameter, f"must be a mapping (JSON object), got {type(value).__name__}.")
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
        raise _fail(parameter, "is required (a non-empty list of objects).")
    if not isinstance(value, list | tuple):
        raise _fail(parameter, f"must be a list of objects, got {type(value).__name__}.")
    if len(value) > max_items:
        raise _fail(parameter, f"has {len(value)} entries; at most {max_items} are accepted.")
    items: list[dict[str, Any]] = []
    for index, item in enumerate(value):
        where = f"{parameter}[{index}]"
        if not isinstance(item, Mapping):
            raise XportcnValidationError(
                f"{where} must be an object, got {type(item).__name__}.", parameter=parameter
            )
        entry = dict(item)
        for key in id_keys:
            if _is_blank(entry.get(key)):
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
        raise _fail(parameter, "is required (a non-empty list of ids).")
    if not isinstance(value, list | tuple):
        raise _fail(parameter, f"must be a list of ids, got {type(value).__name__}.")
    if len(value) > max_items:
        raise _fail(parameter, f"has {len(value)} ids; at most {max_items} are accepted.")
    ids = [require_id(v, f"{parameter}[{i}]") for i, v in enumerate(value)]
    if len(set(ids)) != len(ids):
        raise _fail(parameter, "contains the same id twice.")
    return ids


def optional_str_list(value: Any, parameter: str, *, max_items: int = 50) -> list[str] | None:
    value = coerce_json(value, parameter)
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        raise _fail(parameter, f"must be a list of strings, got {type(value).__name__}.")
    if len(value) > max_items:
        raise _fail(parameter, f"has {len(value)} entries; at most {max_items} are accepted.")
    for i, v in enumerate(value):
        if not isinstance(v, str) or not v.strip():
            raise _fail(parameter, f"entry {i} must be a non-empty string, got {v!r}.")
    return [v.strip() for v in value]


def optional_bool(value: Any, parameter: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _fail(parameter, f"must be True or False, got {value!r}.")


def check_payload_size(fields: Mapping[str, Any], limit: int = MAX_PAYLOAD_BYTES) -> int:
    """Fail when the JSON body would exceed ``limit`` bytes, naming the biggest field."""
    sizes: dict[str, int] = {}
    for name, value in fields.items():
        try:
            sizes[name] = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
        except (TypeError, ValueError) as exc:
            raise _fail(name, f"is not JSON-serialisable ({exc}).") from None
    total = sum(sizes.values())
    if total > limit:
        biggest = max(sizes, key=lambda k: sizes[k])
        raise _fail(
            biggest,
            f"the request would be {total} bytes of JSON ({biggest} alone {sizes[biggest]}); "
            f"the limit is {limit} bytes.",
        )
    return total


def derived_id(context: Context | Mapping[str, Any], *, salt: str = "") -> str:
    """A deterministic caller id for this task instance: same on every retry, new for each run.

    Derived from dag id, task id, run id and map index (each mapped instance gets its own), so
    it is stable across retries of one run and different across runs. ``af-`` + 29 hex chars of
    SHA-256: 32 characters of ``[a-z0-9-]``.
    """
    ti = context["ti"]
    run_id = context.get("run_id") or ti.run_id
    map_index = getattr(ti, "map_index", -1)
    map_index = -1 if map_index is None else map_index
    key = "\x1f".join([str(ti.dag_id), str(ti.task_id), str(run_id), str(map_index), salt])
    digest = hashlib.sha256(key.encode()).hexdigest()
    return DERIVED_ID_PREFIX + digest[: DERIVED_ID_LENGTH - len(DERIVED_ID_PREFIX)]


# --- the base operator -----------------------------------------------------------------------


class XportcnBaseOperator(BaseOperator):
    """Common base: the hook, validation before I/O, XCom keys, one log line per remote action.

    :param xportcn_conn_id: the Airflow connection of type ``xportcn`` (templated).
    :param extra: additional request body fields passed through unchanged (templated); a key
        that repeats a keyword argument is an error.
    """

    template_fields: Sequence[str] = ("xportcn_conn_id", "extra")
    template_fields_renderers = {"extra": "json"}
    ui_color = "#fde9d9"
    #: JSON size limit of one request body; subclasses sending files raise it.
    max_payload_bytes: int = MAX_PAYLOAD_BYTES
    #: The catalogue endpoint the operator's keyword arguments map to (``extra`` may not repeat them).
    endpoint_name: str | None = None

    def __init__(
        self,
        *,
        xportcn_conn_id: str = DEFAULT_CONN_ID,
        extra: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.xportcn_conn_id = xportcn_conn_id
        self.extra = extra

    @cached_property
    def hook(self) -> XportcnHook:
        """Built on first use (in ``execute``), never while the DAG file is parsed."""
        return XportcnHook(xportcn_conn_id=self.xportcn_conn_id)

    # --- the execute template ---------------------------------------------------------------
    def execute(self, context: Context) -> Any:
        if _is_blank(self.xportcn_conn_id) or not isinstance(self.xportcn_conn_id, str):
            raise _fail("xportcn_conn_id", "is required (the id of an Xportcn connection).")
        request = self.build_request()
        self._check_extra_keys(request.get("extra"))
        check_payload_size(request, self.max_payload_bytes)
        return self.perform(context, request)

    def _check_extra_keys(self, extra: Mapping[str, Any] | None) -> None:
        """``extra`` is for fields the operator has no argument for; a known field is refused here
        (before any lookup call), not later by the hook, so a typo never costs a remote call."""
        if not extra or self.endpoint_name is None:
            return
        known = sorted(set(extra) & set(get_endpoint(self.endpoint_name).fields))
        if known:
            raise _fail(
                "extra",
                f"{', '.join(known)} is a known {self.endpoint_name} field; pass it as the operator's "
                "keyword argument instead.",
            )

    def build_request(self) -> dict[str, Any]:
        """Check the rendered arguments and return the hook keyword arguments (no I/O here)."""
        raise NotImplementedError(f"{type(self).__name__} must implement build_request()")

    def perform(self, context: Context, request: dict[str, Any]) -> Any:
        """Do the remote work with a validated ``request``; return the XCom return value."""
        raise NotImplementedError(f"{type(self).__name__} must implement perform()")

    def extra_body(self) -> dict[str, Any] | None:
        """The validated ``extra`` mapping (or ``None``)."""
        return optional_mapping(self.extra, "extra")

    # --- XCom, links, logs -------------------------------------------------------------------
    def push(self, context: Context | Mapping[str, Any], **values: Any) -> None:
        """Push each non-``None`` value under its own XCom key (ids, URLs) before any wait."""
        ti = context["ti"]
        for key, value in values.items():
            if value is not None:
                ti.xcom_push(key=key, value=value)

    def console_url_of(self, kind: str, object_id: object) -> str:
        """The console URL of one remote object (patterns in :mod:`xportcn_provider.links`)."""
        return console_link(self.hook.console_url, kind, object_id)

    def log_action(self, action: str, ids: Mapping[str, Any], result: str, *, remote: bool = True) -> None:
        """The one line per remote action: what, for which ids, the result and the requestId."""
        id_text = ", ".join(f"{k}={v}" for k, v in ids.items() if v is not None) or "-"
        request_id = self.hook.last_request_id if remote else None
        self.log.info(
            "Xportcn %s [%s]: %s (requestId=%s)",
            action,
            id_text,
            result,
            request_id or "none, no remote call",
        )

    # --- retry memory (task_state_store, Airflow 3.3) ------------------------------------------
    @staticmethod
    def state_key(kind: str, *parts: object) -> str:
        """Key of a remembered remote id; includes the idempotency key so a changed request
        (another ``out_order_id``, other sub-orders) never reconnects to the old object."""
        return ":".join([STATE_PREFIX, kind, *(str(p) for p in parts)])

    def recall(self, context: Context | Mapping[str, Any], key: str) -> Any:
        """The value remembered by an earlier try of this task instance, or ``None``."""
        store = context.get("task_state_store")
        if store is None:
            return None
        try:
            return store.get(key)
        except Exception as exc:
            # The store is an optimisation: without it the operator falls back to the lookup.
            self.log.warning("task_state_store.get(%r) failed (%s); looking the object up instead.", key, exc)
            return None

    def remember(self, context: Context | Mapping[str, Any], key: str, value: Any) -> None:
        """Remember ``value`` for the next try, right after the remote call answered."""
        store = context.get("task_state_store")
        if store is None or value is None:
            return
        try:
            store.set(key, value)
        except Exception as exc:
            self.log.warning(
                "task_state_store.set(%r) failed (%s); a retry will look the object up instead.", key, exc
            )


def default_deferrable() -> bool:
    """``[operators] default_deferrable``: the deployment chooses the default, like every provider."""
    return conf.getboolean("operators", "default_deferrable", fallback=False)


def wait_settings(poll_interval: Any, timeout: Any) -> tuple[float, float | None]:
    """Validated ``poll_interval`` (> 0 s) and ``timeout`` (>= 0 s, or ``None`` for no limit)."""
    interval = optional_positive_number(poll_interval, "poll_interval")
    if interval is None:
        raise _fail("poll_interval", "is required (seconds > 0).")
    if timeout is None:
        return float(interval), None
    if isinstance(timeout, str):
        try:
            timeout = float(timeout)
        except ValueError:
            raise _fail("timeout", f"must be a number of seconds >= 0, got {timeout!r}.") from None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not math.isfinite(timeout):
        raise _fail("timeout", f"must be a number of seconds >= 0, got {timeout!r}.")
    if timeout < 0:
        raise _fail("timeout", f"must be >= 0, got {timeout}.")
    return float(interval), float(timeout)


class XportcnWaitingOperatorMixin:
    """Submit on the worker, then wait for a :class:`WaitSpec` in the worker or in the triggerer.

    The submit (a POST) always happens in ``execute`` on the worker; only read-only status polls
    ever run in a trigger, so a triggerer restart cannot re-send a create. Before deferring, the
    status is read once: an object that is already done never costs a deferral.
    """

    xportcn_conn_id: str
    deferrable: bool
    hook: XportcnHook
    #: The id in the trigger event's ``ids`` that ``execute_complete`` returns.
    wait_result_key: str = ""

    def wait_for_spec(
        self,
        context: Context,
        spec: WaitSpec,
        *,
        result: Any,
        poll_interval: float,
        timeout: float | None,
    ) -> Any:
        """Wait until ``spec`` succeeds, then return ``result`` (raise on failure or timeout)."""
        from xportcn_provider.waiting import (
            PollState,
            XportcnWaitError,
            XportcnWaitFailure,
            status_trigger_for,
            wait_sync,
        )

        log = self.log  # type: ignore[attr-defined]
        if not self.deferrable:
            wait_sync(self.hook, spec, poll_interval=poll_interval, timeout=timeout, log=log)
            return result
        started = time.time()
        state = PollState(spec)
        try:
            data = self.hook.call(spec.endpoint, dict(spec.body))
        except XportcnError as err:
            if not state.tolerate(err, log):
                raise XportcnWaitError(
                    state.error_message(err), status=None, ids=spec.ids, record=None
                ) from err
        else:
            outcome = state.observe(data, log)
            if outcome.outcome == "success":
                log.info("Xportcn %s: already %s, no need to defer.", spec.describe(), outcome.status)
                return result
            if outcome.outcome == "failure":
                raise XportcnWaitFailure(
                    state.failure_message(outcome), status=outcome.status, ids=spec.ids, record=data
                )
        trigger, defer_timeout = status_trigger_for(
            spec,
            conn_id=self.xportcn_conn_id,
            poll_interval=poll_interval,
            timeout=timeout,
            started_at=started,
        )
        log.info("Xportcn %s: deferring to the triggerer (poll every %gs).", spec.describe(), poll_interval)
        self.defer(  # type: ignore[attr-defined]
            trigger=trigger,
            method_name="execute_complete",
            kwargs={"result": result},
            timeout=defer_timeout,
        )
        raise AssertionError("unreachable: defer() raises TaskDeferred")  # pragma: no cover

    def execute_complete(
        self, context: Context, event: Mapping[str, Any] | None = None, result: Any = None
    ) -> Any:
        """Resume after the trigger: raise unless it reached the target; return the id."""
        from xportcn_provider.waiting import event_result

        event_result(event)
        self.log.info(  # type: ignore[attr-defined]
            "Xportcn wait finished: %s", (event or {}).get("message", "target reached")
        )
        if result is None and self.wait_result_key:
            # ``dag.test()`` resumes with the event only (the real triggerer also passes the
            # defer kwargs); the id is in the event's ``ids`` either way.
            result = dict((event or {}).get("ids") or {}).get(self.wait_result_key)
        return result
