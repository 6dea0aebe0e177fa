"""``XportcnOrdersToStorageOperator`` against the sandbox over real HTTP, into real fsspec file systems.

Local ``file://``, fsspec's ``memory://`` and a real S3 API (moto's server mode, opened through the
Amazon provider's ``s3`` file system and an Airflow ``aws`` connection). Each run is the operator's
own ``execute`` with the context keys Airflow gives it; the example DAG test runs it in a DAG run.
"""

from __future__ import annotations

import gzip
import io
import json
import socket
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fsspec
import pytest

from xportcn_provider.api.errors import XportcnProtocolError, XportcnValidationError
from xportcn_provider.sandbox.handle import SandboxHandle
from xportcn_provider.transfers import XportcnOrdersToStorageOperator
from xportcn_provider.transfers.storage import PARQUET_COLUMNS, read_partition

DAY = datetime(2026, 11, 20, tzinfo=UTC)
TAOBAO_ITEMS = [{"itemId": "712345678901", "skuId": "5012345678", "quantity": 1}]
ADDRESS = {"name": "李四", "mobile": "13900000000", "address": "上海市浦东新区"}


def _context(start: datetime, end: datetime | None = None) -> dict[str, Any]:
    from airflow.sdk.execution_time.context import OutletEventAccessors

    return {
        "data_interval_start": start,
        "data_interval_end": end or start + timedelta(days=1),
        "outlet_events": OutletEventAccessors(),
    }


def _run(op: XportcnOrdersToStorageOperator, start: datetime = DAY, **context: Any) -> dict[str, Any]:
    ctx = _context(start)
    ctx.update(context)
    result = op.execute(ctx)  # type: ignore[arg-type]
    op.last_context = ctx  # type: ignore[attr-defined]
    return result


def _operator(destination: Any, **kwargs: Any) -> XportcnOrdersToStorageOperator:
    return XportcnOrdersToStorageOperator(
        task_id=f"sync_{uuid.uuid4().hex[:8]}", destination=destination, **kwargs
    )


def _read(url: str) -> bytes:
    with fsspec.open(url, "rb") as handle:
        return handle.read()  # type: ignore[no-any-return]


def _jsonl_rows(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode().splitlines() if line.strip()]


@pytest.fixture
def seeded(xportcn_default_conn: SandboxHandle) -> SandboxHandle:
    """30 orders an hour apart from DAY 00:00: 24 on DAY, 6 on the next day."""
    xportcn_default_conn.control.seed_orders(30, start=DAY.isoformat(), step_seconds=3600)
    return xportcn_default_conn


@pytest.fixture
def memory_root() -> Iterator[str]:
    root = f"memory://xportcn-test-{uuid.uuid4().hex}/orders"
    yield root
    fsspec.filesystem("memory").rm(root.removeprefix("memory://").split("/")[0], recursive=True)


# --- local files ------------------------------------------------------------------------------


def test_a_day_into_a_local_folder_and_a_rerun_gives_the_same_bytes(
    seeded: SandboxHandle, tmp_path: Path
) -> None:
    op = _operator(f"file://{tmp_path}/orders", page_size=7)
    first = _run(op)
    target = tmp_path / "orders" / "dt=2026-11-20.jsonl"
    content = target.read_bytes()
    rows = _jsonl_rows(content)
    assert len(rows) == len({r["orderId"] for r in rows}) == 24
    assert {"orderId", "outOrderId", "status", "sumPayment", "createTime"} <= set(rows[0])
    assert first["orders"] == 24 and first["by_status"] == {"waitbuyerpay": 24}
    assert first["interval"] == ["2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z"]
    assert first["partitions"] == [
        {
            "dt": "2026-11-20",
            "path": f"file://{target}",
            "orders": 24,
            "by_status": {"waitbuyerpay": 24},
            "bytes": len(content),
            "interval": ["2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z"],
        }
    ]
    second = _run(op)  # the rerun replaces, never appends
    assert target.read_bytes() == content
    assert second == first
    assert sorted(p.name for p in (tmp_path / "orders").iterdir()) == ["dt=2026-11-20.jsonl"]


