"""The sandbox's replay map stays cheap past 10,000 live nonces (``make bench`` sends 30,000+).

It used to rebuild the whole map on *every* request once it held more than 10,000 nonces younger
than the pruning horizon, which made a 5,000-wait benchmark quadratic on the server side.
"""

from __future__ import annotations

from xportcn_provider.sandbox.auth import NONCE_PRUNE_FLOOR, Authenticator
from xportcn_provider.sandbox.defaults import SandboxCredentials


def test_live_nonces_past_the_floor_are_pruned_once_per_doubling() -> None:
    now = [1_000_000.0]
    auth = Authenticator(SandboxCredentials.from_env(), clock=lambda: now[0], window=600)
    thresholds = set()
    for i in range(3 * NONCE_PRUNE_FLOOR):
        assert auth._use_nonce("key", f"n{i}") is None
        thresholds.add(auth._prune_at)
        now[0] += 0.001  # all of them stay inside the replay window
    # nothing could be dropped, so the threshold doubled: two rebuilds for 30,000 nonces, not 20,000
    assert sorted(thresholds) == [
        NONCE_PRUNE_FLOOR,
        2 * (NONCE_PRUNE_FLOOR + 1),
        4 * (NONCE_PRUNE_FLOOR + 1) + 2,
    ]
    assert auth._use_nonce("key", "n5") is not None  # still refuses a replay


def test_old_nonces_are_still_dropped() -> None:
    now = [1_000_000.0]
    auth = Authenticator(SandboxCredentials.from_env(), clock=lambda: now[0], window=600)
    for i in range(NONCE_PRUNE_FLOOR + 1):
        auth._use_nonce("key", f"old{i}")
    now[0] += 2 * 600 + 1
    auth._use_nonce("key", "fresh")  # over the threshold: the prune drops every old nonce
    assert len(auth._nonces) == 1
    assert auth._prune_at == NONCE_PRUNE_FLOOR
