"""The pieces of the orders-to-storage transfer that need no Xportcn: days, URLs, formats, publishing."""

from __future__ import annotations

import gzip
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import fsspec
import pytest

from xportcn_provider.api.errors import XportcnValidationError
from xportcn_provider.transfers.storage import (
    PARQUET_COLUMNS,
    destination_url,
    encode,
    open_destination,
    parquet_row,
    partition_days,
    partition_name,
)

DAY = datetime(2026, 11, 20, tzinfo=UTC)
ORDERS = [
    {"orderId": "2618000000000000001", "outOrderId": "seed-1", "status": "waitbuyerpay", "sumPayment": 6400,
     "createTime": "2026-11-20T01:00:00Z", "extraField": {"nested": "值"}},
    {"orderId": "2618000000000000002", "outOrderId": None, "status": "success", "sumPayment": 100,
     "createTime": "2026-11-20T23:59:59Z"},
]  # fmt: skip


def _staged(tmp_path: Path, orders: list[dict[str, object]] = ORDERS) -> Path:
    path = tmp_path / "orders.jsonl"
    path.write_text("".join(json.dumps(o, ensure_ascii=False, sort_keys=True) + "\n" for o in orders))
    return path


# --- days -------------------------------------------------------------------------------------


def test_a_daily_interval_is_one_partition() -> None:
    assert partition_days(DAY, DAY + timedelta(days=1)) == [DAY]


def test_lookback_adds_the_preceding_days_oldest_first() -> None:
    days = partition_days(DAY, DAY + timedelta(days=1), timedelta(days=2))
    assert days == [DAY - timedelta(days=2), DAY - timedelta(days=1), DAY]


def test_an_empty_interval_is_the_day_it_names_and_hours_round_to_days() -> None:
    at = DAY + timedelta(hours=13)
    assert partition_days(at, at) == [DAY]
    assert partition_days(DAY + timedelta(hours=22), DAY + timedelta(hours=26)) == [
        DAY,
        DAY + timedelta(days=1),
    ]


def test_negative_lookback_is_refused() -> None:
    with pytest.raises(XportcnValidationError, match="lookback"):
        partition_days(DAY, DAY + timedelta(days=1), timedelta(days=-1))


def test_partition_names() -> None:
    assert partition_name(DAY + timedelta(hours=5), "jsonl") == "dt=2026-11-20.jsonl"
    assert partition_name(DAY, "jsonl.gz") == "dt=2026-11-20.jsonl.gz"
    assert partition_name(DAY, "parquet") == "dt=2026-11-20.parquet"


# --- destinations -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "url"),
    [
        ("/data/orders/", "file:///data/orders"),
        ("file:///data/orders", "file:///data/orders"),
        ("s3://bucket/prefix/orders/", "s3://bucket/prefix/orders"),
        ("s3://aws_default@bucket/orders", "s3://bucket/orders"),
        ("memory://scratch/orders", "memory://scratch/orders"),
        ("gs://bucket", "gs://bucket"),
    ],
)
def test_destination_urls(value: str, url: str) -> None:
    assert destination_url(value) == url


def test_object_storage_path_destination_keeps_its_connection_out_of_the_url() -> None:
    from airflow.sdk import ObjectStoragePath

    assert destination_url(ObjectStoragePath("s3://my_conn@bucket/orders")) == "s3://bucket/orders"


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("", "required"),
        ("orders/", "absolute"),
        ("s3://", "bucket"),
        (42, "URL string"),
        ("nosuch://x/y", "no file"),
    ],
)
def test_bad_destinations_name_the_parameter(value: object, needle: str) -> None:
    with pytest.raises(XportcnValidationError, match=needle) as caught:
        open_destination(value)
    assert caught.value.parameter == "destination"


def test_a_connection_for_a_scheme_airflow_cannot_open_is_refused() -> None:
    with pytest.raises(XportcnValidationError, match="memory") as caught:
        open_destination("memory://x/orders", "some_conn")
    assert caught.value.parameter == "storage_conn_id"


# --- publishing -------------------------------------------------------------------------------


