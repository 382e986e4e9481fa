"""The configuration's shape: frozen pydantic models that reject unknown keys and bad values."""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, Self
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from acd.config import checks
from acd.config.errors import Loc
from acd.config.secret import SecretRef
from acd.core.spec import Strategy

DEFER_CROSS_CHECKS = "acd.config.defer-cross-checks"
"""Validation context key: the loader runs the cross-reference checks itself, with paths."""

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

Seconds = Annotated[float, Field(ge=0)]
PositiveSeconds = Annotated[float, Field(gt=0)]
Penalty = Annotated[int, Field(ge=0)]
Port = Annotated[int, Field(ge=1, le=65535)]
Text = Annotated[str, Field(min_length=1)]
SkillLevels = dict[Ident, Annotated[int, Field(ge=1)]]


def _url_checker(*schemes: str) -> AfterValidator:
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


class _Model(BaseModel):
    # Inputs stay out of error texts: a misplaced password must not end up in a log.
    model_config = ConfigDict(
        extra="forbid", frozen=True, use_attribute_docstrings=True, hide_input_in_errors=True
    )


class InstanceConfig(_Model):
    """This ACD instance, as named in logs, the journal and the console."""

    name: Ident


class AmiEndpointConfig(_Model):
    """One Asterisk reached over AMI (manager.conf)."""

    name: Ident
    host: Text
    port: Port = 5038
    username: Text
    secret: SecretRef
    tls: bool = False
    heartbeat_var: str = Field(default="ACD_HEARTBEAT", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """Global dialplan variable the ACD refreshes; when stale, the dialplan falls back."""


class SentinelConfig(_Model):
    """One Redis Sentinel."""

    host: Text
    port: Port = 26379


class RedisConfig(_Model):
    """The hot state store; ``memory://`` keeps it in process (single instance, no failover)."""

    url: Annotated[str, _url_checker("redis", "rediss", "unix", "memory")]
    password: SecretRef | None = None
    sentinels: tuple[SentinelConfig, ...] = ()
    master_name: Text | None = None
    """Sentinel master name; required with ``sentinels``."""
    tls: bool = False


class JournalConfig(_Model):
    """The durable journal of calls and decisions (SQL database)."""

    url: Annotated[
        str,
        _url_checker("sqlite", "postgresql", "postgresql+psycopg", "oracle+oracledb", "memory"),
    ]
    password: SecretRef | None = None


class ConsoleConfig(_Model):
    """The supervisors' web console."""

    host: Text = "127.0.0.1"
    port: Port = 8015


class PriorityClassConfig(_Model):
    """A caller priority; ``head_start_s`` is the wait credited on arrival (may be negative)."""

    name: Ident
    head_start_s: float = Field(ge=-3600, le=3600)


class PrioritiesConfig(_Model):
    """Priority classes and the one given to calls that name none."""

    classes: tuple[PriorityClassConfig, ...] = Field(
        default=(PriorityClassConfig(name="normal", head_start_s=0.0),), min_length=1
    )
    default: Ident = "normal"


class DefaultsConfig(_Model):
    """Platform-wide defaults; a queue or department value overrides them."""

    strategy: Strategy = Strategy.LONGEST_IDLE
    ring_timeout_s: PositiveSeconds = 20.0
    wrapup_s: Seconds = 0.0
    short_abandon_s: Seconds = 5.0
    no_answer_pause: bool = True
    """Pause an agent whose phone rang out."""
    no_answer_pause_s: PositiveSeconds | None = None
    """Unpause automatically after this long; null waits for the agent or a supervisor."""
    busy_retry_s: Seconds = 10.0
    offer_guard_s: Seconds = 5.0
    sl_short_s: PositiveSeconds = 30.0
    sl_target_s: PositiveSeconds = 60.0
    aht_prior_s: PositiveSeconds = 120.0
    """Average handle time assumed before any call was handled."""


class PenaltyStepConfig(_Model):
    """From ``after_s`` of wait on, agents up to ``max_penalty`` may take the call."""

    after_s: Seconds
    max_penalty: Penalty


class QueueConfig(_Model):
    """One queue of a department; unset values come from ``defaults``."""

    id: Ident
    """Unique across the platform, e.g. ``75-general``."""
    strategy: Strategy | None = None
    ring_timeout_s: PositiveSeconds | None = None
    wrapup_s: Seconds | None = None
    max_length: Annotated[int, Field(ge=1)] | None = None
    max_wait_s: PositiveSeconds | None = None
    join_empty: bool = True
    leave_empty: bool = False
    base_max_penalty: Penalty = 0
    penalty_steps: tuple[PenaltyStepConfig, ...] = ()
    required_skills: SkillLevels = Field(default_factory=dict)


class DepartmentConfig(_Model):
    """A département's SAMU; its first queue receives its calls by default."""

    id: DeptIdText
    name: Text
    short_abandon_s: Seconds | None = None
    queues: tuple[QueueConfig, ...] = Field(min_length=1)


class ServesConfig(_Model):
    """Which queues of a department an agent takes, and at what penalty."""

    dept: DeptIdText
    penalty: Penalty = 0
    queues: tuple[Ident, ...] | None = Field(default=None, min_length=1)
    """Queue ids of that department; absent means all of them."""


class AgentConfig(_Model):
    """A call-taker (ARM)."""

    id: Ident
    name: Text
    endpoint: str = Field(pattern=r"^[A-Za-z0-9_-]+/\S+$")
    """Dial string of the agent's phone, e.g. ``PJSIP/arm-7501``."""
    serves: tuple[ServesConfig, ...] = Field(min_length=1)
    skills: SkillLevels = Field(default_factory=dict)
    wrapup_s: Seconds | None = None


class PartnerConfig(_Model):
    """A SAMU outside this platform that can take overflowing calls."""

    id: Ident
    name: Text
    number: str = Field(pattern=r"^\+?[0-9]+$")
    trunk: Text


class RuleConfig(_Model):
    """An overflow chain: partners tried in order, each only if it can take the call now."""

    id: Ident
    partners: tuple[Ident, ...] = Field(min_length=1)
    """Department ids of this platform or external partner ids."""


class OverflowConfig(_Model):
    """Entraide between SAMU: external partners and each department's overflow rules."""

    partners: tuple[PartnerConfig, ...] = ()
    rules: dict[DeptIdText, tuple[RuleConfig, ...]] = Field(default_factory=dict)


class AcdConfig(_Model):
    """The whole ACD configuration."""

    instance: InstanceConfig
    pbx: tuple[AmiEndpointConfig, ...] = Field(min_length=1)
    redis: RedisConfig
    journal: JournalConfig
    console: ConsoleConfig = ConsoleConfig()
    priorities: PrioritiesConfig = PrioritiesConfig()
    defaults: DefaultsConfig = DefaultsConfig()
    departments: tuple[DepartmentConfig, ...] = Field(min_length=1)
    agents: tuple[AgentConfig, ...]
    overflow: OverflowConfig = OverflowConfig()

    _source_version: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _cross_references(self, info: ValidationInfo) -> Self:
        if isinstance(info.context, dict) and info.context.get(DEFER_CROSS_CHECKS):
            return self
        problems = checks.cross_check(self)
        if problems:
            raise PydanticCustomError(
                "invalid-config",
                "{details}",
                {"details": "; ".join(str(p) for p in problems)},
            )
        return self

    @property
    def version(self) -> str:
        """Short hash of the source file, or of the canonical content when built in code."""
        if self._source_version is not None:
            return self._source_version
        return config_version(self.model_dump_json().encode())

    def with_source_version(self, version: str) -> Self:
        """A copy stamped with the version of the file it was read from."""
        stamped = self.model_copy()
        stamped._source_version = version
        return stamped


def config_version(raw: bytes) -> str:
    """The configuration version: the first 12 hex digits of the SHA-256 of its bytes."""
    return hashlib.sha256(raw).hexdigest()[:12]


def secret_refs(cfg: AcdConfig) -> list[tuple[Loc, SecretRef]]:
    """Every secret reference of a configuration, with its path, for run-time resolution."""
    found: list[tuple[Loc, SecretRef]] = [
        (("pbx", i, "secret"), pbx.secret) for i, pbx in enumerate(cfg.pbx)
    ]
    if cfg.redis.password is not None:
        found.append((("redis", "password"), cfg.redis.password))
    if cfg.journal.password is not None:
        found.append((("journal", "password"), cfg.journal.password))
    return found
