"""The AMI layer's error tree: every error carries a stable slug outer layers map to a status."""

from __future__ import annotations


class AmiError(Exception):
    """Base of every error the AMI layer raises; ``slug`` is stable and machine-readable."""

    slug = "ami-error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AmiProtocolError(AmiError):
    """The codec was misused or asked to produce bytes that would break the AMI framing."""

    slug = "ami-protocol-error"


class HeaderInjection(AmiProtocolError):
    """A header name or value would smuggle a line end (or a separator) onto the wire."""

    slug = "ami-header-injection"


class InvalidCodecSetting(AmiProtocolError):
    """A codec object was built with a setting it cannot honour (e.g. a tiny frame limit)."""

    slug = "ami-invalid-setting"


class DuplicateActionId(AmiProtocolError):
    """An ActionID was registered while another action with the same id is still pending."""

    slug = "ami-duplicate-action-id"


class AmiActionFailed(AmiError):
    """Asterisk answered an action with ``Response: Error``; ``message`` is its ``Message``."""

    slug = "ami-action-failed"


class AmiActionTimeout(AmiError):
    """An action's deadline passed before Asterisk completed it."""

    slug = "ami-action-timeout"


class AmiConnectionLost(AmiError):
    """The session ended with the action in flight: its outcome is unknown, never replay it."""

    slug = "ami-connection-lost"


class AmiLoginFailed(AmiError):
    """Asterisk refused the credentials (it sleeps one second, then closes the session)."""

    slug = "ami-login-failed"
