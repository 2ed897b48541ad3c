"""Failed log-ins per client and over all clients, on a clock the test holds (exact instants)."""

from __future__ import annotations

from evergreen.dashboard.throttle import LoginThrottle


def test_a_client_is_held_back_after_its_failures_and_let_in_when_the_minute_has_passed() -> None:
    now = [1000.0]
    t = LoginThrottle(per_client=3, overall=100, clock=lambda: now[0])
    for _ in range(3):
        assert t.blocked_for("10.0.0.1") is None
        t.failed("10.0.0.1")
        now[0] += 10.0
    assert t.blocked_for("10.0.0.1") == 30  # the first failure (t=1000) leaves the window at t=1060
    assert t.blocked_for("10.0.0.2") is None  # another client is not held back
    now[0] = 1059.5
    assert t.blocked_for("10.0.0.1") == 1  # whole seconds, at least one
    now[0] = 1060.0
    assert t.blocked_for("10.0.0.1") is None


def test_failures_from_many_clients_hold_everyone_back_at_the_overall_limit() -> None:
    now = [0.0]
    t = LoginThrottle(per_client=3, overall=5, clock=lambda: now[0])
    for i in range(5):
        t.failed(f"10.0.0.{i}")
    assert t.blocked_for("10.0.0.99") == 60
    now[0] = 60.0
    assert t.blocked_for("10.0.0.99") is None


def test_the_clients_remembered_are_bounded() -> None:
    t = LoginThrottle(per_client=1, overall=10**9, clock=lambda: 0.0, max_clients=100)
    for i in range(1000):
        t.failed(f"client-{i}")
    assert t.clients_remembered() <= 100


def test_asking_remembers_no_client() -> None:
    """Every log-in asks before its token is checked: a client that never failed is kept nowhere."""
    t = LoginThrottle(per_client=3, overall=100, clock=lambda: 0.0)
    for i in range(50):
        assert t.blocked_for(f"10.0.1.{i}") is None
    assert t.clients_remembered() == 0
    t.failed("10.0.1.7")
    assert t.clients_remembered() == 1