def test_local_publish_replaces_the_object_and_leaves_no_temp_file(tmp_path: Path) -> None:
    dest = open_destination(str(tmp_path / "out"))
    first = tmp_path / "a"
    first.write_text("old\n")
    dest.publish(first, "dt=2026-11-20.jsonl")
    second = tmp_path / "b"
    second.write_text("new\n")
    assert dest.publish(second, "dt=2026-11-20.jsonl") == 4
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["dt=2026-11-20.jsonl"]
    assert (tmp_path / "out" / "dt=2026-11-20.jsonl").read_text() == "new\n"
    assert dest.child_url("x") == f"file://{tmp_path}/out/x"
    assert dest.openlineage_id("x") == ("file", f"{tmp_path}/out/x")


def test_memory_publish_through_fsspec(tmp_path: Path) -> None:
    root = f"memory://unit-{uuid.uuid4().hex}/orders"
    dest = open_destination(root)
    staged = _staged(tmp_path)
    dest.publish(staged, "dt=2026-11-20.jsonl")
    with fsspec.open(f"{root}/dt=2026-11-20.jsonl", "rb") as handle:
        assert handle.read() == staged.read_bytes()
    namespace, name = dest.openlineage_id("dt=2026-11-20.jsonl")
    assert namespace.startswith("memory://unit-") and name == "orders/dt=2026-11-20.jsonl"


# --- formats ----------------------------------------------------------------------------------


def test_jsonl_gz_is_the_same_rows_and_deterministic(tmp_path: Path) -> None:
    staged = _staged(tmp_path)
    first = encode(staged, "jsonl.gz", tmp_path, platform="1688").read_bytes()
    second = encode(staged, "jsonl.gz", tmp_path, platform="1688").read_bytes()
    assert first == second
    assert gzip.decompress(first) == staged.read_bytes()


def test_parquet_round_trips_with_the_documented_schema(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow (the parquet extra) is not installed")
    table = pq.read_table(encode(_staged(tmp_path), "parquet", tmp_path, platform="1688"))
    assert [(f.name, str(f.type)) for f in table.schema] == [
        (name, kind) for name, kind, _ in PARQUET_COLUMNS
    ]
    rows = table.to_pylist()
    assert [r["orderId"] for r in rows] == ["2618000000000000001", "2618000000000000002"]
    assert rows[0]["sumPayment"] == 6400 and rows[0]["platform"] == "1688"
    assert rows[0]["createTime"] == datetime(2026, 11, 20, 1, tzinfo=UTC)
    assert rows[1]["outOrderId"] is None
    assert json.loads(rows[0]["record"]) == ORDERS[0]


def test_an_empty_day_is_a_parquet_file_with_the_schema(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow (the parquet extra) is not installed")
    table = pq.read_table(encode(_staged(tmp_path, []), "parquet", tmp_path, platform="taobao"))
    assert table.num_rows == 0 and table.schema.names == [name for name, _, _ in PARQUET_COLUMNS]


def test_parquet_rows_take_taobao_codes_and_epoch_times_and_refuse_wrong_types() -> None:
    row = parquet_row(
        {"orderId": 31, "status": 11, "sumPayment": "900", "createTime": 1_763_600_000_000}, "taobao"
    )
    assert row["orderId"] == "31" and row["status"] == "11" and row["sumPayment"] == 900
    assert row["createTime"] == datetime.fromtimestamp(1_763_600_000, tz=UTC)
    with pytest.raises(ValueError, match="sumPayment"):
        parquet_row({"orderId": "1", "sumPayment": "12.5"}, "1688")
    with pytest.raises(ValueError, match="createTime"):
        parquet_row({"orderId": "1", "createTime": "yesterday"}, "1688")


def test_the_documented_parquet_columns_are_the_real_ones() -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs" / "operators.md").read_text()
    section = doc.split("**Parquet columns**", 1)[1].split("\n\n", 2)[1]
    rows = [line.split("|")[1:3] for line in section.splitlines()[2:]]
    documented = [(name.strip().strip("`"), kind.strip().strip("`")) for name, kind in rows]
    assert documented == [(name, kind) for name, kind, _ in PARQUET_COLUMNS]
