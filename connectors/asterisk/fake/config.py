"""The fake Asterisk's settings: the dialplan contract's defaults, every delay in model seconds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from connectors.asterisk.fake.traffic import Dist

CONTRACT_CHANNELVARS = ("ACD_STATE", "ACD_DEPT", "ACD_PRIO", "ACD_ENQ_TS", "ACD_ROUTE_ID")
"""manager.conf ``channelvars``: one ``ChanVariable`` line each, in this order."""

CONTRACT_GLOBALS: Mapping[str, str] = MappingProxyType(
    {
        "ACD_HEARTBEAT_MAX": "5",
        "ACD_MAX_WAIT": "900",
        "ACD_RING_TIMEOUT": "20",
        "ACD_OVERFLOW_TIMEOUT": "30",
    }
)
"""extensions.conf ``[globals]``."""

CONTRACT_READ = ("call", "user", "system")
"""The contract's AMI user reads these event classes only (manager.conf ``read``)."""

CONTRACT_EVENT_FILTER = ("Newexten", "VarSet", "RTCP*", "MusicOnHold*", "Newstate")
"""manager.conf ``eventfilter = !Event: ...`` lines: events the contract's user never gets."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FakeConfig:
    """How the fake PBX behaves; ``scale`` turns model seconds into loop seconds.

    EPOCH (and so the heartbeat and ``ACD_MAX_WAIT`` checks) follows the loop clock
    unscaled, like the wall clock the middleware writes its heartbeat with; every other
    delay (loop turn, answer, ring, talk, patience) is multiplied by ``scale``.
    """

    host: str = "127.0.0.1"
    port: int = 0
    username: str = "acd15"
    secret: str = "change-me"  # noqa: S105 - manager.conf's sample, tests only
    read: tuple[str, ...] = ("all",)
    event_filter: tuple[str, ...] = ()
    channelvars: tuple[str, ...] = CONTRACT_CHANNELVARS
    globals: Mapping[str, str] = field(default_factory=lambda: dict(CONTRACT_GLOBALS))
    scale: float = 1.0
    seed: int = 0
    epoch0: float | None = None
    auth_fail_delay_s: float = 1.0
    loop_turn_s: float = 2.0
    answer_media_s: float = 0.5
    welcome_s: float = 0.0
    ring_delay: Dist = field(default_factory=lambda: Dist.uniform(2.0, 6.0))
    no_answer_p: float = 0.0
    busy_delay_s: float = 0.05
    talk: Dist = field(default_factory=lambda: Dist.lognormal(90.0))
    agent_hangs_up_p: float = 0.5
    partner_accept_p: float = 0.9
    partner_answer_delay: Dist = field(default_factory=lambda: Dist.uniform(3.0, 10.0))
    fallback_answer_delay: Dist = field(default_factory=lambda: Dist.fixed(15.0))
    hangup_linger_s: float = 0.01
    answer_unknown_endpoints: bool = False
    dialplan_events: bool = True
    trunk: str = "PJSIP/trunk"
    agent_context: str = "from-agents"
    language: str = "fr"
    max_write_buffer: int = 4 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.scale <= 0:
            raise ValueError(f"scale must be positive, got {self.scale}")
        for name in ("no_answer_p", "agent_hangs_up_p", "partner_accept_p"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} is a probability, got {value}")
