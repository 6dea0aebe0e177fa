"""Xportcn operators, one module per domain; each is a thin layer over a typed hook method.

Import from the domain module (``xportcn_provider.operators.orders``...) or from here.
"""

from __future__ import annotations

from xportcn_provider.operators.basics import XportcnSaveAddressOperator
from xportcn_provider.operators.generic import XportcnApiOperator
from xportcn_provider.operators.logistics import (
    XportcnCreateInternationalLogisticsOrderOperator,
    XportcnFreightPreviewOperator,
    XportcnUpdateDomesticLogisticsOperator,
)
from xportcn_provider.operators.orders import (
    XportcnCreateOrderOperator,
    XportcnOrderOverBudgetError,
    XportcnPayOrderOperator,
    XportcnPreviewOrderOperator,
    XportcnTaobaoCreateOrderOperator,
    XportcnTaobaoRenderOrderOperator,
)
from xportcn_provider.operators.refunds import (
    XportcnCancelRefundOperator,
    XportcnCreateRefundOperator,
    XportcnRefundReasonsOperator,
    XportcnSubmitReturnLogisticsOperator,
    XportcnUploadRefundVoucherOperator,
)
from xportcn_provider.operators.wms import (
    XportcnForecastPackageOperator,
    XportcnPackageInboundOperator,
    XportcnUpdatePackageOperator,
)

__all__ = [
    "XportcnApiOperator",
    "XportcnCancelRefundOperator",
    "XportcnCreateInternationalLogisticsOrderOperator",
    "XportcnCreateOrderOperator",
    "XportcnCreateRefundOperator",
    "XportcnForecastPackageOperator",
    "XportcnFreightPreviewOperator",
    "XportcnOrderOverBudgetError",
    "XportcnPackageInboundOperator",
    "XportcnPayOrderOperator",
    "XportcnPreviewOrderOperator",
    "XportcnRefundReasonsOperator",
    "XportcnSaveAddressOperator",
    "XportcnSubmitReturnLogisticsOperator",
    "XportcnTaobaoCreateOrderOperator",
    "XportcnTaobaoRenderOrderOperator",
    "XportcnUpdateDomesticLogisticsOperator",
    "XportcnUpdatePackageOperator",
    "XportcnUploadRefundVoucherOperator",
]
