"""The provider's Airflow plugin (registered through the ``airflow.plugins`` entry point).

:mod:`.xportcn_plugin` declares it; :mod:`.push` is the FastAPI app it mounts on the api-server
at ``/xportcn``; :mod:`.recorder` is the adapter into Airflow (connection token, receipts, asset
events). Decisions live in the framework-free :mod:`xportcn_provider.api.messages`.
"""
