"""The configuration's shape: frozen pydantic models that reject unknown keys and bad values."""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal, Self

from pydantic import (
    Field,
    PrivateAttr,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

from acd.config import checks
from acd.config.errors import Loc
from acd.config.fields import (
    DeptIdText,
    Ident,
    IpNetworkText,
    Model,
    Penalty,
    Port,
    PositiveSeconds,
    Seconds,
    SkillLevels,
    Text,
    url_checker,
)
from acd.config.overflow import OverflowConfig
from acd.config.secret import SecretRef
from acd.core.spec import Strategy

DEFER_CROSS_CHECKS = "acd.config.defer-cross-checks"
"""Validation context key: the loader runs the cross-reference checks itself, with paths."""


class InstanceConfig(Model):
    """This ACD instance, as named in logs, the journal and the console."""

    name: Ident


class AmiEndpointConfig(Model):
    """One Asterisk reached over AMI (manager.conf)."""

    name: Ident
    host: Text
    port: Port = 5038
    username: Text
    secret: SecretRef
    tls: bool = False
    heartbeat_var: str = Field(default="ACD_HEARTBEAT", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """Global dialplan variable the ACD refreshes; when stale, the dialplan falls back."""


class SentinelConfig(Model):
    """One Redis Sentinel."""

    host: Text
    port: Port = 26379


class RedisConfig(Model):
    """The hot state store; ``memory://`` keeps it in process (single instance, no failover)."""

    url: Annotated[str, url_checker("redis", "rediss", "unix", "memory")]
    password: SecretRef | None = None
    sentinels: tuple[SentinelConfig, ...] = ()
    master_name: Text | None = None
    """Sentinel master name; required with ``sentinels``."""
    tls: bool = False


class JournalConfig(Model):
    """The durable journal of calls and decisions (SQL database)."""

    url: Annotated[
        str,
        url_checker(
            "sqlite",
            "postgresql",
            "postgresql+asyncpg",
            "postgresql+psycopg",
            "oracle+oracledb",
            "memory",
        ),
    ]
    password: SecretRef | None = None
    spool: Text = "var/acd-journal.spool"
    """Local append-only file where journal entries wait while Redis or SQL cannot take them."""


class HaConfig(Model):
    """Leadership: one lease in the journal database decides which instance acts.

    The active instance renews it every ``renew_every_s`` and stops acting as soon as its
    last renew is older than ``lease_ttl_s - margin_s``; a standby takes over once the
    lease has expired (the database's clock decides).
    """

    lease_name: Ident = "acd"
    lease_ttl_s: PositiveSeconds = 2.0
    renew_every_s: PositiveSeconds = 0.3
    margin_s: Seconds = 0.5

    @model_validator(mode="after")
    def _renew_in_time(self) -> Self:
        if self.renew_every_s >= self.lease_ttl_s - self.margin_s:
            raise PydanticCustomError(
                "lease-timing",
                "renew_every_s ({renew}) must be shorter than lease_ttl_s - margin_s ({left})",
                {"renew": self.renew_every_s, "left": self.lease_ttl_s - self.margin_s},
            )
        return self


class ConsoleAuthConfig(Model):
    """Who may use the console: a file of argon2 password hashes, or a trusted SSO proxy."""

    mode: Literal["users", "proxy"] = "users"
    """``users``: login form checked against ``users_file`` (``acd users add``); ``proxy``:
    the reverse proxy in front authenticates and names the user and role in headers."""
    users_file: Text = "var/acd-console-users.yaml"
    """Hashes only (argon2id), one entry per user with a role; keep it out of the repository."""
    proxy_user_header: Text = "X-Remote-User"
    proxy_role_header: Text = "X-Remote-Role"
    """Value: viewer, supervisor or admin. A request without it gets the viewer role."""
    trusted_proxies: tuple[IpNetworkText, ...] = ("127.0.0.1", "::1")
    """IP addresses or networks (not host names) whose identity headers, X-Forwarded-For,
    X-Forwarded-Host and X-Forwarded-Proto are believed; other peers' are ignored. The proxy
    must set X-Forwarded-For (appending the client's address): without it every login seems
    to come from the proxy, and the per-address login limit then holds everybody back."""
    session_ttl_s: PositiveSeconds = 12 * 3600.0
    """A session ends this long after login, whatever happens (a night shift)."""
    session_idle_s: PositiveSeconds = 2 * 3600.0
    """A session with no request and no open live stream for this long ends."""
    login_max_failures: Annotated[int, Field(ge=1)] = 5
    """Failed logins allowed per address, and per user name from one address, within
    ``login_window_s``; a user name alone is held back only after four times as many (from
    any addresses), so that nobody can lock a supervisor out from elsewhere."""
    login_window_s: PositiveSeconds = 300.0


class ConsoleConfig(Model):
    """The supervisors' web console (served by ``acd run`` beside the routing)."""

    enabled: bool = True
    host: Text = "127.0.0.1"
    """Loopback by default: publish it through the site's reverse proxy (TLS, SSO)."""
    port: Annotated[int, Field(ge=0, le=65535)] = 8015
    """0: any free port (tests), logged at start."""
    lang: Literal["fr", "en"] = "fr"
    """Default language of the pages (each user can switch)."""
    secure_cookies: bool | None = None
    """``None``: the session cookie is ``Secure`` when the request came over TLS (directly or
    as a trusted proxy's ``X-Forwarded-Proto: https``); ``true`` forces it."""
    wait_amber_s: PositiveSeconds = 30.0
    """Longest wait at which a department's tile turns amber."""
    wait_red_s: PositiveSeconds = 60.0
    """... and red (the SAMU target: answered within 60 s)."""
    service_level_target: Annotated[float, Field(gt=0, le=1)] = 0.99
    """Share of calls to answer within ``defaults.sl_target_s``, shown against the figures."""
    callbacks_window_h: Annotated[float, Field(gt=0, le=24 * 31)] = 48.0
    """The callback list shows the calls abandoned this many hours back (older ones stay
    in the journal, for reports)."""
    auth: ConsoleAuthConfig = ConsoleAuthConfig()

    @model_validator(mode="after")
    def _thresholds_in_order(self) -> Self:
        if self.wait_red_s <= self.wait_amber_s:
            raise PydanticCustomError(
                "console-thresholds",
                "wait_red_s ({red}) must be greater than wait_amber_s ({amber})",
                {"red": self.wait_red_s, "amber": self.wait_amber_s},
            )
        return self


class PriorityClassConfig(Model):
    """A caller priority; ``head_start_s`` is the wait credited on arrival (may be negative)."""

    name: Ident
    head_start_s: float = Field(ge=-3600, le=3600)


class PrioritiesConfig(Model):
    """Priority classes and the one given to calls that name none."""

    classes: tuple[PriorityClassConfig, ...] = Field(
        default=(PriorityClassConfig(name="normal", head_start_s=0.0),), min_length=1
    )
    default: Ident = "normal"


class DefaultsConfig(Model):
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


class PenaltyStepConfig(Model):
    """From ``after_s`` of wait on, agents up to ``max_penalty`` may take the call."""

    after_s: Seconds
    max_penalty: Penalty


class QueueConfig(Model):
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


class DepartmentConfig(Model):
    """A département's SAMU; its first queue receives its calls by default."""

    id: DeptIdText
    name: Text
    short_abandon_s: Seconds | None = None
    queues: tuple[QueueConfig, ...] = Field(min_length=1)


class ServesConfig(Model):
    """Which queues of a department an agent takes, and at what penalty."""

    dept: DeptIdText
    penalty: Penalty = 0
    queues: tuple[Ident, ...] | None = Field(default=None, min_length=1)
    """Queue ids of that department; absent means all of them."""


class AgentConfig(Model):
    """A call-taker (ARM)."""

    id: Ident
    name: Text
    endpoint: str = Field(pattern=r"^[A-Za-z0-9_-]+/[^\s&,|]+$")
    """One phone's dial string; ``&`` (several phones) and ``,`` (Dial options) refused."""
    """Dial string of the agent's phone, e.g. ``PJSIP/arm-7501``."""
    serves: tuple[ServesConfig, ...] = Field(min_length=1)
    skills: SkillLevels = Field(default_factory=dict)
    wrapup_s: Seconds | None = None


class AcdConfig(Model):
    """The whole ACD configuration."""

    instance: InstanceConfig
    pbx: tuple[AmiEndpointConfig, ...] = Field(min_length=1)
    redis: RedisConfig
    journal: JournalConfig
    ha: HaConfig = HaConfig()
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
