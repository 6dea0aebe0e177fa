"""Xportcn status sensors (refund, order, package, logistics) on one shared base.

Import them from :mod:`xportcn_provider.sensors.status`.
"""