def test_lookback_rewrites_earlier_days_and_catches_a_status_change(
    seeded: SandboxHandle, tmp_path: Path
) -> None:
    op = _operator(str(tmp_path), lookback=timedelta(days=1))
    _run(op, DAY + timedelta(days=1))  # day 21's run also rewrites day 20
    day20 = tmp_path / "dt=2026-11-20.jsonl"
    order_id = _jsonl_rows(day20.read_bytes())[0]["orderId"]
    seeded.control.force("order", order_id, "cancel", hold=True)  # changed after its creation day

    result = _run(op, DAY + timedelta(days=1))
    assert [p["dt"] for p in result["partitions"]] == ["2026-11-20", "2026-11-21"]
    assert [p["orders"] for p in result["partitions"]] == [24, 6]
    assert result["by_status"] == {"cancel": 1, "waitbuyerpay": 29}
    statuses = {r["orderId"]: r["status"] for r in _jsonl_rows(day20.read_bytes())}
    assert statuses[order_id] == "cancel" and len(statuses) == 24
    assert len(_jsonl_rows((tmp_path / "dt=2026-11-21.jsonl").read_bytes())) == 6


def test_lookback_as_days_text_from_a_param(seeded: SandboxHandle, tmp_path: Path) -> None:
    op = _operator(str(tmp_path), lookback="2")
    result = _run(op, DAY + timedelta(days=1))
    assert [p["dt"] for p in result["partitions"]] == ["2026-11-19", "2026-11-20", "2026-11-21"]
    assert [p["orders"] for p in result["partitions"]] == [0, 24, 6]
    assert (tmp_path / "dt=2026-11-19.jsonl").read_bytes() == b""  # an empty day is an empty partition


