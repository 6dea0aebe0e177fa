"""``airflow xportcn ...`` commands, registered through the provider info's ``cli`` key.

Airflow imports :mod:`.definition` every time its CLI starts, so that module (and :mod:`.args`)
imports nothing heavy; the command bodies load only when a command runs (``lazy_load_command``).
"""
