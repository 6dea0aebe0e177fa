"""Basics: receiving addresses.

Saving a *new* address (no ``address_id``) would add a copy on every retry, so the operator
reads ``task_state_store`` first and then looks for an identical saved address in
``address_list`` before creating one. Updating (with ``address_id``) is idempotent as it is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from xportcn_provider.api.client import page_items
from xportcn_provider.api.errors import XportcnProtocolError, XportcnValidationError
from xportcn_provider.operators.base import (
    XportcnBaseOperator,
)
from xportcn_provider.operators.validation import (
    optional_id,
    optional_str,
    require_str,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

_ADDRESS_FIELDS = ("name", "province", "city", "district", "address", "phone")


class XportcnSaveAddressOperator(XportcnBaseOperator):
    """Create or update a receiving address; returns its id.

    :param name: receiver's name (templated).
    :param province: province (templated).
    :param city: city (templated).
    :param address: street address (templated).
    :param phone: phone number (templated).
    :param district: district (templated).
    :param address_id: id of an address to update; omit to create (templated).

    XCom: return value = the address id; key ``address_id``.
    """

    endpoint_name = "address_save"
    template_fields: Sequence[str] = (
        *XportcnBaseOperator.template_fields,
        "name",
        "province",
        "city",
        "address",
        "phone",
        "district",
        "address_id",
    )

    def __init__(
        self,
        *,
        name: str,
        province: str,
        city: str,
        address: str,
        phone: str,
        district: str | None = None,
        address_id: str | int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.province = province
        self.city = city
        self.address = address
        self.phone = phone
        self.district = district
        self.address_id = address_id

    def build_request(self) -> dict[str, Any]:
        phone = require_str(self.phone, "phone", max_length=40)
        if not any(ch.isdigit() for ch in phone):
            raise XportcnValidationError(f"phone: {phone!r} has no digits.", parameter="phone")
        return {
            "name": require_str(self.name, "name", max_length=100),
            "province": require_str(self.province, "province", max_length=100),
            "city": require_str(self.city, "city", max_length=100),
            "address": require_str(self.address, "address", max_length=500),
            "phone": phone,
            "district": optional_str(self.district, "district", max_length=100),
            "id": optional_id(self.address_id, "address_id"),
            "extra": self.extra_body(),
        }

    def _same_saved_address(self, request: Mapping[str, Any]) -> str | None:
        saved, _ = page_items(self.hook.address_list())
        wanted = {k: request.get(k) or None for k in _ADDRESS_FIELDS}
        for entry in saved:
            if not isinstance(entry, Mapping) or not entry.get("id"):
                continue
            if {k: entry.get(k) or None for k in _ADDRESS_FIELDS} == wanted:
                return str(entry["id"])
        return None

    def perform(self, context: Context, request: dict[str, Any]) -> Any:
        ids = {"address_id": request["id"], "name": request["name"], "city": request["city"]}
        if request["id"] is None:
            fingerprint = json.dumps([request.get(k) for k in _ADDRESS_FIELDS], ensure_ascii=False)
            key = self.state_key("address", hashlib.sha256(fingerprint.encode()).hexdigest()[:32])
            address_id = self.recall(context, key)
            if address_id:
                self.log_action(
                    "address_save",
                    {**ids, "address_id": address_id},
                    "saved by an earlier try (task_state_store)",
                    remote=False,
                )
            elif (address_id := self._same_saved_address(request)) is not None:
                self.remember(context, key, address_id)
                self.log_action(
                    "address_list", {**ids, "address_id": address_id}, "identical address already saved"
                )
            else:
                address_id = self._save(request)
                self.remember(context, key, address_id)
                self.log_action("address_save", {**ids, "address_id": address_id}, "created")
        else:
            address_id = self._save(request)
            self.log_action("address_save", ids, "updated")
        self.push(context, address_id=address_id)
        return address_id

    def _save(self, request: dict[str, Any]) -> str:
        data = self.hook.address_save(**request)
        address_id = data.get("id") if isinstance(data, Mapping) else None
        if not address_id:
            raise XportcnProtocolError(
                f"address_save answered without an id: {data!r}",
                endpoint="address_save",
                request_id=self.hook.last_request_id,
            )
        return str(address_id)


__all__ = ["XportcnSaveAddressOperator"]