def test_one_log_line_per_partition(
    seeded: SandboxHandle,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO")
    _run(_operator(str(tmp_path), lookback=1), DAY + timedelta(days=1))
    output = capsys.readouterr().out + caplog.text  # Airflow's structlog writes to stdout
    lines = [line for line in output.splitlines() if "Xportcn 1688 orders 2026-11-" in line]
    assert len(lines) == 2, output
    assert "orders 2026-11-21: 6 orders -> file://" in lines[1] and "{'waitbuyerpay': 6}" in lines[1]


# --- crash safety -----------------------------------------------------------------------------


class InjectedCrash(RuntimeError):
    pass


def _crash_after_pages(op: XportcnOrdersToStorageOperator, pages: int, page_size: int) -> None:
    """Make the hook's paginator die once ``pages`` pages have been read (a worker crash mid-write)."""
    real = op.hook.paginate

    def dying(name: str, payload: Any = None, **kwargs: Any) -> Iterator[Any]:
        for index, item in enumerate(real(name, payload, **kwargs)):
            if index == pages * page_size:
                raise InjectedCrash(f"injected after {pages} pages")
            yield item

    op.hook.paginate = dying  # type: ignore[method-assign]


def _crash_keeps_old_partition(root: str, read: Callable[[str], bytes], file_format: str = "jsonl") -> None:
    op = _operator(root, page_size=6, file_format=file_format)
    result = _run(op)
    url = result["partitions"][0]["path"]
    before = read(url)
    assert before
    crashing = _operator(root, page_size=6, file_format=file_format)
    _crash_after_pages(crashing, 2, 6)  # 24 orders = 4 pages; dies reading the third
    with pytest.raises(InjectedCrash):
        _run(crashing)
    assert read(url) == before


def test_a_crash_mid_write_leaves_the_local_partition_intact(seeded: SandboxHandle, tmp_path: Path) -> None:
    _crash_keeps_old_partition(f"file://{tmp_path}", _read)
    assert [p.name for p in tmp_path.iterdir()] == ["dt=2026-11-20.jsonl"]  # no temp file left behind


def test_a_crash_mid_write_leaves_the_memory_partition_intact(
    seeded: SandboxHandle, memory_root: str
) -> None:
    _crash_keeps_old_partition(memory_root, _read, "jsonl.gz")


# --- memory:// and formats --------------------------------------------------------------------


def test_jsonl_gz_into_memory(seeded: SandboxHandle, memory_root: str) -> None:
    result = _run(_operator(memory_root, file_format="jsonl.gz"))
    assert result["partitions"][0]["path"] == f"{memory_root}/dt=2026-11-20.jsonl.gz"
    rows = _jsonl_rows(gzip.decompress(_read(result["partitions"][0]["path"])))
    assert len({r["orderId"] for r in rows}) == 24
    assert list(read_partition(result["partitions"][0]["path"])) == rows


def test_parquet_into_memory_round_trips_with_the_documented_schema(
    seeded: SandboxHandle, memory_root: str
) -> None:
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow (the parquet extra) is not installed")
    result = _run(
        _operator(memory_root, file_format="parquet", lookback=timedelta(days=1)), DAY + timedelta(days=1)
    )
    table = pq.read_table(io.BytesIO(_read(f"{memory_root}/dt=2026-11-20.parquet")))
    assert [(f.name, str(f.type)) for f in table.schema] == [(n, t) for n, t, _ in PARQUET_COLUMNS]
    rows = table.to_pylist()
    assert len(rows) == len({r["orderId"] for r in rows}) == 24
    assert all(DAY <= r["createTime"] < DAY + timedelta(days=1) for r in rows)
    assert all(r["platform"] == "1688" and isinstance(r["sumPayment"], int) for r in rows)
    assert json.loads(rows[0]["record"])["orderId"] == rows[0]["orderId"]
    assert result["partitions"][1]["path"].endswith("dt=2026-11-21.parquet")
    assert list(read_partition(result["partitions"][0]["path"])) == [json.loads(r["record"]) for r in rows]


# --- a service that answers in another shape (issue 11's variants) ---------------------------


def test_nested_ids_and_local_times_with_an_order_shape(seeded: SandboxHandle, memory_root: str) -> None:
    """1688's own list shape (``baseInfo.id``) and China-time filters: keyed and typed right, or no run."""
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow (the parquet extra) is not installed")
    seeded.control.set_variants("nested_ids", "local_time_only", "inclusive_end")
    shape = {
        "id_field": "baseInfo.id",
        "time_field": "baseInfo.createTime",
        "time_format": "%Y-%m-%d %H:%M:%S",
        "time_zone": "Asia/Shanghai",
    }
    result = _run(_operator(memory_root, file_format="parquet", order_shape=shape, page_size=7))
    assert result["orders"] == 24 and result["by_status"] == {"waitbuyerpay": 24}
    rows = pq.read_table(io.BytesIO(_read(f"{memory_root}/dt=2026-11-20.parquet"))).to_pylist()
    assert len({r["orderId"] for r in rows}) == 24 and None not in {r["orderId"] for r in rows}
    assert all(DAY <= r["createTime"] < DAY + timedelta(days=1) for r in rows)
    assert {r["status"] for r in rows} == {"waitbuyerpay"} and all(r["sumPayment"] for r in rows)

    with pytest.raises(XportcnProtocolError, match="orderId"):  # the default shape cannot key these rows
        _run(_operator(memory_root, file_format="parquet"))


def test_a_bad_order_shape_fails_before_any_call(xportcn_default_conn: SandboxHandle, tmp_path: Path) -> None:
    xportcn_default_conn.control.clear_calls()
    with pytest.raises(XportcnValidationError) as caught:
        _run(_operator(str(tmp_path), order_shape={"id_field": "baseInfo.id", "colour": "red"}))
    assert caught.value.parameter == "order_shape"
    with pytest.raises(XportcnValidationError) as caught:
        _run(_operator(str(tmp_path), order_shape={"time_zone": "Mars/Olympus"}))
    assert caught.value.parameter == "time_zone"
    assert xportcn_default_conn.control.calls() == []


# --- Taobao -----------------------------------------------------------------------------------


def test_taobao_orders(xportcn_default_conn: SandboxHandle, tmp_path: Path) -> None:
    from xportcn_provider.hooks.xportcn import XportcnHook

    hook = XportcnHook()
    created = [
        hook.taobao_order_create(items=TAOBAO_ITEMS, address=ADDRESS, out_order_id=f"tb-sync-{i}")["orderId"]
        for i in range(3)
    ]
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    result = _run(_operator(str(tmp_path), platform="taobao", page_size=2), today)
    rows = _jsonl_rows((tmp_path / f"dt={today:%Y-%m-%d}.jsonl").read_bytes())
    assert sorted(str(r["orderId"]) for r in rows) == sorted(str(c) for c in created)
    assert result["platform"] == "taobao" and result["orders"] == 3
    calls = xportcn_default_conn.control.calls("taobao_order_list")
    assert calls and not xportcn_default_conn.control.calls("order_list")


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"destination": "relative/orders"}, "destination"),
        ({"destination": "nosuch://bucket/orders", "asset": False}, "destination"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": 501}, "page_size"),
        ({"lookback": "-1"}, "lookback"),
        ({"lookback": "a week"}, "lookback"),
    ],
)
def test_bad_input_fails_before_any_call(
    xportcn_default_conn: SandboxHandle, tmp_path: Path, kwargs: dict[str, Any], parameter: str
) -> None:
    options: dict[str, Any] = {"destination": str(tmp_path), **kwargs}
    xportcn_default_conn.control.clear_calls()
    with pytest.raises(XportcnValidationError) as caught:
        _run(_operator(**options))
    assert caught.value.parameter == parameter
    assert xportcn_default_conn.control.calls() == []


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"platform": "amazon"}, "platform"),
        ({"file_format": "csv"}, "file_format"),
        ({"destination": "s3://b/{{ ds }}"}, "asset"),
        ({"asset": "yes"}, "asset"),
    ],
)
def test_bad_arguments_fail_when_the_dag_is_parsed(kwargs: dict[str, Any], needle: str) -> None:
    options: dict[str, Any] = {"destination": "/data/orders", **kwargs}
    with pytest.raises(XportcnValidationError, match=needle):
        _operator(**options)


