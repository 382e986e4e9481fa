"""Console sessions: random ids, a fixed lifetime, an idle limit, CSRF tokens, a bound."""

from __future__ import annotations

import pytest

from acd.console.roles import Role
from acd.console.sessions import SessionStore

TTL = 12 * 3600.0
IDLE = 2 * 3600.0


def store(*, ttl_s: float = TTL, idle_s: float = IDLE, max_sessions: int = 10_000) -> SessionStore:
    """A store with the production lifetimes unless told otherwise."""
    return SessionStore(ttl_s=ttl_s, idle_s=idle_s, max_sessions=max_sessions)


def test_new_sessions_have_distinct_random_ids_and_csrf_tokens() -> None:
    """Each login gets its own unguessable id and a separate CSRF token."""
    sessions = store()
    a = sessions.create("alice", Role.SUPERVISOR, "10.0.0.1", now=0.0)
    b = sessions.create("alice", Role.SUPERVISOR, "10.0.0.1", now=0.0)
    assert a.id != b.id
    assert a.csrf != a.id
    assert len(a.id) >= 43
    assert (a.user, a.role, a.source, a.created, a.last_seen) == (
        "alice",
        Role.SUPERVISOR,
        "10.0.0.1",
        0.0,
        0.0,
    )


def test_a_live_session_is_found_by_its_id() -> None:
    """Within its lifetime and idle limit a session is returned as created."""
    sessions = store()
    s = sessions.create("bob", Role.VIEWER, "10.0.0.2", now=100.0)
    assert sessions.get(s.id, now=100.0 + IDLE - 1) == s
    assert sessions.get("no-such-id", now=100.0) is None


def test_an_idle_session_ends() -> None:
    """No activity for idle_s: the session is gone, and stays gone."""
    sessions = store()
    s = sessions.create("bob", Role.VIEWER, "10.0.0.2", now=0.0)
    assert sessions.get(s.id, now=IDLE) is None
    assert len(sessions) == 0


def test_activity_keeps_a_session_alive_past_the_idle_limit() -> None:
    """Each touch pushes the idle limit back."""
    sessions = store()
    s = sessions.create("bob", Role.VIEWER, "10.0.0.2", now=0.0)
    for hour in range(1, 6):
        assert sessions.touch(s.id, now=hour * 3600.0) is not None
    assert sessions.get(s.id, now=5 * 3600.0 + IDLE - 1) is not None


def test_a_session_ends_at_its_lifetime_however_active() -> None:
    """The night shift's session ends ttl_s after login even with constant activity."""
    sessions = store()
    s = sessions.create("carol", Role.ADMIN, "10.0.0.3", now=0.0)
    t = 0.0
    while t < TTL - 600:
        t += 600
        assert sessions.touch(s.id, now=t) is not None
    assert sessions.touch(s.id, now=TTL) is None
    assert sessions.get(s.id, now=TTL) is None


def test_touch_never_moves_activity_back() -> None:
    """A clock read out of order keeps the later activity time."""
    sessions = store()
    s = sessions.create("bob", Role.VIEWER, "10.0.0.2", now=50.0)
    touched = sessions.touch(s.id, now=40.0)
    assert touched is not None
    assert touched.last_seen == 50.0


def test_touch_of_an_unknown_session_returns_none() -> None:
    """Nothing to extend: None."""
    assert store().touch("nope", now=0.0) is None


def test_logout_drops_the_session() -> None:
    """A dropped session is not found again; dropping twice says so."""
    sessions = store()
    s = sessions.create("bob", Role.VIEWER, "10.0.0.2", now=0.0)
    assert sessions.drop(s.id)
    assert sessions.get(s.id, now=1.0) is None
    assert not sessions.drop(s.id)


def test_drop_user_ends_all_their_sessions_and_no_other() -> None:
    """A removed user loses every open session; other users keep theirs."""
    sessions = store()
    a1 = sessions.create("alice", Role.ADMIN, "10.0.0.1", now=0.0)
    a2 = sessions.create("alice", Role.ADMIN, "10.0.0.9", now=0.0)
    b = sessions.create("bob", Role.VIEWER, "10.0.0.2", now=0.0)
    assert sessions.drop_user("alice") == 2
    assert sessions.get(a1.id, now=1.0) is None
    assert sessions.get(a2.id, now=1.0) is None
    assert sessions.get(b.id, now=1.0) == b


def test_csrf_check_accepts_only_the_sessions_token() -> None:
    """The right token passes; another session's, a wrong or an empty one fails."""
    sessions = store()
    s = sessions.create("alice", Role.ADMIN, "10.0.0.1", now=0.0)
    other = sessions.create("bob", Role.ADMIN, "10.0.0.2", now=0.0)
    assert sessions.check_csrf(s, s.csrf)
    assert not sessions.check_csrf(s, other.csrf)
    assert not sessions.check_csrf(s, "")
    assert not sessions.check_csrf(s, "é" * 43)


