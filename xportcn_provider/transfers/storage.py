"""Where and how order partitions are written: destinations, day partitions, formats, publishing.

Kept apart from the operator so each piece can be tested on its own and reused by other
transfers. Nothing here talks to Xportcn; nothing here touches the network until
:meth:`Destination.publish` is called.

* A **destination** is a folder on any fsspec file system. Schemes Airflow knows
  (``file``, ``s3``, ``gs``, ``abfs``, … — registered by the installed providers) are opened
  through :class:`airflow.sdk.ObjectStoragePath` with the Airflow connection ``storage_conn_id``;
  other schemes fsspec knows (``memory``, ``sftp``, …) are opened by fsspec directly, without a
  connection.
* A **partition** is one UTC day of orders in one object, ``dt=YYYY-MM-DD.<ext>``.
* **Publishing** replaces a partition all at once: on a local disk the encoded file is copied
  next to the target and renamed over it (``os.replace``); on an object store it is one
  ``put_file`` upload, which the store makes visible only when complete (S3 ``PutObject`` or a
  completed multipart upload, GCS's finalised resumable upload, Azure's committed block list).
  A crash before that leaves the previous partition untouched.
* **Formats**: ``jsonl`` (the default), ``jsonl.gz`` (deterministic gzip, so a rerun gives the
  same bytes) and ``parquet`` (optional extra ``parquet`` → pyarrow) with the fixed
  :data:`PARQUET_COLUMNS`. Every format is produced from a local JSON Lines staging file by
  streaming, so memory stays flat in the number of orders.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from xportcn_provider.api.errors import XportcnValidationError
from xportcn_provider.api.waits import MISSING, lookup_path

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

#: Output formats and the extension of their partition objects.
FORMAT_EXTENSIONS: Mapping[str, str] = {"jsonl": "jsonl", "jsonl.gz": "jsonl.gz", "parquet": "parquet"}
ONE_DAY = timedelta(days=1)
#: Rows per parquet row group batch: bounds memory while converting (a few MB at most).
PARQUET_BATCH_ROWS = 1_000

#: The parquet columns, in order: ``(name, Arrow type, meaning)``. Fixed, whatever the server sends;
#: the whole order as received is kept in ``record`` so no field is lost.
PARQUET_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("orderId", "string", "the order id (1688 or Taobao), as a string"),
    ("outOrderId", "string", "the caller's id given at creation, null when absent"),
    ("status", "string", "status as the server spells it (Taobao's numeric codes as text, e.g. '11')"),
    ("sumPayment", "int64", "total paid, in fen; null when absent"),
    ("createTime", "timestamp[ms, tz=UTC]", "creation time"),
    ("platform", "string", "'1688' or 'taobao'"),
    ("record", "string", "the whole order as received, JSON"),
)


def invalid(parameter: str, message: str) -> XportcnValidationError:
    return XportcnValidationError(f"{parameter}: {message}", parameter=parameter)


# --- days and partitions ----------------------------------------------------------------------


def utc_day(moment: datetime) -> datetime:
    """Midnight UTC of the day ``moment`` falls in (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


def partition_days(start: datetime, end: datetime, lookback: timedelta = timedelta(0)) -> list[datetime]:
    """The UTC days whose partitions a run over ``[start, end)`` rewrites, oldest first.

    Every day touched by ``[start - lookback, end)``; an empty interval (a manual run:
    ``end <= start``) means the day ``start`` falls in.
    """
    if lookback < timedelta(0):
        raise invalid("lookback", f"must not be negative, got {lookback}.")
    if end <= start:
        end = utc_day(start) + ONE_DAY
    day, days = utc_day(start - lookback), []
    while day < end:
        days.append(day)
        day += ONE_DAY
    return days


def partition_name(day: datetime, file_format: str) -> str:
    """``dt=YYYY-MM-DD.<ext>``: one object per UTC day."""
    return f"dt={utc_day(day):%Y-%m-%d}.{FORMAT_EXTENSIONS[file_format]}"


# --- destinations ----------------------------------------------------------------------------


def destination_url(value: Any) -> str:
    """The folder URL of ``value`` (a URL string, a local path or an ``ObjectStoragePath``), no I/O.

    ``/data/orders`` → ``file:///data/orders``; a trailing ``/`` is dropped; the connection id an
    ``ObjectStoragePath`` may carry in its URL (``s3://conn@bucket``) is not part of it.
    """
    from airflow.sdk import ObjectStoragePath

    if isinstance(value, ObjectStoragePath):
        protocol = value.protocol or "file"
        path = str(value.path)
    elif isinstance(value, str | os.PathLike):
        text = os.fspath(value).strip()
        if not text:
            raise invalid(
                "destination", "is required: a folder URL such as s3://bucket/orders or a local path."
            )
        if "://" not in text:
            if not os.path.isabs(text):
                raise invalid("destination", f"a local path must be absolute, got {text!r}.")
            protocol, path = "file", os.path.normpath(text)
        else:
            parts = urlsplit(text)
            protocol = parts.scheme.lower()
            if not protocol.replace("+", "").replace("-", "").isalnum():
                raise invalid("destination", f"has no valid URL scheme: {text!r}.")
            netloc = parts.netloc.rpartition("@")[2]
            path = f"{netloc}{parts.path}" if protocol != "file" else parts.path
    else:
        raise invalid(
            "destination", f"must be a URL string or an ObjectStoragePath, got {type(value).__name__}."
        )
    if protocol in ("file", "local"):
        protocol = "file"
        if not path.startswith("/"):
            raise invalid("destination", f"a file:// URL needs an absolute path, got {path!r}.")
        path = "/" + path.strip("/")
    else:
        path = path.strip("/")
        if not path:
            raise invalid("destination", f"{protocol}:// needs a bucket or folder, got nothing.")
    return f"{protocol}://{path}"


def storage_conn_of(value: Any, storage_conn_id: str | None) -> str | None:
    """The Airflow connection for ``value``: ``storage_conn_id``, else one carried by an ObjectStoragePath."""
    from airflow.sdk import ObjectStoragePath

    if storage_conn_id:
        return storage_conn_id
    if isinstance(value, ObjectStoragePath):
        return value.conn_id
    if isinstance(value, str) and "://" in value:
        userinfo = urlsplit(value).netloc.rpartition("@")[0]
        return userinfo or None
    return None


@dataclass(frozen=True)
class Destination:
    """An opened destination folder: its file system, its path there and its URL."""

    fs: AbstractFileSystem
    protocol: str
    path: str
    url: str

    @property
    def is_local(self) -> bool:
        return self.protocol == "file"

    def child_path(self, name: str) -> str:
        return f"{self.path.rstrip('/')}/{name}"

    def child_url(self, name: str) -> str:
        return f"{self.url.rstrip('/')}/{name}"

    def publish(self, local_file: Path, name: str) -> int:
        """Replace the object ``name`` in this folder with ``local_file``, all at once; return its size.

        Local: copy beside the target, then ``os.replace`` (atomic on one file system).
        Elsewhere: one ``put_file`` upload (visible only once complete).
        """
        size = local_file.stat().st_size
        target = self.child_path(name)
        if self.is_local:
            folder = Path(self.path)
            folder.mkdir(parents=True, exist_ok=True)
            staged = folder / f".{name}.{uuid.uuid4().hex}.tmp"
            try:
                shutil.copyfile(local_file, staged)
                os.replace(staged, target)
            finally:
                staged.unlink(missing_ok=True)
        else:
            self.fs.put_file(str(local_file), target)
        return size

    def openlineage_id(self, name: str) -> tuple[str, str]:
        """OpenLineage ``(namespace, name)``: ``file`` + path, or ``<scheme>://<bucket>`` + key."""
        if self.is_local:
            return "file", self.child_path(name)
        bucket, _, key = self.child_path(name).partition("/")
        return f"{self.protocol}://{bucket}", key


def open_destination(value: Any, storage_conn_id: str | None = None) -> Destination:
    """Open ``value`` (see :func:`destination_url`) with Airflow's file systems, else fsspec's.

    No I/O beyond building the file-system object (which may read the Airflow connection).
    Raises :class:`XportcnValidationError` naming ``destination`` or ``storage_conn_id`` when the
    scheme cannot be opened.
    """
    import fsspec
    from airflow.sdk import ObjectStoragePath
    from airflow.sdk.io.fs import has_fs

    url = destination_url(value)
    protocol, path = url.split("://", 1)
    conn_id = storage_conn_of(value, storage_conn_id)
    if protocol == "file":
        fs = fsspec.filesystem("file")
        return Destination(fs=fs, protocol="file", path=path, url=f"file://{path}")
    if has_fs(protocol):
        fs = ObjectStoragePath(url, conn_id=conn_id).fs
    elif protocol in fsspec.available_protocols():
        if conn_id:
            raise invalid(
                "storage_conn_id",
                f"no Airflow file system is registered for {protocol}:// (install the provider that "
                f"brings it), so the connection {conn_id!r} cannot be used.",
            )
        try:
            fs = fsspec.filesystem(protocol)
        except ImportError as err:
            raise invalid(
                "destination", f"{protocol}:// needs a package that is not installed: {err}"
            ) from err
    else:
        raise invalid(
            "destination",
            f"no file system for {protocol}://: install the Airflow provider for it (e.g. "
            "apache-airflow-providers-amazon for s3://, -google for gs://, -microsoft-azure for abfs://).",
        )
    return Destination(fs=fs, protocol=protocol, path=path, url=url)


# --- formats ---------------------------------------------------------------------------------


def check_format(file_format: Any) -> str:
    """The format name, or an error naming ``file_format``; parquet also needs pyarrow installed."""
    if file_format not in FORMAT_EXTENSIONS:
        raise invalid("file_format", f"must be one of {', '.join(FORMAT_EXTENSIONS)}, got {file_format!r}.")
    if file_format == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError as err:
            raise invalid(
                "file_format",
                "parquet needs pyarrow: pip install 'airflow-provider-xportcn[parquet]'.",
            ) from err
    return str(file_format)


def parquet_schema() -> Any:
    """The fixed Arrow schema of :data:`PARQUET_COLUMNS` (needs pyarrow)."""
    import pyarrow as pa

    types = {
        "string": pa.string(),
        "int64": pa.int64(),
        "timestamp[ms, tz=UTC]": pa.timestamp("ms", tz="UTC"),
    }
    return pa.schema([pa.field(name, types[kind]) for name, kind, _ in PARQUET_COLUMNS])


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _fen(value: Any, order_id: str | None) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"order {order_id}: sumPayment must be a number of fen, got {value!r}.")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"order {order_id}: sumPayment must be a number of fen, got {value!r}.") from None
    if not number.is_integer():
        raise ValueError(f"order {order_id}: sumPayment must be whole fen, got {value!r}.")
    return int(number)


