"""Monitoring pages in the Airflow UI (issue 18): the "Xportcn" nav page and a task-instance tab.

Served by the plugin's FastAPI app on the api-server under ``/xportcn/ui/`` and shown by the UI
in an iframe (``external_views`` with ``url_route``). Plugin apps get no Airflow authentication,
so every route here depends on Airflow's own :func:`get_user` (the UI's JWT cookie, or a Bearer
token): an anonymous request gets 401/403 and no data, and only DAGs the user may read are shown
(``auth_manager.get_authorized_dag_ids``). The push route (:mod:`.push`) stays outside this
router and needs no login.

The DB is read the way Airflow's server code does (SQLAlchemy sessions), in a fixed number of
bounded queries per page (no query per row). What a row means is decided in
:mod:`xportcn_provider.api.monitoring`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from airflow.api_fastapi.core_api.security import get_user
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from xportcn_provider.api import monitoring as mon
from xportcn_provider.plugins.templates import PAGE, STYLE, TAB

log = logging.getLogger(__name__)

#: Rows read per section at most (the page stays bounded whatever the DB holds).
MAX_WAITS = 5000
MAX_CREATED = 100
MAX_MESSAGES = 50
#: Push events read at most to find the newest pushed status of the waited-on orders and refunds.
MAX_PUSHED_STATUSES = 2000
#: Live status: cached per object for this long, and each read gets this timeout.
LIVE_CACHE_SECONDS = 30.0
LIVE_TIMEOUT_SECONDS = 4.0

#: The signed-in Airflow user (UI cookie or Bearer token); 401/403 without one.
UserDep = Annotated[Any, Depends(get_user)]


def _readable_dags(user: Any) -> set[str]:
    from airflow.api_fastapi.app import get_auth_manager

    return set(get_auth_manager().get_authorized_dag_ids(user=user, method="GET"))


def _may_read_assets(user: Any) -> bool:
    from airflow.api_fastapi.app import get_auth_manager

    return bool(get_auth_manager().is_authorized_asset(method="GET", user=user))


def _ui_base() -> str:
    from urllib.parse import urlsplit

    from airflow.configuration import conf

    return urlsplit(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")


def _ti_url(row: Any) -> str:
    base = _ui_base()
    dag, run, task = (quote(str(v), safe="") for v in (row.dag_id, row.run_id, row.task_id))
    path = f"{base}/dags/{dag}/runs/{run}/tasks/{task}"
    return path + (f"/mapped/{row.map_index}" if getattr(row, "map_index", -1) >= 0 else "")


def _console_base(conn_id: str, cache: dict[str, str | None]) -> str | None:
    if conn_id not in cache:
        cache[conn_id] = None
        try:
            from airflow.models.connection import Connection

            from xportcn_provider.connection import DEFAULT_CONSOLE_URL, EXTRA_CONSOLE_URL

            extra = Connection.get_connection_from_secrets(conn_id).extra_dejson
            cache[conn_id] = str(extra.get(EXTRA_CONSOLE_URL) or DEFAULT_CONSOLE_URL)
        except Exception as err:  # no link rather than no page
            log.warning("Xportcn page: no console URL for connection %r (%s)", conn_id, type(err).__name__)
            cache[conn_id] = None
    return cache[conn_id]


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _xcom_value(raw: Any) -> Any:
    if isinstance(raw, bytes | str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _same_task_instance(model: Any, ti: Any, *more: Any) -> Any:
    """The join condition "rows of ``model`` that belong to this task instance" (plus ``more``)."""
    import sqlalchemy as sa

    return sa.and_(
        model.dag_id == ti.dag_id,
        model.run_id == ti.run_id,
        model.task_id == ti.task_id,
        model.map_index == ti.map_index,
        *more,
    )


def read_page_data(
    dag_ids: set[str], *, may_read_assets: bool
) -> tuple[list[mon.WaitRow], list[mon.CreatedRow], list[dict[str, Any]] | None, bool]:
    """Bounded queries, none per row: in-flight waits (with rendered fields and recorded last
    status), the ids waiting operators pushed, pushed statuses of the waited-on objects, created
    objects, recent messages."""
    import sqlalchemy as sa
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.models.renderedtifields import RenderedTaskInstanceFields as RTIF
    from airflow.models.task_state_store import TaskStateStoreModel as TSS
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    waits: list[mon.WaitRow] = []
    created: list[mon.CreatedRow] = []
    messages: list[dict[str, Any]] | None = None
    if not dag_ids:
        return waits, created, [] if may_read_assets else None, False
    with create_session(scoped=False) as session:
        query = (
            sa.select(
                TI.dag_id,
                TI.run_id,
                TI.task_id,
                TI.map_index,
                TI.state,
                TI.operator,
                TI.start_date,
                TI.queued_dttm,
                RTIF.rendered_fields,
                TSS.value.label("last_status"),
            )
            .outerjoin(
                RTIF,
                _same_task_instance(RTIF, TI),
            )
            .outerjoin(
                TSS,
                _same_task_instance(TSS, TI, TSS.key == mon.LAST_STATUS_KEY),
            )
            .where(
                TI.state.in_(mon.IN_FLIGHT_STATES),
                TI.operator.in_(list(mon.WAIT_OPERATORS)),
                TI.dag_id.in_(sorted(dag_ids)),
            )
            .order_by(TI.start_date)
            .limit(MAX_WAITS + 1)
        )
        rows = session.execute(query).all()
        own_ids = _waiting_operator_xcoms(session, rows[:MAX_WAITS])
        for r in rows[:MAX_WAITS]:
            row = mon.describe_wait(
                dag_id=r.dag_id,
                run_id=r.run_id,
                task_id=r.task_id,
                map_index=r.map_index,
                state=str(r.state),
                operator=r.operator or "",
                rendered=r.rendered_fields if isinstance(r.rendered_fields, dict) else None,
                since=_as_utc(r.start_date or r.queued_dttm),
                last_status=mon.parse_last_status(r.last_status),
                xcom_ids=own_ids.get((r.dag_id, r.run_id, r.task_id, r.map_index)),
            )
            if row is not None:
                waits.append(row)
        if may_read_assets and any(w.pushed_key for w in waits):
            waits = _with_pushed_statuses(session, waits)
        xcoms = session.execute(
            sa.select(
                XComModel.key,
                XComModel.value,
                XComModel.dag_id,
                XComModel.run_id,
                XComModel.task_id,
                XComModel.map_index,
                XComModel.timestamp,
            )
            .where(XComModel.key.in_(list(mon.CREATED_KEYS)), XComModel.dag_id.in_(sorted(dag_ids)))
            .order_by(XComModel.timestamp.desc())
            .limit(MAX_CREATED)
        ).all()
        for x in xcoms:
            item = mon.describe_created(
                key=x.key,
                value=_xcom_value(x.value),
                dag_id=x.dag_id,
                run_id=x.run_id,
                task_id=x.task_id,
                map_index=x.map_index,
                at=_as_utc(x.timestamp),
            )
            if item is not None:
                created.append(item)
        if may_read_assets:
            events = session.execute(
                sa.select(AssetEvent.timestamp, AssetEvent.extra, AssetModel.uri)
                .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
                .where(AssetModel.uri.like("xportcn://%"))
                .order_by(AssetEvent.id.desc())
                .limit(MAX_MESSAGES)
            ).all()
            messages = []
            for e in events:
                extra = e.extra if isinstance(e.extra, dict) else {}
                obj = extra.get("refund_id") if extra.get("kind") == "refunds" else extra.get("order_id")
                messages.append(
                    {
                        "at": e.timestamp.strftime("%Y-%m-%d %H:%M:%S") if e.timestamp else "—",
                        "uri": e.uri,
                        "type": extra.get("message_type", "—"),
                        "object": obj or "—",
                        "status": extra.get("status") or extra.get("raw_status") or "—",
                        "stale": bool(extra.get("stale")),
                    }
                )
    return waits, mon.first_mentions(created), messages, len(rows) > MAX_WAITS


def _waiting_operator_xcoms(
    session: Any, rows: Sequence[Any]
) -> dict[tuple[str, str, str, int], dict[str, Any]]:
    """The ids a waiting operator pushed before it began to wait, for every such row (one query).

    Filtered on each of the four keys separately (portable, and no query per row), then matched
    exactly here; the rows read are those of these task ids in these runs, so no cap that could
    drop a wanted one (a mapped task's other indexes are the most it over-reads).
    """
    import sqlalchemy as sa
    from airflow.models.xcom import XComModel

    wanted = {
        (r.dag_id, r.run_id, r.task_id, r.map_index) for r in rows if r.operator in mon.WAITING_OPERATORS
    }
    if not wanted:
        return {}
    found: dict[tuple[str, str, str, int], dict[str, Any]] = {}
    xcoms = session.execute(
        sa.select(
            XComModel.dag_id,
            XComModel.run_id,
            XComModel.task_id,
            XComModel.map_index,
            XComModel.key,
            XComModel.value,
        ).where(
            XComModel.key.in_(list(mon.CREATED_KEYS)),
            XComModel.dag_id.in_(sorted({w[0] for w in wanted})),
            XComModel.run_id.in_(sorted({w[1] for w in wanted})),
            XComModel.task_id.in_(sorted({w[2] for w in wanted})),
            XComModel.map_index.in_(sorted({w[3] for w in wanted})),
        )
    ).all()
    for x in xcoms:
        key = (x.dag_id, x.run_id, x.task_id, x.map_index)
        if key in wanted:
            found.setdefault(key, {})[x.key] = _xcom_value(x.value)
    return found


def _with_pushed_statuses(session: Any, waits: list[mon.WaitRow]) -> list[mon.WaitRow]:
    """Each order/refund wait with the newer of its recorded and its newest pushed status.

    One bounded query: the push receiver's events since the oldest such wait began.
    """
    import dataclasses

    import sqlalchemy as sa
    from airflow.models.asset import AssetEvent, AssetModel

    starts = [w.since for w in waits if w.pushed_key and w.since is not None]
    query = (
        sa.select(AssetEvent.timestamp, AssetEvent.extra)
        .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
        .where(AssetModel.uri.like("xportcn://%"))
        .order_by(AssetEvent.id.desc())
        .limit(MAX_PUSHED_STATUSES)
    )
    if starts and len(starts) == sum(1 for w in waits if w.pushed_key):
        query = query.where(AssetEvent.timestamp >= min(starts))
    pushed = mon.pushed_statuses((_as_utc(e.timestamp), e.extra) for e in session.execute(query).all())
    if not pushed:
        return waits
    return [
        dataclasses.replace(w, last_status=mon.newest_status(w.last_status, pushed.get(w.pushed_key)))
        if w.pushed_key in pushed
        else w
        for w in waits
    ]


# --- live status (task tab) ---------------------------------------------------------------------

_live_cache: dict[tuple[str, str, str], tuple[float, dict[str, Any]]] = {}
_live_lock = threading.Lock()


def _client_for(conn_id: str, *, connect: bool = True) -> tuple[Any, str, str]:
    """A read client for the task's connection: (client or ``None``, base URL, console URL)."""
    from dataclasses import replace

    from airflow.models.connection import Connection

    from xportcn_provider.api.client import XportcnClient
    from xportcn_provider.connection import read_connection

    conn = Connection.get_connection_from_secrets(conn_id)
    config = read_connection(conn, conn.extra_dejson)
    settings = replace(config.settings, timeout=LIVE_TIMEOUT_SECONDS, max_retries=0)
    client = XportcnClient(config.credentials, settings) if connect else None
    return client, settings.base_url, config.console_url


def live_status(conn_id: str, obj: mon.LiveObject) -> dict[str, Any]:
    """Read one object now, as its sensor would (cached for :data:`LIVE_CACHE_SECONDS`).

    Read endpoints only; an error becomes a one-line message, never a stack trace.
    """
    from xportcn_provider.api.console import console_link
    from xportcn_provider.api.errors import XportcnError

    result: dict[str, Any] = {"read_at": datetime.now(UTC).strftime("%H:%M:%S"), "cached": False}
    if obj.spec is None:
        try:
            _, base_url, console_url = _client_for(conn_id, connect=False)
            result["base_url"] = base_url
            if obj.console_kind:
                result["console"] = console_link(console_url, obj.console_kind, obj.object_id)
        except Exception as err:
            log.warning("Xportcn tab: connection %r unreadable (%s)", conn_id, type(err).__name__)
        result["note"] = obj.no_read
        return result
    spec = obj.spec
    key = (conn_id, spec.endpoint, json.dumps(dict(spec.body), sort_keys=True, default=str))
    now = time.monotonic()
    with _live_lock:
        cached = _live_cache.get(key)
    if cached is not None and now - cached[0] < LIVE_CACHE_SECONDS:
        return {**cached[1], "cached": True}
    try:
        client, base_url, console_url = _client_for(conn_id)
        result["base_url"] = base_url
        if obj.console_kind:
            result["console"] = console_link(console_url, obj.console_kind, obj.object_id)
        try:
            data = client.call(spec.endpoint, dict(spec.body))
        finally:
            client.close()
        evaluated = spec.evaluate(data)
        result["status"] = spec.observed(data, evaluated)
        if evaluated.reason and evaluated.outcome != "success":
            result["reason"] = evaluated.reason
        record = data if isinstance(data, dict) else {"data": data}
        result["record"] = json.dumps(record, ensure_ascii=False, indent=2, default=str)[:20_000]
    except XportcnError as err:
        result["error"] = f"Could not read {obj.kind} {obj.object_id}: {err.message}"
    except Exception as err:  # never a stack trace on the page
        result["error"] = f"Could not read {obj.kind} {obj.object_id}: {type(err).__name__}"
    with _live_lock:
        _live_cache[key] = (now, result)
    return result


def read_task_objects(dag_id: str, run_id: str, task_id: str, map_index: int) -> dict[str, Any]:
    """The objects one task instance waits on (rendered fields) or created (XCom keys)."""
    import sqlalchemy as sa
    from airflow.models.renderedtifields import RenderedTaskInstanceFields as RTIF
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session(scoped=False) as session:
        ti = session.execute(
            sa.select(TI.operator, TI.state, TI.start_date, RTIF.rendered_fields)
            .outerjoin(
                RTIF,
                _same_task_instance(RTIF, TI),
            )
            .where(TI.dag_id == dag_id, TI.run_id == run_id, TI.task_id == task_id, TI.map_index == map_index)
        ).first()
        if ti is None:
            raise HTTPException(status_code=404, detail="Task instance not found")
        xcoms = session.execute(
            sa.select(XComModel.key, XComModel.value).where(
                XComModel.dag_id == dag_id,
                XComModel.run_id == run_id,
                XComModel.task_id == task_id,
                XComModel.map_index == map_index,
                XComModel.key.in_(list(mon.CREATED_KEYS)),
            )
        ).all()
    rendered = ti.rendered_fields if isinstance(ti.rendered_fields, dict) else {}
    conn_id = str(rendered.get("xportcn_conn_id") or "xportcn_default")
    operator = ti.operator or ""
    xcom_ids = {x.key: _xcom_value(x.value) for x in xcoms}
    wait = mon.describe_wait(
        dag_id=dag_id,
        run_id=run_id,
        task_id=task_id,
        map_index=map_index,
        state=str(ti.state),
        operator=operator,
        rendered=rendered,
        since=None,
        xcom_ids=xcom_ids,
    )
    return {"conn_id": conn_id, "objects": mon.live_objects(wait, xcom_ids, operator=operator)}


# --- routes -------------------------------------------------------------------------------------


def monitor_router() -> APIRouter:
    """``/ui/`` (nav page), ``/ui/task`` (task tab), ``/ui/api/in-flight`` (the same rows as JSON)."""
    router = APIRouter(prefix="/ui")

    async def page_rows(
        user: Any, dag_id: str | None, kind: str | None, hours: float | None
    ) -> dict[str, Any]:
        dag_ids = _readable_dags(user)
        waits, created, messages, truncated = await run_in_threadpool(
            read_page_data, dag_ids, may_read_assets=_may_read_assets(user)
        )
        now = datetime.now(UTC)
        chosen = mon.select_waits(waits, now=now, dag_id=dag_id, kind=kind, older_than_hours=hours)
        return {
            "dag_ids": sorted(dag_ids),
            "waits": chosen,
            "created": created,
            "messages": messages,
            "truncated": truncated,
            "now": now,
        }

    @router.get("/", response_class=HTMLResponse)
    async def nav_page(
        request: Request,
        user: UserDep,
        dag_id: str | None = None,
        kind: str | None = None,
        older_than_hours: str | None = None,
    ) -> HTMLResponse:
        hours = mon.parse_hours(older_than_hours)
        data = await page_rows(user, dag_id or None, kind or None, hours)
        # Connection reads are blocking I/O: done off the event loop, once per connection.
        consoles: dict[str, str | None] = {}
        conn_ids = sorted({w.conn_id for w in data["waits"]})
        await run_in_threadpool(lambda: [_console_base(c, consoles) for c in conn_ids])

        def console(row: mon.WaitRow) -> str | None:
            from xportcn_provider.api.console import console_link

            base = consoles.get(row.conn_id)
            target = row.console_target
            return console_link(base, *target) if base and target else None

        html = PAGE.render(
            style=STYLE,
            user=getattr(user, "get_name", lambda: "?")(),
            now=data["now"].strftime("%Y-%m-%d %H:%M"),
            now_dt=data["now"],
            dag_count=len(data["dag_ids"]),
            dag_ids=data["dag_ids"],
            kinds=mon.KINDS,
            f_dag=dag_id,
            f_kind=kind,
            f_hours=older_than_hours,
            waits=data["waits"],
            truncated=data["truncated"],
            max_waits=MAX_WAITS,
            created=data["created"],
            messages=data["messages"],
            ti_url=_ti_url,
            console=console,
        )
        return HTMLResponse(html)

    @router.get("/api/in-flight")
    async def in_flight(
        user: UserDep,
        dag_id: str | None = None,
        kind: str | None = None,
        older_than_hours: str | None = None,
    ) -> dict[str, Any]:
        data = await page_rows(user, dag_id or None, kind or None, mon.parse_hours(older_than_hours))
        now = data["now"]
        return {
            "waits": [
                {
                    "dag_id": w.dag_id,
                    "run_id": w.run_id,
                    "task_id": w.task_id,
                    "map_index": w.map_index,
                    "state": w.state,
                    "kind": w.kind,
                    "ids": dict(w.ids),
                    "target": w.target,
                    "failure": w.failure,
                    "target_is_default": w.target_is_default,
                    "failure_is_default": w.failure_is_default,
                    "since": w.since.isoformat() if w.since else None,
                    "age_hours": w.age_hours(now),
                    "last_status": w.last_status.stored() if w.last_status else None,
                }
                for w in data["waits"]
            ],
            "created": [
                {
                    "kind": c.kind,
                    "id": c.object_id,
                    "dag_id": c.dag_id,
                    "run_id": c.run_id,
                    "task_id": c.task_id,
                }
                for c in data["created"]
            ],
            "messages": data["messages"],
        }

    @router.get("/task", response_class=HTMLResponse)
    async def task_tab(
        dag_id: str, run_id: str, task_id: str, user: UserDep, map_index: str = "-1"
    ) -> HTMLResponse:
        if dag_id not in _readable_dags(user):
            raise HTTPException(status_code=403, detail="Forbidden")
        # The UI leaves "{MAP_INDEX}" unreplaced for a task that is not mapped.
        index = int(map_index) if map_index.lstrip("-").isdigit() else -1
        found = await run_in_threadpool(read_task_objects, dag_id, run_id, task_id, index)
        objects = []
        base_url = None
        for obj in found["objects"]:
            live = await run_in_threadpool(live_status, found["conn_id"], obj)
            base_url = base_url or live.get("base_url")
            objects.append({"kind": obj.kind, "id": obj.object_id, "source": obj.source, **live})
        html = TAB.render(
            style=STYLE,
            dag_id=dag_id,
            run_id=run_id,
            task_id=task_id,
            map_index=index,
            conn_id=found["conn_id"],
            base_url=base_url,
            objects=objects,
        )
        return HTMLResponse(html)

    return router
