"""Field types shared by the configuration models: ids, durations, the strict base model."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

_DEPT_RE = re.compile(r"^(?:[0-9]{2,3}|2[AB])$")
_IDENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _dept_id(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        raise PydanticCustomError(
            "dept-id-not-text",
            "a department id is text: write it in quotes, e.g. '{value}' "
            "(unquoted, YAML reads a number)",
            {"value": f"{value:02d}"},
        )
    if isinstance(value, str) and not _DEPT_RE.match(value):
        raise PydanticCustomError(
            "bad-dept-id",
            "'{value}' is not a department id (two or three digits, or 2A / 2B)",
            {"value": value},
        )
    return value


def _ident(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        raise PydanticCustomError(
            "id-not-text", "an id is text: write it in quotes, e.g. '{value}'", {"value": value}
        )
    if isinstance(value, str) and not _IDENT_RE.match(value):
        raise PydanticCustomError(
            "bad-id",
            "'{value}' is not a valid id: letters, digits, '-', '_' and '.', at most 64",
            {"value": value},
        )
    return value


DeptIdText = Annotated[
    str,
    BeforeValidator(_dept_id),
    WithJsonSchema({"type": "string", "pattern": _DEPT_RE.pattern}),
]
"""A département code as text: ``"75"``, ``"2A"``, ``"971"``."""

Ident = Annotated[
    str,
    BeforeValidator(_ident),
    WithJsonSchema({"type": "string", "pattern": _IDENT_RE.pattern}),
]
"""An identifier: queue, agent, partner, rule, PBX or skill name."""


def _ip_network(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise PydanticCustomError(
            "bad-ip-network",
            "'{value}' is not an IP address or network (e.g. 10.1.2.3 or 10.1.2.0/24): "
            "write the address, not a host name",
            {"value": value},
        ) from None
    return value


IpNetworkText = Annotated[
    str,
    Field(min_length=1),
    AfterValidator(_ip_network),
    WithJsonSchema({"type": "string", "description": "an IP address or a network (CIDR)"}),
]
"""An IP address or network as text: ``"10.1.2.3"``, ``"10.1.2.0/24"``, ``"::1"``."""

Seconds = Annotated[float, Field(ge=0)]
PositiveSeconds = Annotated[float, Field(gt=0)]
Penalty = Annotated[int, Field(ge=0)]
Port = Annotated[int, Field(ge=1, le=65535)]
Text = Annotated[str, Field(min_length=1)]
SkillLevels = dict[Ident, Annotated[int, Field(ge=1)]]


def url_checker(*schemes: str) -> AfterValidator:
    """A validator accepting URLs of these schemes only, never with a password inside."""

    def check(url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in schemes:
            raise PydanticCustomError(
                "bad-url-scheme",
                "unsupported URL scheme '{scheme}': expected one of {expected}",
                {"scheme": parts.scheme, "expected": ", ".join(schemes)},
            )
        if parts.password:
            raise PydanticCustomError(
                "inline-secret",
                "a password is never written in a URL: use the 'password' field "
                "with {env: VAR_NAME} or {file: /path}",
            )
        return url

    return AfterValidator(check)


class Model(BaseModel):
    """The base of every configuration model: unknown keys refused, frozen once loaded."""

    # Inputs stay out of error texts: a misplaced password must not end up in a log.
    model_config = ConfigDict(
        extra="forbid", frozen=True, use_attribute_docstrings=True, hide_input_in_errors=True
    )