# --- assets and lineage -----------------------------------------------------------------------


def test_the_destination_is_an_outlet_asset_and_its_event_says_what_was_written(
    seeded: SandboxHandle, tmp_path: Path
) -> None:
    from airflow.sdk import Asset

    op = _operator(f"{tmp_path}/orders/")
    assert op.outlets == [Asset(uri=f"file://{tmp_path}/orders")]
    _run(op)
    extra = op.last_context["outlet_events"][op.outlets[0]].extra  # type: ignore[attr-defined]
    assert extra == {
        "destination": f"file://{tmp_path}/orders",
        "storage_conn_id": None,
        "format": "jsonl",
        "platform": "1688",
        "partitions": [
            {"dt": "2026-11-20", "path": f"file://{tmp_path}/orders/dt=2026-11-20.jsonl", "orders": 24}
        ],
        "orders": 24,
    }
    from xportcn_provider.assets import order_partitions

    assert order_partitions(f"file://{tmp_path}/orders") == op.outlets[0]  # what downstream DAGs schedule on
    assert order_partitions("s3://aws_default@bucket/orders/") == Asset(uri="s3://bucket/orders")
    templated = Asset(name="xportcn_orders", uri="s3://bucket/orders")
    assert _operator("{{ params.path }}", asset=templated).outlets == [templated]
    assert _operator(str(tmp_path), asset=False).outlets == []


