"""Who is asking: a session cookie from the login form, or a trusted SSO proxy's headers.

Sessions live in this process (``acd.console.sessions``): a restart or a failover asks
people to log in again. A change (any method but GET) must carry the session's CSRF token
in ``X-CSRF-Token`` and, when the browser says where it comes from, come from this
console's own origin. Passwords are checked off the event loop: argon2 takes tens of
milliseconds that routing must not wait for.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from acd.config.models import ConsoleConfig
from acd.console.errors import ApiError
from acd.console.ratelimit import LoginLimiter
from acd.console.roles import Role, parse_role
from acd.console.sessions import Session, SessionStore
from acd.console.users import UsersFile

log = logging.getLogger("acd.console")

COOKIE = "acd_session"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """A person (or ``anonymous``) and the role the console grants them."""

    user: str
    role: Role
    source: str
    session: Session | None = None

    @property
    def csrf(self) -> str:
        """The token changes must carry (empty without a session)."""
        return "" if self.session is None else self.session.csrf


AuditHook = Callable[[Identity, str, str, dict[str, Any]], None]
"""(who, action, target, details): writes one audit entry."""


class LoginRefused(ApiError):
    """Too many failed logins: ``retry_after`` seconds to wait."""

    def __init__(self, retry_after: float) -> None:
        super().__init__("too-many-attempts", "too many failed logins: wait and try again")
        self.retry_after = retry_after


class Security:
    """Authentication, roles, CSRF and the login rate limit, as the config says."""

    def __init__(
        self,
        config: ConsoleConfig,
        *,
        users: UsersFile | None,
        audit: AuditHook,
        clock: Callable[[], float] = time.time,
    ) -> None:
        auth = config.auth
        self.config = config
        self.users = users
        self.audit = audit
        self.clock = clock
        self.proxy_mode = auth.mode == "proxy"
        self.sessions = SessionStore(ttl_s=auth.session_ttl_s, idle_s=auth.session_idle_s)
        self.limiter = LoginLimiter(
            max_failures=auth.login_max_failures, window_s=auth.login_window_s
        )
        self._trusted = [ipaddress.ip_network(p, strict=False) for p in auth.trusted_proxies]

    # -- identification --------------------------------------------------------------------

    def anonymous(self, request: web.Request) -> Identity:
        """Nobody yet (the login route)."""
        return Identity(user="anonymous", role=Role.VIEWER, source=self.source(request))

    async def identify(self, request: web.Request) -> Identity | None:
        """The person behind the request, ``None`` if nobody is logged in."""
        now = self.clock()
        session = None
        sid = request.cookies.get(COOKIE)
        if sid:
            session = self.sessions.get(sid, now)
        if self.proxy_mode:
            return self._from_proxy(request, session)
        if session is None:
            return None
        role = self._current_role(session)
        if role is None:
            self.sessions.drop(session.id)
            return None
        self.sessions.touch(session.id, now)
        return Identity(user=session.user, role=role, source=self.source(request), session=session)

    def _current_role(self, session: Session) -> Role | None:
        """The role the users file gives now: a removed user's session ends, a new role applies."""
        if self.users is None:
            return session.role
        user = self.users.lookup(session.user)
        return None if user is None else user.role

    def _from_proxy(self, request: web.Request, session: Session | None) -> Identity | None:
        if not self._trusted_peer(request):
            return None
        auth = self.config.auth
        user = request.headers.get(auth.proxy_user_header, "").strip()
        if not user:
            return None
        try:
            role = parse_role(request.headers.get(auth.proxy_role_header, "viewer").strip())
        except ValueError:
            role = Role.VIEWER
        if session is not None and (session.user != user or session.role != role):
            session = None  # the proxy now speaks for someone else: a new session
        return Identity(user=user, role=role, source=self.source(request), session=session)

    def ensure_session(self, who: Identity) -> Identity:
        """Give a proxy-authenticated person a session (it holds their CSRF token).

        The caller sets the cookie of the new session on its answer (:meth:`set_cookie`).
        """
        if who.session is not None:
            return who
        session = self.sessions.create(who.user, who.role, who.source, self.clock())
        return Identity(user=who.user, role=who.role, source=who.source, session=session)

    # -- changes ---------------------------------------------------------------------------

    def check_change(self, request: web.Request, who: Identity) -> None:
        """A change must come from this console's pages (origin) with the session's token."""
        if request.headers.get("Sec-Fetch-Site") == "cross-site" or not self._same_origin(request):
            raise ApiError("origin-refused", "changes are accepted from the console itself only")
        token = request.headers.get(CSRF_HEADER, "")
        if who.session is None or not self.sessions.check_csrf(who.session, token):
            raise ApiError("csrf-failed", f"missing or wrong {CSRF_HEADER} header")

    def _same_origin(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        if not origin or origin == "null":
            return origin is None
        host = request.headers.get("Host", "")
        if self._trusted_peer(request):
            host = request.headers.get("X-Forwarded-Host", host)
        return urlsplit(origin).netloc == host

    # -- login and logout ------------------------------------------------------------------

    async def login(self, request: web.Request, username: str, password: str) -> Session:
        """Check a password (rate-limited, audited); the new session, or a refusal."""
        if self.proxy_mode or self.users is None:
            raise ApiError("forbidden", "log in through the site's single sign-on")
        source = self.source(request)
        now = self.clock()
        keys = (f"user:{username}", f"ip:{source}")
        waits = [w for w in (self.limiter.retry_after(k, now) for k in keys) if w is not None]
        anon = Identity(user=username, role=Role.VIEWER, source=source)
        if waits:
            self.audit(anon, "login-refused", username, {"retry_after_s": round(max(waits))})
            raise LoginRefused(max(waits))
        user = await asyncio.to_thread(self.users.verify, username, password)
        if user is None:
            for key in keys:
                self.limiter.failed(key, now)
            self.audit(anon, "login-failed", username, {})
            raise ApiError("bad-credentials", "wrong user name or password")
        for key in keys:
            self.limiter.succeeded(key)
        session = self.sessions.create(user.name, user.role, source, now)
        who = Identity(user=user.name, role=user.role, source=source, session=session)
        self.audit(who, "login", user.name, {})
        return session

    def logout(self, who: Identity) -> None:
        """End the session (audited)."""
        if who.session is not None:
            self.sessions.drop(who.session.id)
        self.audit(who, "logout", who.user, {})

    def set_cookie(
        self, request: web.Request, response: web.StreamResponse, session: Session
    ) -> None:
        """The session cookie: HttpOnly, SameSite=Strict, Secure over TLS."""
        response.set_cookie(
            COOKIE,
            session.id,
            httponly=True,
            samesite="Strict",
            secure=self._secure(request),
            path="/",
            max_age=int(self.config.auth.session_ttl_s),
        )

    def clear_cookie(self, response: web.StreamResponse) -> None:
        """Forget the session cookie in the browser."""
        response.del_cookie(COOKIE, path="/")

    # -- the network -----------------------------------------------------------------------

    def source(self, request: web.Request) -> str:
        """The client's address: the peer, or what a trusted proxy forwarded."""
        peer = request.remote or "?"
        if self._trusted_peer(request):
            forwarded = request.headers.get("X-Forwarded-For", "")
            if forwarded:
                return forwarded.split(",")[-1].strip() or peer
        return peer

    def _trusted_peer(self, request: web.Request) -> bool:
        try:
            peer = ipaddress.ip_address(request.remote or "")
        except ValueError:
            return False
        return any(peer in net for net in self._trusted)

    def _secure(self, request: web.Request) -> bool:
        if self.config.secure_cookies is not None:
            return self.config.secure_cookies
        if request.secure:
            return True
        proto = request.headers.get("X-Forwarded-Proto", "")
        return self._trusted_peer(request) and proto.lower() == "https"
