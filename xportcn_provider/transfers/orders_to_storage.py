"""``XportcnOrdersToStorageOperator``: a run's orders into any object store, one partition per UTC day.

The orders of each day are read and keyed by :func:`xportcn_provider.order_sync.write_order_partition`
(through ``XportcnHook.iter_orders`` / ``XportcnHook.paginate``: the same paging, keying and
window checks as every other order read) into a local JSON Lines staging file, one page in
memory at a time; the file is then encoded (jsonl, jsonl.gz, parquet) and published as one
object that replaces the day's partition all at once (:mod:`xportcn_provider.transfers.storage`).
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.sdk import Asset, BaseOperator

from xportcn_provider.api.endpoints import resolve
from xportcn_provider.order_sync import iso_utc, write_order_partition
from xportcn_provider.transfers.storage import (
    FORMAT_EXTENSIONS,
    ONE_DAY,
    Destination,
    check_format,
    destination_url,
    encode,
    invalid,
    open_destination,
    partition_days,
    partition_name,
    storage_conn_of,
)

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

    from xportcn_provider.hooks.xportcn import XportcnHook
    from xportcn_provider.order_sync import OrderShape

#: The list endpoint read for each platform.
LIST_ENDPOINTS: Mapping[str, str] = {"1688": "order_list", "taobao": "taobao_order_list"}
MAX_PAGE_SIZE = 500


class TaobaoOrderSource:
    """Taobao orders in the shape :func:`write_order_partition` reads (``iter_orders``).

    Pages ``taobao_order_list`` with the hook's paginator, filtered by creation time.
    """

    def __init__(self, hook: XportcnHook) -> None:
        self.hook = hook

    def iter_orders(
        self,
        *,
        status: str | None = None,
        create_start_time: str | None = None,
        create_end_time: str | None = None,
        out_order_id: str | None = None,
        page_size: int = 50,
        extra: Mapping[str, Any] | None = None,
    ) -> Iterator[Any]:
        filters = {
            "status": status,
            "createStartTime": create_start_time,
            "createEndTime": create_end_time,
            "outOrderId": out_order_id,
            **(extra or {}),
        }
        payload = {key: value for key, value in filters.items() if value is not None}
        return self.hook.paginate("taobao_order_list", payload, page_size=page_size)


def _is_templated(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def _lookback_of(value: Any) -> timedelta:
    """A ``timedelta``, or a number of days (an int, a float or their text, e.g. a rendered Param)."""
    if isinstance(value, timedelta):
        days = value
    elif isinstance(value, bool) or value is None:
        raise invalid("lookback", f"must be a timedelta or a number of days, got {value!r}.")
    elif isinstance(value, int | float) or (isinstance(value, str) and value.strip()):
        try:
            days = timedelta(days=float(value))
        except ValueError:
            raise invalid("lookback", f"must be a timedelta or a number of days, got {value!r}.") from None
    else:
        raise invalid("lookback", f"must be a timedelta or a number of days, got {value!r}.")
    if days < timedelta(0):
        raise invalid("lookback", f"must not be negative, got {value!r}.")
    return days


SHAPE_FIELDS = ("id_field", "time_field", "time_format", "time_zone")


def _order_shape_of(value: Any) -> OrderShape | None:
    """``None``, an ``OrderShape``, or one built from a (rendered) dict of its fields."""
    if value is None:
        return None
    from xportcn_provider.order_sync import OrderShape

    if isinstance(value, OrderShape):
        return value
    if not isinstance(value, Mapping):
        raise invalid("order_shape", f"must be an OrderShape or a dict, got {type(value).__name__}.")
    unknown = sorted(set(value) - set(SHAPE_FIELDS))
    if unknown:
        raise invalid("order_shape", f"unknown keys {unknown}; valid: {', '.join(SHAPE_FIELDS)}.")
    return OrderShape(**{key: item for key, item in value.items() if item not in (None, "")})


def _page_size_of(value: Any) -> int:
    text = str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE_SIZE:
        raise invalid("page_size", f"must be a whole number from 1 to {MAX_PAGE_SIZE}, got {value!r}.")
    return int(text)


class XportcnOrdersToStorageOperator(BaseOperator):
    """Write the run's orders under ``destination``, one partition object per UTC day.

    Each run rewrites the partition ``dt=YYYY-MM-DD.<ext>`` of every UTC day in
    ``[data_interval_start - lookback, data_interval_end)`` with the orders **created** that day,
    as the server lists them now (so ``lookback`` catches status changes made after creation). A
    rerun replaces its partitions (no duplicate rows); a failure leaves the previous partitions
    intact. Memory stays flat in the number of orders (one page, one parquet batch).

    :param destination: the folder, as a URL (``file:///data/xportcn``, ``s3://bucket/orders``,
        ``gs://…``, ``abfs://…``, ``memory://…``), an absolute local path, or an
        ``airflow.sdk.ObjectStoragePath``. Templated.
    :param storage_conn_id: the Airflow connection of the object store (e.g. ``aws_default``);
        ``None`` uses the file system's default credentials. Templated.
    :param platform: ``"1688"`` (``order_list``, default) or ``"taobao"`` (``taobao_order_list``).
    :param file_format: ``"jsonl"`` (default), ``"jsonl.gz"`` or ``"parquet"`` (needs the
        ``parquet`` extra; columns in :data:`~xportcn_provider.transfers.storage.PARQUET_COLUMNS`).
        Templated.
    :param lookback: also rewrite the partitions of this many preceding days: a ``timedelta`` or a
        number of days (``"{{ params.lookback_days }}"`` works). Default ``0``. Templated.
    :param page_size: orders per list request, 1–500 (the server may cap it lower). Templated.
    :param asset: the Asset this task updates. ``True`` (default): ``Asset(uri=<destination URL>)``
        — needs a literal ``destination``; pass an ``Asset`` when ``destination`` is templated,
        or ``False`` for none. Each event's ``extra`` lists the partitions written and the counts.
    :param order_shape: where list rows keep their id and creation time and how the time filter
        is spelled: an :class:`~xportcn_provider.order_sync.OrderShape` or a dict of its fields
        (``id_field``, ``time_field``, ``time_format``, ``time_zone``; values may be templates).
        Default: the contract's shape (``orderId``, ``createTime``, ISO-8601 UTC).
    :param xportcn_conn_id: the Xportcn connection; ``None`` (default) means ``xportcn_default``.

    Returns (XCom ``return_value``) ``{"orders", "by_status", "partitions": [{"dt", "path",
    "orders", "by_status", "bytes", "interval"}], "destination", "format", "platform",
    "interval"}``, and logs one line per partition.
    """

    template_fields: Sequence[str] = (
        "destination",
        "storage_conn_id",
        "file_format",
        "lookback",
        "page_size",
        "order_shape",
    )
    ui_color = "#e8f4ea"

    def __init__(
        self,
        *,
        destination: Any,
        storage_conn_id: str | None = None,
        platform: str = "1688",
        file_format: str = "jsonl",
        lookback: timedelta | int | float | str = timedelta(0),
        page_size: int | str = 100,
        asset: Asset | bool = True,
        order_shape: OrderShape | Mapping[str, Any] | None = None,
        xportcn_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        if platform not in LIST_ENDPOINTS:
            raise invalid("platform", f"must be one of {', '.join(LIST_ENDPOINTS)}, got {platform!r}.")
        # a literal bad name fails at parse time; pyarrow's presence is checked by the task, not the parser
        if not _is_templated(file_format) and file_format not in FORMAT_EXTENSIONS:
            check_format(file_format)
        declared = self._declared_asset(destination, asset)
        if declared is not None:
            outlets = kwargs.get("outlets") or []
            outlets = list(outlets) if isinstance(outlets, list | tuple) else [outlets]
            kwargs["outlets"] = [*outlets, declared] if declared not in outlets else outlets
        super().__init__(**kwargs)
        self.destination = destination
        self.storage_conn_id = storage_conn_id
        self.platform = platform
        self.file_format = file_format
        self.lookback = lookback
        self.page_size = page_size
        self.asset = declared
        self.order_shape = order_shape
        self.xportcn_conn_id = xportcn_conn_id
        #: What the last ``execute`` wrote, for OpenLineage (no extra calls after the fact).
        self._lineage: dict[str, Any] | None = None

    @staticmethod
    def _declared_asset(destination: Any, asset: Asset | bool) -> Asset | None:
        if isinstance(asset, Asset):
            return asset
        if asset is False:
            return None
        if asset is not True:
            raise invalid("asset", f"must be an Asset, True or False, got {asset!r}.")
        if _is_templated(destination):
            raise invalid(
                "asset",
                "destination is templated, so the Asset it updates is not known when the DAG is parsed: "
                "pass asset=Asset(...) (downstream DAGs schedule on it) or asset=False.",
            )
        return Asset(uri=destination_url(destination))

    @cached_property
    def hook(self) -> XportcnHook:
        # imported here: the hook pulls in the HTTP clients, which a DAG file being parsed never needs
        from xportcn_provider.connection import DEFAULT_CONN_ID
        from xportcn_provider.hooks.xportcn import XportcnHook

        return XportcnHook(xportcn_conn_id=self.xportcn_conn_id or DEFAULT_CONN_ID)

    def _window(self, context: Context) -> tuple[datetime, datetime]:
        start = context.get("data_interval_start") or context.get("logical_date")
        if start is None:
            dag_run = context.get("dag_run")
            start = getattr(dag_run, "run_after", None)
        if start is None:
            raise invalid("data_interval_start", "the run has no data interval, logical date or run_after.")
        end = context.get("data_interval_end") or start
        return start, end

    def execute(self, context: Context) -> dict[str, Any]:
        # every check before the first HTTP call
        file_format = check_format(self.file_format)
        lookback = _lookback_of(self.lookback)
        page_size = _page_size_of(self.page_size)
        shape = _order_shape_of(self.order_shape)
        destination = open_destination(self.destination, self.storage_conn_id)
        start, end = self._window(context)
        days = partition_days(start, end, lookback)
        source: Any = self.hook if self.platform == "1688" else TaobaoOrderSource(self.hook)

        partitions: list[dict[str, Any]] = []
        by_status: Counter[str] = Counter()
        for day in days:
            written = self._write_day(source, destination, day, file_format, page_size, shape)
            partitions.append(written)
            by_status.update(written["by_status"])
            self.log.info(
                "Xportcn %s orders %s: %d orders -> %s (%d bytes) %s",
                self.platform,
                written["dt"],
                written["orders"],
                written["path"],
                written["bytes"],
                written["by_status"],
            )
        result = {
            "orders": sum(p["orders"] for p in partitions),
            "by_status": dict(sorted(by_status.items())),
            "partitions": partitions,
            "destination": destination.url,
            "format": file_format,
            "platform": self.platform,
            "interval": [iso_utc(days[0]), iso_utc(days[-1] + ONE_DAY)],
        }
        self._report_lineage(context, destination, partitions, file_format)
        return result

    def _write_day(
        self,
        source: Any,
        destination: Destination,
        day: datetime,
        file_format: str,
        page_size: int,
        shape: OrderShape | None,
    ) -> dict[str, Any]:
        """Stage the day's orders locally, encode, then replace the partition object in one go."""
        name = partition_name(day, file_format)
        with tempfile.TemporaryDirectory(prefix="xportcn-orders-") as work:
            staged = Path(work) / "orders.jsonl"
            options: dict[str, Any] = {"shape": shape} if shape is not None else {}
            counts = write_order_partition(source, day, day + ONE_DAY, staged, page_size=page_size, **options)
            encoded = encode(staged, file_format, Path(work), platform=self.platform, shape=shape)
            size = destination.publish(encoded, name)
        return {
            "dt": f"{day:%Y-%m-%d}",
            "path": destination.child_url(name),
            "orders": counts["orders"],
            "by_status": counts["by_status"],
            "bytes": size,
            "interval": counts["interval"],
        }

    # --- assets and lineage -----------------------------------------------------------------

    def source_url(self) -> str:
        """The order list read, as a URL without credentials (``https://host/api/<list path>``)."""
        settings = self.hook.config.settings
        endpoint = resolve(LIST_ENDPOINTS[self.platform], settings.endpoint_overrides)
        parts = urlsplit(settings.base_url)
        host = parts.netloc.rpartition("@")[2]
        return f"{parts.scheme}://{host}{parts.path.rstrip('/')}{endpoint.path}"

    def _report_lineage(
        self, context: Context, destination: Destination, partitions: list[dict[str, Any]], file_format: str
    ) -> None:
        """Asset event extra, hook-lineage collector entries, and what OpenLineage will report."""
        from airflow.sdk.lineage import get_hook_lineage_collector

        source = self.source_url()
        collector = get_hook_lineage_collector()
        collector.add_input_asset(context=self.hook, uri=source)
        for partition in partitions:
            collector.add_output_asset(context=self.hook, uri=partition["path"])
        self._lineage = {
            "source": source,
            "rows_read": sum(p["orders"] for p in partitions),
            "format": file_format,
            "outputs": [
                (*destination.openlineage_id(p["path"].rsplit("/", 1)[1]), p["orders"], p["bytes"])
                for p in partitions
            ],
        }
        if self.asset is not None:
            events = context.get("outlet_events")
            if events is not None:
                events[self.asset].extra = {
                    "destination": destination.url,
                    "storage_conn_id": storage_conn_of(self.destination, self.storage_conn_id),
                    "format": file_format,
                    "platform": self.platform,
                    "partitions": [
                        {"dt": p["dt"], "path": p["path"], "orders": p["orders"]} for p in partitions
                    ],
                    "orders": sum(p["orders"] for p in partitions),
                }

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """The Xportcn order list as input, each written partition as an output with its row count."""
        from airflow.providers.common.compat.openlineage.facet import (
            InputDataset,
            OutputDataset,
            OutputStatisticsOutputDatasetFacet,
            SchemaDatasetFacet,
            SchemaDatasetFacetFields,
        )
        from airflow.providers.openlineage.extractors import OperatorLineage

        if not self._lineage:
            return OperatorLineage()
        source = urlsplit(self._lineage["source"])
        input_facets: dict[str, Any] = {}
        try:
            from openlineage.client.generated.input_statistics_input_dataset import (
                InputStatisticsInputDatasetFacet,
            )

            input_facets["inputStatistics"] = InputStatisticsInputDatasetFacet(
                rowCount=self._lineage["rows_read"]
            )
        except ImportError:  # an OpenLineage client without the facet: inputs still reported
            pass
        inputs = [
            InputDataset(
                namespace=f"{source.scheme}://{source.netloc}",
                name=source.path,
                inputFacets=input_facets,
            )
        ]
        schema_facets: dict[str, Any] = {}
        if self._lineage["format"] == "parquet":
            from xportcn_provider.transfers.storage import PARQUET_COLUMNS

            schema_facets["schema"] = SchemaDatasetFacet(
                fields=[
                    SchemaDatasetFacetFields(name=name, type=kind, description=meaning)
                    for name, kind, meaning in PARQUET_COLUMNS
                ]
            )
        outputs = [
            OutputDataset(
                namespace=namespace,
                name=name,
                facets=dict(schema_facets),
                outputFacets={
                    "outputStatistics": OutputStatisticsOutputDatasetFacet(rowCount=rows, size=size)
                },
            )
            for namespace, name, rows, size in self._lineage["outputs"]
        ]
        return OperatorLineage(inputs=inputs, outputs=outputs)
