"""The core's error tree: every error carries a stable slug the outer layers map to a status."""

from __future__ import annotations


class CoreError(Exception):
    """Base of every error the core raises; ``slug`` is stable and machine-readable."""

    slug = "core-error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class IllegalTransition(CoreError):
    """A state machine was asked for a move its table does not allow; nothing changed."""

    slug = "illegal-transition"


class UnknownCall(CoreError):
    """An event names a call the engine does not know."""

    slug = "unknown-call"


class UnknownAgent(CoreError):
    """An event names an agent the configuration does not declare."""

    slug = "unknown-agent"


class UnknownQueue(CoreError):
    """An event names a queue or department the configuration does not declare."""

    slug = "unknown-queue"


class CallNotWaiting(CoreError):
    """A supervisor's action needs a waiting call: this one rings, overflows or ended."""

    slug = "call-not-waiting"


class UnknownPartner(CoreError):
    """An overflow names a partner the engine does not know, or the call's own department."""

    slug = "unknown-partner"


class DuplicateCall(CoreError):
    """A call arrived twice with the same identity while still live."""

    slug = "duplicate-call"


class InvalidSpec(CoreError):
    """The engine's specification is inconsistent (a bug in the configuration layer)."""

    slug = "invalid-spec"
