"""The console's errors: every refusal is an HTTP status with a stable slug and a sentence."""

from __future__ import annotations

from typing import Any

STATUS_OF_SLUG: dict[str, int] = {
    "invalid-request": 422,
    "not-authenticated": 401,
    "bad-credentials": 401,
    "forbidden": 403,
    "csrf-failed": 403,
    "origin-refused": 403,
    "too-many-attempts": 429,
    "too-many-streams": 429,
    "not-found": 404,
    "unknown-department": 404,
    "unknown-agent": 404,
    "unknown-call": 404,
    "unknown-callback": 404,
    "unknown-partner": 422,
    "call-not-waiting": 409,
    "illegal-transition": 409,
    "not-active": 409,
    "config-rejected": 422,
    "method-not-allowed": 405,
    "unsupported-media-type": 415,
    "request-too-large": 413,
    "journal-unavailable": 503,
}
"""Every slug the API answers with, and its status: the OpenAPI document lists them."""


class ApiError(Exception):
    """A request the console refuses: ``slug`` is stable, ``message`` is for people."""

    def __init__(self, slug: str, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        if slug not in STATUS_OF_SLUG:
            raise ValueError(f"undeclared error slug {slug!r}")
        self.slug = slug
        self.status = STATUS_OF_SLUG[slug]
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        """The JSON body: ``{"error": {"slug", "message", "details"?}}``."""
        doc: dict[str, Any] = {"slug": self.slug, "message": self.message}
        if self.details is not None:
            doc["details"] = self.details
        return {"error": doc}
