"""The connection type and default connection id, in a module that imports nothing.

Airflow imports ``get_provider_info`` (and the ``cli`` definition) on every CLI start to discover
providers; taking these names from here instead of :mod:`xportcn_provider.connection` keeps the
HTTP client and its libraries out of that start.
"""

CONN_TYPE = "xportcn"
DEFAULT_CONN_ID = "xportcn_default"
