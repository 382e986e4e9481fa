"""The console's web server: pages, API, live stream, health and metrics, on loopback by default.

Built once by the wiring point, started by ``run_service`` once the storage is open and
stopped at wind-down. It runs on the routing's event loop but never holds it: requests
only read the engine or apply one supervisor event, and password checks run in a thread.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import TYPE_CHECKING, Any

from aiohttp import web

from acd import __version__
from acd.console import metrics, pages
from acd.console.api import routes
from acd.console.backend import Backend
from acd.console.errors import ApiError
from acd.console.models import Health
from acd.console.routing import API, RouteTable, error_response, openapi
from acd.console.security import Identity, Security
from acd.console.stream import Feed
from acd.console.users import UsersFile

if TYPE_CHECKING:
    from acd.lifecycle import Service

log = logging.getLogger("acd.console")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

Middleware = Callable[
    [web.Request, Callable[[web.Request], Awaitable[web.StreamResponse]]],
    Awaitable[web.StreamResponse],
]


class ConsoleServer:
    """The aiohttp application of one service, and its listening socket."""

    def __init__(
        self,
        service: Service,
        *,
        feed: Feed,
        clock: Callable[[], float] = time.time,
        users: UsersFile | None = None,
    ) -> None:
        cfg = service.reloader.current.config.console
        self.service = service
        self.feed = feed
        self.clock = clock
        self.host = cfg.host
        self.port = cfg.port
        self.backend = Backend(service, clock=clock)
        if users is None and cfg.auth.mode == "users":
            users = UsersFile(cfg.auth.users_file)
        self.security = Security(cfg, users=users, audit=self.backend.audit, clock=clock)
        feed.today = self.backend.today
        feed.agent_depts = self.backend.agent_depts
        feed.instance = lambda: self.backend.instance().model_dump(mode="json")
        self.table = RouteTable(self.security)
        routes(self.table, self.backend)
        self.app = self._app()
        self._runner: web.AppRunner | None = None
        self._openapi_body: bytes | None = None
        feed.security = self.security

    @property
    def url(self) -> str:
        """Where the console answers (the real port once started)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # -- the app ---------------------------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._headers, self._errors], client_max_size=64 * 1024)
        self.table.mount(app)
        r = app.router
        r.add_get(API + "/openapi.json", self._openapi)
        r.add_get(API + "/stream", self._stream)
        r.add_get("/healthz", self._healthz)
        r.add_get("/readyz", self._readyz)
        r.add_get("/metrics", self._metrics)
        r.add_get("/login", self._login_page)
        r.add_get("/", self._page("wallboard"))
        for page in pages.PAGES:
            if page != "department":
                r.add_get(f"/{page}", self._page(page))
        r.add_get("/departments/{dept}", self._page("department"))
        r.add_get("/lang/{lang}", self._set_lang)
        static = resources.files("acd.console").joinpath("static")
        r.add_static("/static", str(static), append_version=True)
        return app

    @web.middleware
    async def _headers(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # redirects and refusals carry the headers too
            self._secure_headers(request, exc)
            raise
        self._secure_headers(request, response)
        return response

    @staticmethod
    def _secure_headers(request: web.Request, response: web.StreamResponse) -> None:
        h = response.headers
        h.setdefault("Content-Security-Policy", CSP)
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Referrer-Policy", "no-referrer")
        if not request.path.startswith("/static/"):
            h.setdefault("Cache-Control", "no-store")

    @web.middleware
    async def _errors(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if not request.path.startswith(API) or exc.status < 400:
                raise
            slug = {404: "not-found", 405: "method-not-allowed", 413: "request-too-large"}.get(
                exc.status, "invalid-request"
            )
            return error_response(ApiError(slug, exc.reason or "refused"))
        except Exception:
            log.exception("console request %s %s failed", request.method, request.path)
            if request.path.startswith(API):
                return web.json_response(
                    {"error": {"slug": "internal-error", "message": "see the service log"}},
                    status=500,
                )
            raise

    # -- pages -----------------------------------------------------------------------------

    def _lang(self, request: web.Request) -> pages.Lang:
        chosen = request.cookies.get(pages.LANG_COOKIE)
        for lang in pages.LANGS:
            if chosen == lang:
                return lang
        return self.service.reloader.current.config.console.lang

    def _page(self, page: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def show(request: web.Request) -> web.StreamResponse:
            who = await self.security.identify(request)
            if who is None:
                raise web.HTTPFound("/login?next=" + request.path)
            fresh = who.session is None
            who = self.security.ensure_session(who)
            param = request.match_info.get("dept", "")
            if page == "department" and param not in self.service.engine.depts:
                raise web.HTTPNotFound(text="unknown department")
            ctx = pages.PageContext(
                lang=self._lang(request),
                user=who.user,
                role=who.role.value,
                csrf=who.csrf,
                instance=self.backend.instance().name,
                param=param,
            )
            response = web.Response(text=pages.render(page, ctx), content_type="text/html")
            if fresh and who.session is not None:
                self.security.set_cookie(request, response, who.session)
            return response

        return show

    async def _login_page(self, request: web.Request) -> web.StreamResponse:
        if self.security.proxy_mode:
            raise web.HTTPFound("/")
        text = pages.render_login(self._lang(request), self.backend.instance().name)
        return web.Response(text=text, content_type="text/html")

    async def _set_lang(self, request: web.Request) -> web.StreamResponse:
        lang = request.match_info["lang"]
        if lang not in pages.LANGS:
            raise web.HTTPNotFound(text="unknown language")
        # Only a plain path of this site: "/%09/evil.example" would take the browser away.
        response = web.HTTPFound(self.security.local_path(request.query.get("next", "/")))
        response.set_cookie(pages.LANG_COOKIE, lang, samesite="Strict", path="/", max_age=31536000)
        raise response

    # -- API outside the route table -------------------------------------------------------

    async def _openapi(self, request: web.Request) -> web.StreamResponse:
        if self._openapi_body is None:  # made once: the routes do not change
            doc = openapi(self.table.routes, title="ACD 15 console API", version=__version__)
            self._openapi_body = json.dumps(doc, ensure_ascii=False).encode()
        return web.Response(body=self._openapi_body, content_type="application/json")

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        who = await self.security.identify(request)
        if who is None:
            return error_response(ApiError("not-authenticated", "log in first"))
        # A browser names the page that opens a socket: only the console's own may read it.
        if "Origin" in request.headers and not self.security.same_origin(request):
            return error_response(ApiError("origin-refused", "the stream is for the console"))
        if not self.feed.admits(who):
            return error_response(ApiError("too-many-streams", "too many live streams open"))
        return await self.feed.serve(request, who, self.security)

    # -- health and metrics ----------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The whole wallboard, as the stream sends it on connect."""
        return self.backend.wallboard().model_dump(mode="json")

    async def _healthz(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"status": "ok"})

    async def _readyz(self, request: web.Request) -> web.StreamResponse:
        """Ready: configuration loaded and a PBX reachable; ``?role=active`` adds leadership."""
        lead = self.service.leadership
        checks = {
            "config": self.service.reloader.current is not None,
            "pbx": any(c.logged_in for c in self.service.clients),
        }
        if request.query.get("role") == "active":
            checks["active"] = lead.role.value == "active"
        ok = all(checks.values())
        body = Health(status="ok" if ok else "not-ready", role=lead.role.value, checks=checks)
        return web.json_response(body.model_dump(mode="json"), status=200 if ok else 503)

    async def _metrics(self, request: web.Request) -> web.StreamResponse:
        text = await metrics.render(self.service, self.feed, self.clock())
        return web.Response(
            text=text,
            content_type="text/plain",
            charset="utf-8",
            headers={"X-Content-Type-Options": "nosniff"},
        )

    # -- life ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen (port 0: a free port, then :attr:`port` tells which)."""
        self._runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        for address in self._runner.addresses:  # the port chosen for 0
            self.port = int(address[1])
            break
        log.warning("console on %s", self.url)

    async def stop(self) -> None:
        """Close the sockets and stop listening."""
        if self._runner is not None:
            for client in list(self.feed.clients):
                await client.ws.close(code=1001, message=b"service stopping")
            await self._runner.cleanup()
            self._runner = None
        self.security.close()


__all__ = ["ConsoleServer", "Identity"]
