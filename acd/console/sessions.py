"""Console sessions live in this process's memory and end at a fixed lifetime or after idling.

A restart, or a failover to the other node, forgets every session: users log in again.
That is the price of keeping no session secret in Redis or the journal. The number of
sessions is bounded so that even many logins cannot exhaust memory: a user has at most
``MAX_SESSIONS_PER_USER`` (their oldest goes first), and once the store is full the expired
sessions are swept before the oldest live one goes.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace

from acd.console.roles import Role
from acd.ports import WallClock

MAX_SESSIONS = 10_000
MAX_SESSIONS_PER_USER = 20
"""Browsers (or proxy-mode page loads without a cookie) one user keeps sessions for."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """One logged-in browser; ``id`` goes in the cookie, ``csrf`` in each changing request."""

    id: str = field(repr=False)
    csrf: str = field(repr=False)
    user: str
    role: Role
    source: str
    """The address the login came from, for the audit trail."""
    created: float
    last_seen: float


class SessionStore:
    """Sessions by id; ``now`` arguments are read from ``clock`` when left out."""

    def __init__(
        self,
        *,
        ttl_s: float,
        idle_s: float,
        clock: WallClock = time.time,
        max_sessions: int = MAX_SESSIONS,
        max_per_user: int = MAX_SESSIONS_PER_USER,
    ) -> None:
        if ttl_s <= 0 or idle_s <= 0 or max_sessions < 1 or max_per_user < 1:
            raise ValueError(
                "ttl_s and idle_s must be positive, max_sessions and max_per_user at least 1"
            )
        self.ttl_s = ttl_s
        self.idle_s = idle_s
        self.max_sessions = max_sessions
        self.max_per_user = max_per_user
        self._clock = clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()  # oldest login first
        self._by_user: dict[str, dict[str, None]] = {}  # each user's ids, oldest login first

    def __len__(self) -> int:
        return len(self._sessions)

    def create(self, user: str, role: Role, source: str, now: float | None = None) -> Session:
        """A new session for a user who just proved who they are.

        The user's oldest session goes past ``max_per_user``; a full store first drops the
        expired sessions, then the oldest live ones.
        """
        at = self._now(now)
        mine = self._by_user.get(user, {})
        while len(mine) >= self.max_per_user:
            self._remove(next(iter(mine)))
        if len(self._sessions) >= self.max_sessions:
            self.prune(at)
        while len(self._sessions) >= self.max_sessions:
            self._remove(next(iter(self._sessions)))
        session = Session(
            id=secrets.token_urlsafe(32),
            csrf=secrets.token_urlsafe(32),
            user=user,
            role=role,
            source=source,
            created=at,
            last_seen=at,
        )
        self._sessions[session.id] = session
        self._by_user.setdefault(user, {})[session.id] = None
        return session

    def get(self, session_id: str, now: float | None = None) -> Session | None:
        """The live session with this id; an expired one is dropped and ``None`` returned."""
        session = self._sessions.get(session_id)
        if session is None:
            return None
        if self._expired(session, self._now(now)):
            self._remove(session_id)
            return None
        return session

    def touch(self, session_id: str, now: float | None = None) -> Session | None:
        """Record activity on a live session (a request, an open live stream); else ``None``."""
        at = self._now(now)
        session = self.get(session_id, at)
        if session is None:
            return None
        # A clock read slightly out of order must not move the activity back.
        touched = replace(session, last_seen=max(session.last_seen, at))
        self._sessions[session_id] = touched
        return touched

    def drop(self, session_id: str) -> bool:
        """End a session (logout); ``False`` if there was none."""
        return self._remove(session_id)

    def drop_user(self, name: str) -> int:
        """End every session of a user (removed, or role changed); how many ended."""
        ids = list(self._by_user.get(name, ()))
        for sid in ids:
            self._remove(sid)
        return len(ids)

    def prune(self, now: float | None = None) -> int:
        """Drop every expired session; how many went. ``get`` alone only drops those asked for."""
        at = self._now(now)
        ids = [sid for sid, s in self._sessions.items() if self._expired(s, at)]
        for sid in ids:
            self._remove(sid)
        return len(ids)

    def check_csrf(self, session: Session, token: str) -> bool:
        """Whether ``token`` is the session's CSRF token, compared in constant time."""
        if not token:
            return False
        return hmac.compare_digest(session.csrf.encode(), token.encode())

    def _remove(self, session_id: str) -> bool:
        session = self._sessions.pop(session_id, None)
        if session is None:
            return False
        mine = self._by_user.get(session.user)
        if mine is not None:
            mine.pop(session_id, None)
            if not mine:
                del self._by_user[session.user]
        return True

    def _expired(self, session: Session, now: float) -> bool:
        return now - session.created >= self.ttl_s or now - session.last_seen >= self.idle_s

    def _now(self, now: float | None) -> float:
        return self._clock() if now is None else now
