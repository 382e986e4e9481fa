"""API routes as data: each declares its role, body, answer and refusals; one wrapper enforces them.

The same table makes the aiohttp routes and the OpenAPI document, so what the document
says (who may call a route, what it takes, what it answers, how it refuses) is what the
server does.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from acd.console.errors import STATUS_OF_SLUG, ApiError
from acd.console.models import Body, ErrorBody, Out
from acd.console.roles import Role
from acd.console.security import Identity, Security

API = "/api/v1"


@dataclass(frozen=True, slots=True, kw_only=True)
class Call:
    """One request as a handler sees it: who asks, with what."""

    request: web.Request
    who: Identity
    body: Any
    query: Any
    params: dict[str, str]
    after: list[Callable[[web.StreamResponse], None]] = field(default_factory=list)
    """Applied to the answer before it leaves (e.g. setting the session cookie)."""

    @property
    def source(self) -> str:
        """The client address as the console believes it (a trusted proxy's forwarded one)."""
        return self.who.source


Handler = Callable[[Call], Awaitable[Out | None]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """One API operation."""

    method: str
    path: str
    """Below ``/api/v1``, aiohttp style (``/agents/{agent}/pause``)."""
    name: str
    summary: str
    role: Role
    handler: Handler
    response: type[Out] | None = None
    body: type[Body] | None = None
    query: type[BaseModel] | None = None
    status: int = 200
    errors: tuple[str, ...] = ()
    """Refusals particular to this route (the common ones are added for every route)."""
    public: bool = False
    """Callable without a session (login only)."""

    @property
    def changes(self) -> bool:
        """State-changing: CSRF-checked (and audited by its handler)."""
        return self.method != "GET"

    def slugs(self) -> list[str]:
        """Every refusal this route can answer with."""
        common = ["invalid-request"] if self.body or self.query or "{" in self.path else []
        if not self.public:
            common += ["not-authenticated", "forbidden"]
        if self.changes and not self.public:
            common += ["csrf-failed", "origin-refused"]
        if self.body is not None:
            common += ["unsupported-media-type"]
        return list(dict.fromkeys([*common, *self.errors]))


@dataclass
class RouteTable:
    """The API's routes, mounted on an app with the security they declare."""

    security: Security
    routes: list[Route] = field(default_factory=list)

    def add(self, route: Route) -> None:
        """Declare one more operation."""
        self.routes.append(route)

    def mount(self, app: web.Application) -> None:
        """Add every route to the app, each wrapped by :meth:`_wrap`."""
        for route in self.routes:
            app.router.add_route(route.method, API + route.path, self._wrap(route))

    def _wrap(self, route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            try:
                who = await self._admit(route, request)
                call = Call(
                    request=request,
                    who=who,
                    body=await _body(route, request),
                    query=_query(route, request),
                    params=dict(request.match_info),
                )
                result = await route.handler(call)
            except ApiError as err:
                return error_response(err)
            response = (
                web.Response(status=204)
                if result is None
                else web.json_response(
                    result.model_dump(mode="json"), status=route.status, dumps=_dumps
                )
            )
            for hook in call.after:
                hook(response)
            return response

        return handle

    async def _admit(self, route: Route, request: web.Request) -> Identity:
        if route.public:
            return self.security.anonymous(request)
        who = await self.security.identify(request)
        if who is None:
            raise ApiError("not-authenticated", "log in first")
        if not who.role.allows(route.role):
            raise ApiError(
                "forbidden", f"{route.summary.rstrip('.')}: needs the {route.role.value} role"
            )
        if route.changes:
            self.security.check_change(request, who)
        return who


def error_response(err: ApiError) -> web.Response:
    """The JSON answer of a refusal."""
    headers = {}
    retry = getattr(err, "retry_after", None)
    if retry is not None:
        headers["Retry-After"] = str(max(1, round(retry)))
    return web.json_response(err.body(), status=err.status, headers=headers, dumps=_dumps)


def _dumps(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


async def _body(route: Route, request: web.Request) -> Any:
    if route.body is None:
        return None
    if request.content_type != "application/json":
        raise ApiError("unsupported-media-type", "send the body as application/json")
    raw = await request.read()
    try:
        return route.body.model_validate_json(raw or b"{}")
    except ValidationError as err:
        raise ApiError("invalid-request", "the body is not valid", details=_issues(err)) from None


def _query(route: Route, request: web.Request) -> Any:
    if route.query is None:
        return None
    try:
        return route.query.model_validate(dict(request.query))
    except ValidationError as err:
        raise ApiError("invalid-request", "bad query parameters", details=_issues(err)) from None


def _issues(err: ValidationError) -> list[dict[str, str]]:
    return [
        {"loc": ".".join(str(p) for p in e["loc"]) or "body", "msg": e["msg"]}
        for e in err.errors(include_url=False, include_input=False)
    ]


# -- the OpenAPI document ------------------------------------------------------------------------


def openapi(routes: Iterable[Route], *, title: str, version: str) -> dict[str, Any]:
    """OpenAPI 3.1 for the routes: bodies and answers from their pydantic models."""
    routes = list(routes)
    models: set[type[BaseModel]] = {ErrorBody}
    for r in routes:
        models.update(m for m in (r.body, r.response) if m is not None)
    _, defs = models_json_schema(
        [(m, "validation" if issubclass(m, Body) else "serialization") for m in models],
        ref_template="#/components/schemas/{model}",
    )
    paths: dict[str, dict[str, Any]] = {}
    for r in routes:
        paths.setdefault(API + r.path, {})[r.method.lower()] = _operation(r)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": 'Errors answer `{"error": {"slug", "message"}}`; the slug is '
            "stable. Changes need the session cookie and the X-CSRF-Token header.",
        },
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "acd_session"}
            },
        },
    }


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _operation(r: Route) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": r.name,
        "summary": r.summary,
        "description": f"Role: {r.role.value}." if not r.public else "No session needed.",
        "parameters": _parameters(r),
        "responses": {},
    }
    if not r.public:
        op["security"] = [{"session": []}]
    if r.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(r.body)}},
        }
    if r.response is None:
        op["responses"][str(r.status)] = {"description": "Done."}
    else:
        content = {"application/json": {"schema": _ref(r.response)}}
        op["responses"][str(r.status)] = {"description": "OK.", "content": content}
    by_status: dict[int, list[str]] = {}
    for slug in r.slugs():
        by_status.setdefault(STATUS_OF_SLUG[slug], []).append(slug)
    for status, slugs in sorted(by_status.items()):
        op["responses"][str(status)] = {
            "description": "Refused: " + ", ".join(f"`{s}`" for s in slugs),
            "content": {"application/json": {"schema": _ref(ErrorBody)}},
        }
    return op


def _parameters(r: Route) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    for part in r.path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            params.append(
                {
                    "name": part[1:-1],
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 128},
                }
            )
    if r.query is not None:
        schema = r.query.model_json_schema()
        for name, prop in schema.get("properties", {}).items():
            params.append(
                {
                    "name": name,
                    "in": "query",
                    "required": name in schema.get("required", []),
                    "schema": prop,
                }
            )
    return params