def test_the_number_of_sessions_is_bounded_oldest_first() -> None:
    """Past max_sessions the oldest login is evicted, the newest kept."""
    sessions = store(max_sessions=3)
    created = [sessions.create(f"u{i}", Role.VIEWER, "10.0.0.1", now=float(i)) for i in range(5)]
    assert len(sessions) == 3
    assert sessions.get(created[0].id, now=5.0) is None
    assert sessions.get(created[1].id, now=5.0) is None
    assert all(sessions.get(s.id, now=5.0) == s for s in created[2:])


def test_prune_drops_only_expired_sessions() -> None:
    """A sweep removes idle sessions without touching live ones."""
    sessions = store()
    old = sessions.create("old", Role.VIEWER, "10.0.0.1", now=0.0)
    new = sessions.create("new", Role.VIEWER, "10.0.0.1", now=IDLE)
    assert sessions.prune(now=IDLE + 1) == 1
    assert sessions.get(old.id, now=IDLE + 1) is None
    assert sessions.get(new.id, now=IDLE + 1) == new


def test_the_store_reads_its_clock_when_no_time_is_given() -> None:
    """Without `now`, the injected clock decides expiry."""
    now = [0.0]
    sessions = SessionStore(ttl_s=TTL, idle_s=IDLE, clock=lambda: now[0])
    s = sessions.create("bob", Role.VIEWER, "10.0.0.2")
    now[0] = IDLE - 1
    assert sessions.get(s.id) == s
    now[0] = IDLE
    assert sessions.get(s.id) is None


def test_session_repr_hides_id_and_csrf_token() -> None:
    """A session written to a log does not give its cookie or token away."""
    s = store().create("alice", Role.ADMIN, "10.0.0.1", now=0.0)
    assert s.id not in repr(s)
    assert s.csrf not in repr(s)


def test_the_store_refuses_meaningless_limits() -> None:
    """A zero or negative limit is a wiring mistake, refused at once."""
    with pytest.raises(ValueError, match="positive"):
        store(ttl_s=0.0)
    with pytest.raises(ValueError, match="positive"):
        store(idle_s=-1.0)
    with pytest.raises(ValueError, match="at least 1"):
        store(max_sessions=0)


def test_a_user_keeps_at_most_max_per_user_sessions_oldest_going_first() -> None:
    """The 21st session of one user ends their oldest; other users keep theirs."""
    sessions = SessionStore(ttl_s=TTL, idle_s=IDLE, max_per_user=20)
    other = sessions.create("bob", Role.VIEWER, "10.0.0.2", now=0.0)
    mine = [sessions.create("alice", Role.ADMIN, "10.0.0.1", now=float(i)) for i in range(21)]
    assert len(sessions) == 21
    assert sessions.get(mine[0].id, now=30.0) is None
    assert all(sessions.get(s.id, now=30.0) == s for s in mine[1:])
    assert sessions.get(other.id, now=30.0) == other


def test_a_full_store_drops_expired_sessions_before_live_ones() -> None:
    """At the bound, idle sessions go first: an older session still in use stays."""
    sessions = store(max_sessions=3)
    kept = sessions.create("u0", Role.VIEWER, "10.0.0.1", now=0.0)
    idle = [sessions.create(f"u{i}", Role.VIEWER, "10.0.0.1", now=10.0) for i in (1, 2)]
    assert sessions.touch(kept.id, now=IDLE - 1) is not None
    new = sessions.create("u3", Role.VIEWER, "10.0.0.1", now=IDLE + 10.0)
    assert len(sessions) == 2
    assert sessions.get(kept.id, now=IDLE + 10.0) is not None
    assert all(sessions.get(s.id, now=IDLE + 10.0) is None for s in idle)
    assert sessions.get(new.id, now=IDLE + 10.0) == new


def test_ended_sessions_no_longer_count_against_their_user() -> None:
    """Sessions dropped, expired or swept free their user's places."""
    sessions = SessionStore(ttl_s=TTL, idle_s=IDLE, max_per_user=2)
    a = sessions.create("alice", Role.ADMIN, "10.0.0.1", now=0.0)
    b = sessions.create("alice", Role.ADMIN, "10.0.0.1", now=0.0)
    assert sessions.drop(a.id)
    c = sessions.create("alice", Role.ADMIN, "10.0.0.1", now=1.0)
    assert sessions.get(b.id, now=1.0) == b
    assert sessions.prune(now=IDLE + 0.5) == 1
    d = sessions.create("alice", Role.ADMIN, "10.0.0.1", now=IDLE + 0.5)
    assert sessions.get(c.id, now=IDLE + 0.5) == c
    assert sessions.get(d.id, now=IDLE + 0.5) == d
    assert sessions.drop_user("alice") == 2
    assert len(sessions) == 0


def test_a_zero_per_user_limit_is_refused() -> None:
    """A user allowed no session at all is a wiring mistake."""
    with pytest.raises(ValueError, match="max_per_user at least 1"):
        SessionStore(ttl_s=TTL, idle_s=IDLE, max_per_user=0)
