"""After-sale: refund reasons, voucher upload, create/cancel a refund, return logistics.

A refund has no caller-chosen id (contract §5), so :class:`XportcnCreateRefundOperator` finds
out whether an earlier try already opened it: ``task_state_store`` first, then the order's
sub-orders (``order_detail`` → ``productItems[].refundId`` / ``refundIdForAs`` →
``refund_detail``, the look-up of ``api/verify.py`` that the hook also runs after a lost answer).
An *open* refund on exactly the requested sub-orders is reused. A refund that already
*succeeded* is reused only when an earlier try of this task sent a create (a time it wrote to
``task_state_store`` just before sending) and the refund was created after it: a refund that
succeeded between a crashed try and its retry is not opened twice, while a finished refund
from another run does not swallow a new, legitimate one. A closed refund never counts. When the
answer cannot be read (no ``productItems``, no known status) the task fails instead of guessing.
Cancelling an already closed refund, or submitting the same return waybill twice, is success.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import requests

from xportcn_provider.api import statuses as st
from xportcn_provider.api.errors import (
    XportcnConflictError,
    XportcnProtocolError,
    XportcnTransientError,
    XportcnValidationError,
)
from xportcn_provider.api.readback import confirm_write, was_verified
from xportcn_provider.api.request_shapes import OrderEntryCount
from xportcn_provider.api.verify import refund_covering, run_lookup
from xportcn_provider.api.waits import refund_wait
from xportcn_provider.links import XportcnRefundLink
from xportcn_provider.operators.base import (
    DEFAULT_POLL_INTERVAL,
    DEFAULT_WAIT_TIMEOUT,
    XportcnBaseOperator,
    XportcnWaitingOperatorMixin,
    default_deferrable,
    wait_settings,
)
from xportcn_provider.operators.validation import (
    MAX_PAYLOAD_BYTES,
    optional_bool,
    optional_choice,
    optional_id,
    optional_non_negative_int,
    optional_str,
    optional_str_list,
    require_choice,
    require_id,
    require_items,
    require_order_id,
    require_positive_int,
    require_refund_id,
    require_str,
    require_sub_order_ids,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

#: ``disputeRequest`` values (docs/data-shapes.md): refund only, or return goods and refund.
DISPUTE_REQUESTS = ("refund", "returnRefund")
#: ``goodsStatus`` values.
GOODS_STATUSES = ("received", "not_received")
DEFAULT_MAX_VOUCHER_BYTES = 5 * 1024 * 1024
#: Leading bytes of the image formats a voucher may be in.
_IMAGE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
)


def _image_kind(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    for signature, kind in _IMAGE_SIGNATURES:
        if data.startswith(signature):
            return kind
    return None


def _refund_id_of(data: Any, endpoint: str, request_id: str | None) -> str:
    refund_id = data.get("refundId") if isinstance(data, Mapping) else None
    if not refund_id:
        raise XportcnProtocolError(
            f"{endpoint} answered without a refundId: {data!r}", endpoint=endpoint, request_id=request_id
        )
    return str(refund_id)


class XportcnRefundReasonsOperator(XportcnBaseOperator):
    """The refund reasons allowed for an order (and sub-orders); returns the list.

    :param order_id: 1688 order id (templated).
    :param order_entry_ids: sub-order ids, optional (templated).
    :param goods_status: ``received`` or ``not_received`` (reasons differ).

    XCom: return value = ``[{id, name, needVoucher}]``; ``reason_ids`` = the ids.
    """

    endpoint_name = "refund_reasons"
    template_fields: Sequence[str] = (
        *XportcnBaseOperator.template_fields,
        "order_id",
        "order_entry_ids",
        "goods_status",
    )

    def __init__(
        self,
        *,
        order_id: str | int,
        order_entry_ids: list[str | int] | str | None = None,
        goods_status: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.order_id = order_id
        self.order_entry_ids = order_entry_ids
        self.goods_status = goods_status

    def build_request(self) -> dict[str, Any]:
        return {
            "order_id": require_order_id(self.order_id, "order_id"),
            "order_entry_ids": None
            if self.order_entry_ids in (None, "", [])
            else require_sub_order_ids(self.order_entry_ids, "order_entry_ids"),
            "goods_status": optional_choice(self.goods_status, "goods_status", GOODS_STATUSES),
            "extra": self.extra_body(),
        }

    def perform(self, context: Context, request: dict[str, Any]) -> Any:
        reasons = self.hook.refund_reasons(**request)
        ids = [r.get("id") for r in reasons if isinstance(r, Mapping)] if isinstance(reasons, list) else []
        self.push(context, reason_ids=ids)
        self.log_action("refund_reasons", {"order_id": request["order_id"]}, f"{len(ids)} reason(s)")
        return reasons


class XportcnUploadRefundVoucherOperator(XportcnBaseOperator):
    """Upload one voucher image for a refund; returns its URL (for ``vouchers``).

    Give exactly one source:

    :param file_path: a local file on the worker (templated).
    :param content: the image as ``bytes`` or a base64 string, e.g. from XCom (templated; a
        ``data:image/...;base64,`` prefix is accepted).
    :param url: an ``http(s)`` URL to download (streamed, stopped at ``max_bytes``).
    :param file_name: name sent with the image (default: from the path or URL).
    :param max_bytes: largest image accepted (default 5 MiB).
    :param check_image: refuse data that is not a JPEG, PNG, GIF, WEBP or BMP image.
    :param download_timeout: seconds for the URL download.

    The same image uploaded again by a retry of the same task instance returns the URL of the
    first upload (remembered by content hash in ``task_state_store``).

    XCom: return value = the voucher URL; key ``voucher_url``.
    """

    endpoint_name = "refund_voucher_upload"
    template_fields: Sequence[str] = (
        *XportcnBaseOperator.template_fields,
        "file_path",
        "content",
        "url",
        "file_name",
    )

    def __init__(
        self,
        *,
        file_path: str | Path | None = None,
        content: bytes | str | None = None,
        url: str | None = None,
        file_name: str | None = None,
        max_bytes: int = DEFAULT_MAX_VOUCHER_BYTES,
        check_image: bool = True,
        download_timeout: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.file_path = file_path
        self.content = content
        self.url = url
        self.file_name = file_name
        self.max_bytes = max_bytes
        self.check_image = check_image
        self.download_timeout = download_timeout

    def build_request(self) -> dict[str, Any]:
        limit = require_positive_int(self.max_bytes, "max_bytes")
        # base64 grows data by 4/3; the JSON limit follows the image limit.
        self.max_payload_bytes = max(MAX_PAYLOAD_BYTES, math.ceil(limit * 4 / 3) + 4096)
        sources = [
            name
            for name, value in (("file_path", self.file_path), ("content", self.content), ("url", self.url))
            if value not in (None, "", b"")
        ]
        if len(sources) != 1:
            raise XportcnValidationError(
                "file_path: give exactly one of file_path, content or url "
                f"(got {', '.join(sources) if sources else 'none'}).",
                parameter="file_path" if not sources else sources[-1],
            )
        file_name = optional_str(self.file_name, "file_name", max_length=255)
        request: dict[str, Any] = {"extra": self.extra_body()}
        if sources[0] == "url":
            url = require_str(self.url, "url", max_length=4096)
            if urlparse(url).scheme not in ("http", "https") or not urlparse(url).netloc:
                raise XportcnValidationError(
                    f"url: must be an http(s) URL, got {url[:80]!r}.", parameter="url"
                )
            if not isinstance(self.download_timeout, int | float) or self.download_timeout <= 0:
                raise XportcnValidationError(
                    f"download_timeout: must be seconds > 0, got {self.download_timeout!r}.",
                    parameter="download_timeout",
                )
            request["url"] = url
            request["file_name"] = file_name or Path(urlparse(url).path).name or None
            return request
        if sources[0] == "file_path":
            data, default_name = self._read_file(limit)
        else:
            data, default_name = self._decode_content(limit), None
        self._check(data, limit, sources[0])
        request["image_base64"] = base64.b64encode(data).decode("ascii")
        request["file_name"] = file_name or default_name
        return request

    def _read_file(self, limit: int) -> tuple[bytes, str]:
        if not isinstance(self.file_path, str | Path):
            raise XportcnValidationError(
                f"file_path: must be a path, got {type(self.file_path).__name__}.", parameter="file_path"
            )
        path = Path(self.file_path)
        if not path.is_file():
            raise XportcnValidationError(f"file_path: no such file: {str(path)!r}.", parameter="file_path")
        size = path.stat().st_size
        if size > limit:
            raise XportcnValidationError(
                f"file_path: the file is {size} bytes, above max_bytes={limit}.", parameter="file_path"
            )
        return path.read_bytes(), path.name

    def _decode_content(self, limit: int) -> bytes:
        content = self.content
        if isinstance(content, bytes | bytearray):
            return bytes(content)
        if not isinstance(content, str):
            raise XportcnValidationError(
                f"content: must be bytes or a base64 string, got {type(content).__name__}.",
                parameter="content",
            )
        text = content.strip()
        if text.startswith("data:") and "," in text:
            text = text.split(",", 1)[1]
        if len(text) > math.ceil(limit * 4 / 3) + 4:
            raise XportcnValidationError(
                f"content: the image is larger than max_bytes={limit}.", parameter="content"
            )
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise XportcnValidationError(
                "content: a string must be base64-encoded image data.", parameter="content"
            ) from None

    def _check(self, data: bytes, limit: int, parameter: str) -> None:
        if not data:
            raise XportcnValidationError(f"{parameter}: the image is empty.", parameter=parameter)
        if len(data) > limit:
            raise XportcnValidationError(
                f"{parameter}: the image is {len(data)} bytes, above max_bytes={limit}.", parameter=parameter
            )
        if self.check_image and _image_kind(data) is None:
            raise XportcnValidationError(
                f"{parameter}: the data is not a JPEG, PNG, GIF, WEBP or BMP image "
                "(set check_image=False to send it anyway).",
                parameter=parameter,
            )

    def _download(self, url: str, limit: int) -> bytes:
        """Stream ``url``, stopping as soon as more than ``limit`` bytes arrived."""
        try:
            with requests.get(url, stream=True, timeout=self.download_timeout) as response:
                if response.status_code >= 500:
                    raise XportcnTransientError(
                        f"Voucher download from {url[:80]!r} failed with HTTP {response.status_code}."
                    )
                if response.status_code >= 400:
                    raise XportcnValidationError(
                        f"url: download failed with HTTP {response.status_code}.", parameter="url"
                    )
                declared = response.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > limit:
                    raise XportcnValidationError(
                        f"url: the image is {declared} bytes, above max_bytes={limit}.", parameter="url"
                    )
                chunks: list[bytes] = []
                received = 0
                for chunk in response.iter_content(64 * 1024):
                    received += len(chunk)
                    if received > limit:
                        raise XportcnValidationError(
                            f"url: the download exceeded max_bytes={limit}; stopped.", parameter="url"
                        )
                    chunks.append(chunk)
        except requests.RequestException as exc:
            raise XportcnTransientError(
                f"Voucher download from {url[:80]!r} failed ({type(exc).__name__})."
            ) from None
        return b"".join(chunks)

    def perform(self, context: Context, request: dict[str, Any]) -> Any:
        url = request.pop("url", None)
        if url is not None:
            limit = require_positive_int(self.max_bytes, "max_bytes")
            data = self._download(url, limit)
            self._check(data, limit, "url")
            request["image_base64"] = base64.b64encode(data).decode("ascii")
        digest = hashlib.sha256(request["image_base64"].encode()).hexdigest()[:32]
        key = self.state_key("voucher", digest)
        voucher_url = self.recall(context, key)
        if voucher_url:
            self.log_action(
                "refund_voucher_upload",
                {"sha256": digest},
                "already uploaded by an earlier try (task_state_store)",
                remote=False,
            )
        else:
            data = self.hook.refund_voucher_upload(**request)
            voucher_url = data.get("url") if isinstance(data, Mapping) else None
            if not voucher_url:
                raise XportcnProtocolError(
                    f"refund_voucher_upload answered without a url: {data!r}",
                    endpoint="refund_voucher_upload",
                    request_id=self.hook.last_request_id,
                )
            self.remember(context, key, voucher_url)
            self.log_action(
                "refund_voucher_upload",
                {"file_name": request.get("file_name"), "sha256": digest},
                voucher_url,
            )
        self.push(context, voucher_url=voucher_url)
        return voucher_url


class XportcnCreateRefundOperator(XportcnWaitingOperatorMixin, XportcnBaseOperator):
    """Open a refund on sub-orders of a 1688 order, once; returns the refund id.

    Before creating, an open refund on exactly the same sub-orders (or one this task's earlier try
    opened) is looked up and reused (``reuse_open_refund``); see the module docstring. Amounts are
    integers in fen.

    :param order_id: the 1688 order (templated).
    :param order_entry_ids: the sub-order ids (``productItems[].subItemID``) (templated).
    :param dispute_request: ``refund`` (refund only) or ``returnRefund`` (return and refund).
    :param apply_payment: amount to refund, fen, > 0 (templated).
    :param apply_carriage: carriage to refund, fen, >= 0.
    :param apply_reason_id: a reason id from :class:`XportcnRefundReasonsOperator`.
    :param description: text for the seller.
    :param goods_status: ``received`` or ``not_received``.
    :param vouchers: voucher image URLs (from :class:`XportcnUploadRefundVoucherOperator`).
    :param order_entry_count_list: ``[{id, count}]`` for partial quantities.
    :param reuse_open_refund: reuse an open refund on the same sub-orders, or the one an earlier
        try of this task opened (default ``True``).
    :param wait_for_completion: after creating, wait until the refund reaches a target status.
    :param target_statuses: statuses that end the wait (default ``refundsuccess``); e.g.
        ``"waitbuyersend"`` to continue once the seller asks for the goods back.
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param poll_interval: seconds between status reads while waiting.
    :param timeout: seconds to wait at most (``None``: no limit).

    XCom: return value = ``refundId``; keys ``refund_id``, ``refund_url``, ``order_id`` (pushed
    before any wait).
    """

    wait_result_key = "refund_id"
    endpoint_name = "refund_create"
    template_fields: Sequence[str] = (
        *XportcnBaseOperator.template_fields,
        "order_id",
        "order_entry_ids",
        "dispute_request",
        "apply_payment",
        "apply_carriage",
        "apply_reason_id",
        "description",
        "goods_status",
        "vouchers",
        "order_entry_count_list",
    )
    template_fields_renderers = {"order_entry_count_list": "json", "vouchers": "json", "extra": "json"}
    operator_extra_links = (XportcnRefundLink(),)

    def __init__(
        self,
        *,
        order_id: str | int,
        order_entry_ids: list[str | int] | str,
        dispute_request: str,
        apply_payment: int | str,
        apply_carriage: int | str | None = None,
        apply_reason_id: str | int | None = None,
        description: str | None = None,
        goods_status: str | None = None,
        vouchers: list[str] | str | None = None,
        order_entry_count_list: list[OrderEntryCount] | list[Mapping[str, Any]] | str | None = None,
        reuse_open_refund: bool = True,
        wait_for_completion: bool = False,
        target_statuses: str | Sequence[str] | None = None,
        deferrable: bool = default_deferrable(),
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.order_id = order_id
        self.order_entry_ids = order_entry_ids
        self.dispute_request = dispute_request
        self.apply_payment = apply_payment
        self.apply_carriage = apply_carriage
        self.apply_reason_id = apply_reason_id
        self.description = description
        self.goods_status = goods_status
        self.vouchers = vouchers
        self.order_entry_count_list = order_entry_count_list
        self.reuse_open_refund = reuse_open_refund
        self.wait_for_completion = wait_for_completion
        self.target_statuses = target_statuses
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout

    def build_request(self) -> dict[str, Any]:
        request = {
            "order_id": require_order_id(self.order_id, "order_id"),
            "order_entry_ids": require_sub_order_ids(self.order_entry_ids, "order_entry_ids"),
            "dispute_request": require_choice(self.dispute_request, "dispute_request", DISPUTE_REQUESTS),
            "apply_payment": require_positive_int(self.apply_payment, "apply_payment"),
            "apply_carriage": optional_non_negative_int(self.apply_carriage, "apply_carriage"),
            "apply_reason_id": optional_id(self.apply_reason_id, "apply_reason_id"),
            "description": optional_str(self.description, "description", max_length=2000),
            "goods_status": optional_choice(self.goods_status, "goods_status", GOODS_STATUSES),
            "vouchers": optional_str_list(self.vouchers, "vouchers"),
            "order_entry_count_list": None
            if self.order_entry_count_list in (None, "", [])
            else require_items(
                self.order_entry_count_list, "order_entry_count_list", id_keys=("id",), quantity_key="count"
            ),
            "extra": self.extra_body(),
        }
        self._reuse = optional_bool(self.reuse_open_refund, "reuse_open_refund")
        self._wait_enabled = optional_bool(self.wait_for_completion, "wait_for_completion")
        self._wait = wait_settings(self.poll_interval, self.timeout)
        if self._wait_enabled:
            optional_bool(self.deferrable, "deferrable")
            refund_wait("TQ0", target_statuses=self.target_statuses)  # validates the status names
        return request

    def perform(self, context: Context, request: dict[str, Any]) -> Any:
        order_id = request["order_id"]
        entries = request["order_entry_ids"]
        key = self.state_key("refund", order_id, ",".join(sorted(entries)))
        refund_id = self.recall(context, key)
        if refund_id:
            self.log_action(
                "refund_create",
                {"order_id": order_id, "refund_id": refund_id},
                "reconnected to the refund opened by an earlier try (task_state_store)",
                remote=False,
            )
        elif self._reuse and (refund_id := self._open_refund(context, key, order_id, entries)) is not None:
            self.remember(context, key, refund_id)
        else:
            # Written before sending: a retry after a crash mid-call then knows a create went out
            # and from when, so a refund that succeeded since counts as ours (see the module doc).
            self.remember(context, f"{key}:sent", time.time())
            data = self.hook.refund_create(**request)
            refund_id = _refund_id_of(data, "refund_create", self.hook.last_request_id)
            self.remember(context, key, refund_id)
            self.log_action(
                "refund_create",
                {"order_id": order_id, "order_entry_ids": ",".join(entries), "refund_id": refund_id},
                f"opened ({request['dispute_request']}, {request['apply_payment']} fen)",
            )
        refund_id = str(refund_id)
        self.push(
            context,
            refund_id=refund_id,
            refund_url=self.console_url_of("refund", refund_id),
            order_id=order_id,
        )
        if not self._wait_enabled:
            return refund_id
        spec = refund_wait(refund_id, target_statuses=self.target_statuses)
        poll_interval, timeout = self._wait
        return self.wait_for_spec(
            context, spec, result=refund_id, poll_interval=poll_interval, timeout=timeout
        )

    def _open_refund(self, context: Context, key: str, order_id: str, entries: list[str]) -> str | None:
        """The refund on exactly ``entries`` that an earlier try opened or that is still open."""
        sent = self.recall(context, f"{key}:sent")
        since = float(sent) if isinstance(sent, int | float) and not isinstance(sent, bool) else None
        found = run_lookup(refund_covering(order_id, set(entries), succeeded_since=since), self.hook.call)
        if found is None:
            self.log_action(
                "order_detail", {"order_id": order_id}, "no open refund on the requested sub-orders"
            )
            return None
        refund_id, status, _ = found
        self.log_action(
            "refund_detail",
            {"order_id": order_id, "refund_id": refund_id},
            f"refund ({status}) already covers these sub-orders; reusing it",
        )
        return refund_id


class XportcnSubmitReturnLogisticsOperator(XportcnBaseOperator):
    """Tell the seller how the goods of a refund are sent back; returns the refund id.

    Reads the refund first: when the same waybill is already recorded the submit is skipped, so
    a retry after a lost answer is harmless.

    :param refund_id: the refund (templated).
    :param logistics_company_no: carrier code from ``logistics_companies`` (e.g. ``YTO``).
    :param freight_bill: tracking number of the return parcel (templated).
    :param description: text for the seller.
    :param vouchers: image URLs (e.g. of the shipping receipt).

    XCom: return value = ``refundId``; keys ``refund_id``, ``refund_url``, ``freight_bill``.
    """

    endpoint_name = "refund_return_submit"
    template_fields: Sequence[str] = (
        *XportcnBaseOperator.template_fields,
        "refund_id",
        "logistics_company_no",
        "freight_bill",
        "description",
        "vouchers",
    )
    operator_extra_links = (XportcnRefundLink(),)

    def __init__(
        self,
        *,
        refund_id: str,
        logistics_company_no: str,
        freight_bill: str,
        description: str | None = None,
        vouchers: list[str] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.refund_id = refund_id
        self.logistics_company_no = logistics_company_no
        self.freight_bill = freight_bill
        self.description = description
        self.vouchers = vouchers

    def build_request(self) -> dict[str, Any]:
        return {
            "refund_id": require_refund_id(self.refund_id, "refund_id"),
            "logistics_company_no": require_id(self.logistics_company_no, "logistics_company_no"),
            "freight_bill": require_id(self.freight_bill, "freight_bill"),
            "description": optional_str(self.description, "description"),
            "vouchers": optional_str_list(self.vouchers, "vouchers"),
            "extra": self.extra_body(),
        }

    def perform(self, context: Context, request: dict[str, Any]) -> Any:
        refund_id = request["refund_id"]
        ids = {"refund_id": refund_id, "freight_bill": request["freight_bill"]}
        refund = self.hook.refund_detail(refund_id=refund_id)
        recorded = refund.get("returnLogistics") if isinstance(refund, Mapping) else None
        if isinstance(recorded, Mapping) and str(recorded.get("freightBill")) == request["freight_bill"]:
            self.log_action("refund_detail", ids, "this waybill is already recorded; not submitting again")
        else:
            answer = self.hook.refund_return_submit(**request)
            bill = request["freight_bill"]

            def shows_bill(record: Any) -> str | None:
                got = record.get("returnLogistics") if isinstance(record, Mapping) else None
                if isinstance(got, Mapping) and str(got.get("freightBill")) == bill:
                    return None
                return f"the refund's returnLogistics is {got!r}, not waybill {bill}"

            confirm_write(
                "refund_return_submit",
                answer,
                lambda: self.hook.refund_detail(refund_id=refund_id),
                shows_bill,
                request_id=self.hook.last_request_id,
                verified=was_verified(self.hook.client.last_envelope),
                delay=self.readback_delay,
            )
            self.log_action(
                "refund_return_submit",
                ids,
                f"submitted (carrier {request['logistics_company_no']}; read back: recorded)",
            )
        self.push(
            context,
            refund_id=refund_id,
            refund_url=self.console_url_of("refund", refund_id),
            freight_bill=request["freight_bill"],
        )
        return refund_id


class XportcnCancelRefundOperator(XportcnBaseOperator):
    """Cancel (close) a refund; returns the refund id. An already closed refund is success.

    The refund is read first: ``refundclose`` → logged and done, no cancel call;
    ``refundsuccess`` → ``XportcnConflictError`` ("already refundsuccess (succeeded); nothing to
    cancel"), no cancel call either: a refund that paid out cannot be undone. If the server
    answers the cancel with a state conflict, the refund is read again and a closed refund is
    success too (a retry after a lost answer); any other state re-raises the conflict.

    :param refund_id: the refund (templated).

    XCom: return value = ``refundId``; keys ``refund_id``, ``refund_url``, ``refund_status``.
    """

    endpoint_name = "refund_cancel"
    template_fields: Sequence[str] = (*XportcnBaseOperator.template_fields, "refund_id")
    operator_extra_links = (XportcnRefundLink(),)

    def __init__(self, *, refund_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.refund_id = refund_id

    def build_request(self) -> dict[str, Any]:
        return {"refund_id": require_refund_id(self.refund_id, "refund_id"), "extra": self.extra_body()}

    def _status(self, refund_id: str) -> str | None:
        refund = self.hook.refund_detail(refund_id=refund_id)
        return st.REFUND_STATUS.normalize(refund.get("status") if isinstance(refund, Mapping) else None)

    def perform(self, context: Context, request: dict[str, Any]) -> Any:
        refund_id = request["refund_id"]
        ids = {"refund_id": refund_id}
        self.push(context, refund_id=refund_id, refund_url=self.console_url_of("refund", refund_id))
        status = self._status(refund_id)
        if status == st.REFUNDSUCCESS:
            # Terminal: the money went back, nothing can be cancelled any more; sending the cancel
            # would only earn the server's conflict (issue 14 item 6). No call, a clear error.
            raise XportcnConflictError(
                f"refund {refund_id} already {st.REFUND_STATUS.describe(status)}; nothing to cancel.",
                endpoint="refund_cancel",
            )
        if status == st.REFUNDCLOSE:
            self.log_action("refund_detail", ids, "already closed; nothing to cancel")
        else:
            try:
                answer = self.hook.refund_cancel(**request)
            except XportcnConflictError as conflict:
                status = self._status(refund_id)
                if status != st.REFUNDCLOSE:
                    raise
                self.log_action(
                    "refund_cancel",
                    ids,
                    f"state conflict (requestId={conflict.request_id}) on a refund that is already "
                    "closed; done",
                )
            else:

                def closed(record: Any) -> str | None:
                    raw = record.get("status") if isinstance(record, Mapping) else None
                    now = st.REFUND_STATUS.normalize(raw)
                    return (
                        None if now == st.REFUNDCLOSE else f"the refund's status is {raw!r}, not refundclose"
                    )

                confirm_write(
                    "refund_cancel",
                    answer,
                    lambda: self.hook.refund_detail(refund_id=refund_id),
                    closed,
                    request_id=self.hook.last_request_id,
                    verified=was_verified(self.hook.client.last_envelope),
                    delay=self.readback_delay,
                )
                status = st.REFUNDCLOSE
                self.log_action("refund_cancel", ids, f"cancelled ({answer}; read back: refundclose)")
        self.push(context, refund_status=status)
        return refund_id


__all__ = [
    "DISPUTE_REQUESTS",
    "GOODS_STATUSES",
    "XportcnCancelRefundOperator",
    "XportcnCreateRefundOperator",
    "XportcnRefundReasonsOperator",
    "XportcnSubmitReturnLogisticsOperator",
    "XportcnUploadRefundVoucherOperator",
]
