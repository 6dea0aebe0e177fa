"""Async triggers (run by the Airflow triggerer) for deferrable sensors and operators."""