def test_reads_and_writes_reach_the_hook_lineage_collector(
    seeded: SandboxHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import airflow.sdk.lineage as lineage

    collector = lineage.HookLineageCollector()
    monkeypatch.setattr(lineage, "get_hook_lineage_collector", lambda: collector)
    op = _operator(str(tmp_path), lookback=1)
    _run(op, DAY + timedelta(days=1))
    collected = collector.collected_assets
    assert [i.asset.uri for i in collected.inputs] == [f"{seeded.url.rstrip('/')}/alibaba/ka/order/list"]
    assert all(i.context is op.hook for i in collected.inputs)
    assert sorted(o.asset.uri for o in collected.outputs) == [
        f"file://{tmp_path}/dt=2026-11-20.jsonl",
        f"file://{tmp_path}/dt=2026-11-21.jsonl",
    ]


def test_openlineage_facets_on_complete(seeded: SandboxHandle, memory_root: str) -> None:
    pytest.importorskip(
        "airflow.providers.openlineage", reason="apache-airflow-providers-openlineage is missing"
    )
    op = _operator(memory_root, file_format="parquet", lookback=1)
    assert op.get_openlineage_facets_on_complete(None).outputs == []  # nothing written yet: nothing claimed
    _run(op, DAY + timedelta(days=1))
    lineage = op.get_openlineage_facets_on_complete(None)

    (source,) = lineage.inputs
    sandbox = seeded.url.split("://", 1)[1].split("/", 1)
    assert (source.namespace, source.name) == (
        f"http://{sandbox[0]}",
        f"/{sandbox[1].rstrip('/')}/alibaba/ka/order/list",
    )
    assert source.inputFacets["inputStatistics"].rowCount == 30

    bucket = memory_root.removeprefix("memory://").split("/")[0]
    assert [(o.namespace, o.name) for o in lineage.outputs] == [
        (f"memory://{bucket}", "orders/dt=2026-11-20.parquet"),
        (f"memory://{bucket}", "orders/dt=2026-11-21.parquet"),
    ]
    stats = [o.outputFacets["outputStatistics"] for o in lineage.outputs]
    assert [s.rowCount for s in stats] == [24, 6]
    assert all(s.size and s.size > 0 for s in stats)
    fields = lineage.outputs[0].facets["schema"].fields
    assert [(f.name, f.type) for f in fields] == [(n, t) for n, t, _ in PARQUET_COLUMNS]

    # and the OpenLineage provider's own extractor finds and uses the method
    from airflow.providers.openlineage.extractors.manager import ExtractorManager

    extractor = ExtractorManager()._get_extractor(op)
    assert type(extractor).__name__ == "DefaultExtractor"
    via_provider = extractor.extract_on_complete(None)
    assert [(d.namespace, d.name) for d in via_provider.inputs] == [(source.namespace, source.name)]
    assert [o.outputFacets["outputStatistics"].rowCount for o in via_provider.outputs] == [24, 6]


# --- a real S3 API ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def s3_conn(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """A moto S3 server on a free port, an Airflow ``aws`` connection to it, and an empty bucket."""
    server_mod = pytest.importorskip("moto.server", reason="moto[server] (dev extra) is not installed")
    pytest.importorskip("s3fs", reason="s3fs (dev extra) is not installed")
    pytest.importorskip("airflow.providers.amazon", reason="apache-airflow-providers-amazon is not installed")
    import boto3

    port = _free_port()
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    conn = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
    }
    # a new connection id per server: Airflow caches one file system per (scheme, connection)
    conn_id = f"xportcn_s3_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    bucket = f"xportcn-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=bucket)
    try:
        yield conn_id, bucket
    finally:
        client.close()
        server.stop()


def _s3_reader(conn_id: str) -> Callable[[str], bytes]:
    from airflow.sdk import ObjectStoragePath

    return lambda url: ObjectStoragePath(url, conn_id=conn_id).read_bytes()


def test_s3_through_an_airflow_connection(seeded: SandboxHandle, s3_conn: tuple[str, str]) -> None:
    conn_id, bucket = s3_conn
    op = _operator(f"s3://{bucket}/xportcn/orders", storage_conn_id=conn_id, lookback=1)
    first = _run(op, DAY + timedelta(days=1))
    read = _s3_reader(conn_id)
    day20 = f"s3://{bucket}/xportcn/orders/dt=2026-11-20.jsonl"
    assert [p["path"] for p in first["partitions"]] == [day20, day20.replace("20.jsonl", "21.jsonl")]
    content = read(day20)
    assert len({r["orderId"] for r in _jsonl_rows(content)}) == 24
    assert _run(op, DAY + timedelta(days=1)) == first  # rerun: same objects, same content
    assert read(day20) == content
    assert list(read_partition(day20, conn_id)) == _jsonl_rows(content)

    from airflow.sdk import ObjectStoragePath

    listed = sorted(
        p.name for p in ObjectStoragePath(f"s3://{bucket}/xportcn/orders", conn_id=conn_id).iterdir()
    )
    assert listed == ["dt=2026-11-20.jsonl", "dt=2026-11-21.jsonl"]


def test_s3_parquet_and_a_crash_mid_write(seeded: SandboxHandle, s3_conn: tuple[str, str]) -> None:
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow (the parquet extra) is not installed")
    conn_id, bucket = s3_conn
    root = f"s3://{conn_id}@{bucket}/parquet"  # the connection may also ride in the URL
    _crash_keeps_old_partition(root, _s3_reader(conn_id), "parquet")
    table = pq.read_table(io.BytesIO(_s3_reader(conn_id)(f"s3://{bucket}/parquet/dt=2026-11-20.parquet")))
    assert table.num_rows == 24 and table.schema.names == [n for n, _, _ in PARQUET_COLUMNS]
