"""Tests against the local sandbox over real HTTP."""
