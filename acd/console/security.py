"""Who is asking: a session cookie from the login form, or a trusted SSO proxy's headers.

Sessions live in this process (``acd.console.sessions``): a restart or a failover asks
people to log in again. A change (any method but GET) must carry the session's CSRF token
in ``X-CSRF-Token`` and, when the browser says where it comes from, come from this
console's own origin.

Passwords are checked off the event loop, one at a time, on a thread of their own: argon2
takes tens of milliseconds and tens of MiB that routing must not wait for. At most
``MAX_WAITING_CHECKS`` more wait their turn; beyond, a login is refused at once (429). Each
attempt counts as a failure *before* its check (a success clears it), so that a burst of
concurrent guesses meets the limit as a sequence would. Failures are limited per user name
from one address and per address (``login_max_failures``), and per user name alone only
beyond ``USER_CEILING`` times that: nobody can lock a supervisor out from another address.

The address is the peer's, or behind a trusted proxy the last one of X-Forwarded-For: the
proxy must send it, or every login seems to come from the proxy and one person's mistakes
hold everybody back.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from aiohttp import web

from acd.config.models import ConsoleConfig
from acd.console.errors import ApiError
from acd.console.ratelimit import LoginLimiter
from acd.console.roles import Role, parse_role
from acd.console.sessions import Session, SessionStore
from acd.console.users import User, UsersFile

log = logging.getLogger("acd.console")

COOKIE = "acd_session"
CSRF_HEADER = "X-CSRF-Token"
MAX_WAITING_CHECKS = 4
"""Password checks that may wait behind the running one; more logins are refused at once."""
USER_CEILING = 4
"""A user name alone is held back after this many times ``login_max_failures`` (anti
brute force from many addresses); from one address the plain limit applies."""
_LOCAL_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9/_.~%?=&-]*")


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
    """Too many failed logins (or too many at once): ``retry_after`` seconds to wait."""

    def __init__(
        self, retry_after: float, message: str = "too many failed logins: wait and try again"
    ) -> None:
        super().__init__("too-many-attempts", message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class _Key:
    """One count a login attempt goes under: ``kind`` names it in the audit trail."""

    kind: str
    key: str
    limiter: LoginLimiter


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
        """Failures per address, and per user name from one address."""
        self.user_limiter = LoginLimiter(
            max_failures=USER_CEILING * auth.login_max_failures, window_s=auth.login_window_s
        )
        """Failures per user name, from any address."""
        self._trusted = [ipaddress.ip_network(p, strict=False) for p in auth.trusted_proxies]
        self._checker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="acd-login")
        self._checks = 0  # password checks running or waiting
        self._closed = False
        self._warned_repeated = False

    def close(self) -> None:
        """Stop the password-check thread (with the server); later logins are refused."""
        self._closed = True
        self._checker.shutdown(wait=False, cancel_futures=True)

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
            return self._from_proxy(request, session, now)
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

    def _from_proxy(
        self, request: web.Request, session: Session | None, now: float
    ) -> Identity | None:
        if not self._trusted_peer(request):
            return None
        auth = self.config.auth
        user = self._single_header(request, auth.proxy_user_header)
        role_name = self._single_header(request, auth.proxy_role_header)
        if not user or role_name is None:
            return None
        try:
            role = parse_role(role_name or "viewer")
        except ValueError:
            role = Role.VIEWER
        if session is not None and (session.user != user or session.role != role):
            session = None  # the proxy now speaks for someone else: a new session
        if session is not None:
            session = self.sessions.touch(session.id, now) or session
        return Identity(user=user, role=role, source=self.source(request), session=session)

    def _single_header(self, request: web.Request, name: str) -> str | None:
        """The header's value ("" when absent); ``None`` when it came more than once.

        A proxy that adds its header instead of replacing the client's would otherwise let
        the client's value (the first) win: such a request is nobody's.
        """
        values = request.headers.getall(name, [])
        if len(values) > 1:
            if not self._warned_repeated:
                self._warned_repeated = True
                log.warning(
                    "console: %s came %d times in one request: not authenticated; the proxy "
                    "must replace identity headers sent by clients, not add its own",
                    name,
                    len(values),
                )
            return None
        return values[0].strip() if values else ""

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
        if request.headers.get("Sec-Fetch-Site") == "cross-site" or not self.same_origin(request):
            raise ApiError("origin-refused", "changes are accepted from the console itself only")
        token = request.headers.get(CSRF_HEADER, "")
        if who.session is None or not self.sessions.check_csrf(who.session, token):
            raise ApiError("csrf-failed", f"missing or wrong {CSRF_HEADER} header")

    def same_origin(self, request: web.Request) -> bool:
        """Whether the browser's Origin (when it names one) is this console's own."""
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
        anon = Identity(user=username, role=Role.VIEWER, source=source)
        keys = (
            # The address cannot hold a newline (a header value): the pair key is unambiguous.
            _Key("user+address", f"pair:{source}\n{username}", self.limiter),
            _Key("address", f"ip:{source}", self.limiter),
            _Key("user", f"user:{username}", self.user_limiter),
        )
        self._check_limits(anon, keys, now)
        if self._closed or self._checks > MAX_WAITING_CHECKS:
            if self.limiter.first_refusal("busy", now):
                log.warning("console: too many logins at once, refusing some (429)")
            raise LoginRefused(1.0, "too many logins at once: try again in a second")
        for k in keys:  # counted before the check: concurrent attempts see it
            k.limiter.failed(k.key, now)
        user = await self._verify(self.users, username, password)
        if user is None:
            self.audit(anon, "login-failed", username, {})
            raise ApiError("bad-credentials", "wrong user name or password")
        for k in keys:
            k.limiter.succeeded(k.key)
        session = self.sessions.create(user.name, user.role, source, now)
        who = Identity(user=user.name, role=user.role, source=source, session=session)
        self.audit(who, "login", user.name, {})
        return session

    def _check_limits(self, anon: Identity, keys: tuple[_Key, ...], now: float) -> None:
        """Refuse (429) while any count is at its limit; audited once per count and window."""
        held = [(k, w) for k in keys if (w := k.limiter.retry_after(k.key, now)) is not None]
        if not held:
            return
        wait = max(w for _, w in held)
        # Every held count is noted (no short-circuit), so each is reported once only.
        first = [k.kind for k, _ in held if k.limiter.first_refusal(k.key, now)]
        if first:
            details = {"retry_after_s": round(wait), "held": [k.kind for k, _ in held]}
            self.audit(anon, "login-refused", anon.user, details)
        raise LoginRefused(wait)

    async def _verify(self, users: UsersFile, username: str, password: str) -> User | None:
        """``users.verify`` on the password thread: one check at a time, off the event loop."""
        loop = asyncio.get_running_loop()
        self._checks += 1
        try:
            return await loop.run_in_executor(self._checker, users.verify, username, password)
        finally:
            self._checks -= 1

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
        """The client's address: the peer, or the last one a trusted proxy forwarded.

        Several X-Forwarded-For headers read as one list: the proxy's entry is the last.
        """
        peer = request.remote or "?"
        if self._trusted_peer(request):
            forwarded = ",".join(request.headers.getall("X-Forwarded-For", []))
            if forwarded:
                return forwarded.split(",")[-1].strip() or peer
        return peer

    @staticmethod
    def local_path(value: str) -> str:
        """``value`` if it is a path of this site that is safe to redirect to, else ``/``.

        Only letters, digits and ``/_.~%?=&-``: no control character, space or backslash
        (browsers drop tabs and newlines: a slash, a tab and a slash make ``//``, another
        host), and no second slash or backslash right after the first, before or after
        percent-decoding.
        """
        if _LOCAL_PATH.fullmatch(value) and _LOCAL_PATH.fullmatch(unquote(value)):
            return value
        return "/"

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