def _time(value: Any, order_id: str | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 10**11 else value  # epoch milliseconds or seconds
        return datetime.fromtimestamp(seconds, tz=UTC)
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"order {order_id}: createTime is not an ISO-8601 time: {value!r}.") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parquet_row(
    order: Mapping[str, Any],
    platform: str,
    *,
    id_field: str = "orderId",
    time_field: str = "createTime",
    parse_time: Callable[[Any], datetime | None] | None = None,
) -> dict[str, Any]:
    """One order as a row of :data:`PARQUET_COLUMNS`; a field of the wrong type fails loudly.

    ``id_field``/``time_field`` are the dotted paths of the order's :class:`OrderShape` (the id
    and time may be nested, e.g. ``baseInfo.id``); status and amount are read at the top level,
    else beside the id. ``parse_time`` is the shape's time reader (patterns, zones).
    """

    def field(path: str, beside_id: bool = False) -> Any:
        value = lookup_path(order, path)
        if value is MISSING and beside_id and "." in id_field:
            value = lookup_path(order, id_field.rsplit(".", 1)[0] + "." + path)
        return None if value is MISSING else value

    order_id = _text(field(id_field))
    raw_time = field(time_field)
    if parse_time is not None and raw_time not in (None, ""):
        created = parse_time(raw_time)
        if created is None:
            raise ValueError(f"order {order_id}: {time_field} is not a time: {raw_time!r}.")
    else:
        created = _time(raw_time, order_id)
    return {
        "orderId": order_id,
        "outOrderId": _text(field("outOrderId", beside_id=True)),
        "status": _text(field("status", beside_id=True)),
        "sumPayment": _fen(field("sumPayment", beside_id=True), order_id),
        "createTime": created,
        "platform": platform,
        "record": json.dumps(order, ensure_ascii=False, sort_keys=True),
    }


