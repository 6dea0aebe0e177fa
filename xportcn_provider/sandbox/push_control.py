"""Control routes for the sandbox's push messages (``/_sandbox/push``), see :mod:`.push`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from xportcn_provider.sandbox.defaults import CONTROL_PREFIX
from xportcn_provider.sandbox.engine import Sandbox
from xportcn_provider.sandbox.push import PushConfigError


class PushSpec(BaseModel):
    url: str | None = Field(..., description="callback URL to POST messages to; null stops pushing")
    retry_interval: float | None = Field(None, description="sandbox seconds between retries (1800)")
    max_retries: int | None = Field(None, description="retries after the first attempt (5)")
    answer_limit: float | None = Field(None, description="slower answers count as failures (1.0 s)")


class PushFaultSpec(BaseModel):
    kind: str = Field(..., description="duplicate | out_of_order | receiver_down")
    count: int = 1


def push_router(sandbox: Sandbox) -> APIRouter:
    router = APIRouter(prefix=f"{CONTROL_PREFIX}/push", tags=["sandbox push"])
    pusher = sandbox.pusher

    @router.get("")
    def state() -> dict[str, Any]:
        """URL (token redacted), retry settings, pending deliveries, counters and queued faults."""
        return pusher.state()

    @router.post("")
    def configure(spec: PushSpec) -> dict[str, Any]:
        """Start pushing to ``url`` (records that exist now are not announced), or stop with null."""
        try:
            return pusher.configure(**spec.model_dump())
        except PushConfigError as err:
            raise HTTPException(status_code=400, detail=str(err)) from None

    @router.post("/faults")
    def fault(spec: PushFaultSpec) -> dict[str, Any]:
        try:
            return pusher.add_fault(spec.kind, spec.count)
        except PushConfigError as err:
            raise HTTPException(status_code=400, detail=str(err)) from None

    @router.post("/flush")
    def flush() -> dict[str, Any]:
        """Scan and deliver what is due now (the background thread does the same every 0.1 s)."""
        return {"attempts": pusher.tick(), **pusher.state()}

    return router
