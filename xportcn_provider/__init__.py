"""Apache Airflow provider for the Xportcn (Xport Global Open Platform) KA open API."""

__version__ = "0.1.0"
