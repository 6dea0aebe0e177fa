"""The one exception a sandbox endpoint raises to answer an error envelope.

Handlers and validators raise :class:`ApiFailure` with an :class:`EnvelopeCode` and a message
that tells the caller what to fix; the dispatcher turns it into ``{"code": ..., "msg": ...}``
with HTTP 200, as the real service does for business and auth failures.
"""

from __future__ import annotations

from xportcn_provider.api.errors import EnvelopeCode


class ApiFailure(Exception):
    """An envelope error answer: ``code`` (never 200) and a clear English ``msg``."""

    def __init__(self, code: int, msg: str) -> None:
        self.code = code
        self.msg = msg
        super().__init__(f"{code}: {msg}")


def invalid(msg: str) -> ApiFailure:
    """A validation failure; ``msg`` must name the field (e.g. ``cargoParamList[0].quantity``)."""
    return ApiFailure(EnvelopeCode.INVALID_PARAMETER, msg)


def not_found(msg: str) -> ApiFailure:
    return ApiFailure(EnvelopeCode.NOT_FOUND, msg)


def conflict(msg: str) -> ApiFailure:
    return ApiFailure(EnvelopeCode.STATE_CONFLICT, msg)
