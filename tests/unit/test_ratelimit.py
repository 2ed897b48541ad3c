"""The sliding log behind the per-token limit and the log-in throttle (exact instants)."""

from __future__ import annotations

from evergreen.ratelimit import SlidingLog


def test_a_full_table_of_live_keys_frees_a_tenth_at_once_oldest_first() -> None:
    """Each clean-up scans every key: freeing one slot made every new key pay that scan."""
    log = SlidingLog(limit=5, window=60.0, max_keys=100)
    for i in range(100):
        log.add(f"k{i}", 0.0)
    log.add("new", 1.0)
    assert log.keys() == 91  # 90 kept, then the new one
    assert log.wait("k9", 1.0) is None and log.wait("k10", 1.0) is None  # k0-k9 forgotten, k10 kept
    for i in range(9):  # room for nine more without another clean-up
        log.add(f"m{i}", 2.0)
    assert log.keys() == 100


def test_keys_out_of_their_window_go_first() -> None:
    log = SlidingLog(limit=5, window=60.0, max_keys=10)
    for i in range(10):
        log.add(f"k{i}", 0.0 if i % 2 else 100.0)  # the odd ones are past their window at t=100
    log.add("new", 100.0)
    assert log.keys() == 6  # the five live ones and the new one