def _jsonl_rows(source: Path) -> Iterator[dict[str, Any]]:
    with source.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def encode(staged_jsonl: Path, file_format: str, work_dir: Path, *, platform: str, shape: Any = None) -> Path:
    """The partition file in ``file_format``, made from the staged JSON Lines by streaming.

    ``shape`` (an :class:`~xportcn_provider.order_sync.OrderShape`, or ``None`` for the default
    paths) tells parquet where each row keeps its id and creation time.
    """
    if file_format == "jsonl":
        return staged_jsonl
    if file_format == "jsonl.gz":
        target = work_dir / "partition.jsonl.gz"
        # mtime=0 and no file name: a rerun over the same orders gives the same bytes
        with (
            staged_jsonl.open("rb") as src,
            target.open("wb") as raw,
            gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as out,
        ):
            shutil.copyfileobj(src, out)
        return target
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = parquet_schema()
    shape_options: dict[str, Any] = {}
    if shape is not None:
        shape_options = {
            "id_field": shape.id_field,
            "time_field": shape.time_field,
            "parse_time": shape.parse_time,
        }
    target = work_dir / "partition.parquet"
    with pq.ParquetWriter(target, schema) as writer:
        batch: list[dict[str, Any]] = []
        for order in _jsonl_rows(staged_jsonl):
            batch.append(parquet_row(order, platform, **shape_options))
            if len(batch) >= PARQUET_BATCH_ROWS:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                batch = []
        if batch:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
    # an empty day still gets a file with the schema (ParquetWriter writes it on close)
    return target


def read_partition(path: str, storage_conn_id: str | None = None) -> Iterator[dict[str, Any]]:
    """The orders of one partition object (``.jsonl``, ``.jsonl.gz`` or ``.parquet``), streaming.

    For DAGs downstream of the transfer's Asset: ``path`` and ``storage_conn_id`` are in each
    asset event's ``extra``. Parquet rows come back as the orders as received (``record``).
    """
    folder, _, name = path.rstrip("/").rpartition("/")
    destination = open_destination(folder, storage_conn_id)
    with destination.fs.open(destination.child_path(name), "rb") as raw:
        if name.endswith(".parquet"):
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(raw).iter_batches(columns=["record"], batch_size=PARQUET_BATCH_ROWS):
                for record in batch.column(0).to_pylist():
                    yield json.loads(record)
            return
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if name.endswith(".gz") else raw
        for line in stream:
            if line.strip():
                yield json.loads(line)
