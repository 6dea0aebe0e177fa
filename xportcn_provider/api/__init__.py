"""The framework-free core of the provider.

Nothing below this package imports Airflow: the signing rule, the endpoint catalogue, the
envelope, the error mapping, the status vocabularies and a plain sync/async client live here so
that the hook, the triggers and the sandbox all speak exactly the same language.
"""
