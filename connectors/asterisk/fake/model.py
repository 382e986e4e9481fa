"""The fake PBX's state: channels, callers, phones and partners, mutated only by the PBX."""

from __future__ import annotations

import itertools
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from connectors.asterisk.fake.clock import Timer


class ChanState(IntEnum):
    """Asterisk channel states used here, with their ``ChannelStateDesc``."""

    DOWN = 0
    RING = 4
    RINGING = 5
    UP = 6

    @property
    def desc(self) -> str:
        """The ``ChannelStateDesc`` text."""
        return {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}[self.value]


@dataclass(slots=True, kw_only=True)
class Channel:
    """One Asterisk channel: what its snapshot in every event shows."""

    name: str
    uniqueid: str
    linkedid: str
    created: float
    state: ChanState = ChanState.DOWN
    caller_num: str = ""
    caller_name: str = ""
    connected_num: str = ""
    connected_name: str = ""
    language: str = "fr"
    context: str = ""
    exten: str = ""
    priority: int = 1
    app: str = ""
    appdata: str = ""
    bridge: str = ""
    vars: dict[str, str] = field(default_factory=dict)
    hanging_up: bool = False

    def goto(self, context: str, exten: str = "s", priority: int = 1) -> None:
        """Move the dialplan position (what Context/Exten/Priority show)."""
        self.context, self.exten, self.priority = context, exten, priority


class Phase(StrEnum):
    """Where a caller's channel is in the dialplan contract."""

    INBOUND = "inbound"
    WAITING = "waiting"
    RINGING = "ringing"
    BRIDGED = "bridged"
    FALLBACK = "fallback"
    FALLBACK_TALKING = "fallback-talking"
    HANGING_UP = "hanging-up"
    GONE = "gone"


class Fate(StrEnum):
    """How a caller's call ended (or ``waiting`` while not served yet)."""

    WAITING = "waiting"
    ANSWERED = "answered"
    OVERFLOWED = "overflowed"
    FALLBACK = "fallback"
    ABANDONED = "abandoned"
    LOST = "lost"


@dataclass(slots=True, kw_only=True)
class Agent:
    """An ARM's phone behind a dial string (``PJSIP/arm-7501``); ``None`` means the default."""

    endpoint: str
    registered: bool = True
    answer_delay_s: float | None = None
    answers: bool | None = None
    talk_s: float | None = None
    channel: Channel | None = None


@dataclass(slots=True, kw_only=True)
class Partner:
    """A partner SAMU reached over a trunk by its full dial string."""

    target: str
    accepts: bool | None = None
    answer_delay_s: float | None = None


@dataclass(slots=True, kw_only=True)
class Caller:
    """A caller's channel plus what the fake knows of them (patience, fate, redirects)."""

    channel: Channel
    dept: str
    patience_s: float | None = None
    talk_s: float | None = None
    phase: Phase = Phase.INBOUND
    fate: Fate = Fate.WAITING
    timers: list[Timer] = field(default_factory=list)
    patience_timer: Timer | None = None
    peer: Channel | None = None
    agent: Agent | None = None
    dial_kind: str = ""
    redirects: Counter[str] = field(default_factory=Counter)
    dispatch_routes: list[str] = field(default_factory=list)
    interrupted_routes: int = 0

    @property
    def uniqueid(self) -> str:
        """The caller channel's Uniqueid, the key of everything."""
        return self.channel.uniqueid

    def cancel_timers(self) -> None:
        """Stop the current dialplan activity (MOH turn, ring, talk...)."""
        for timer in self.timers:
            timer.cancel()
        self.timers.clear()


class Ids:
    """Uniqueids ``<epoch>.<n>``, channel names ``<base>-<8 hex>``, bridge UUIDs; never reused."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._unique = itertools.count()
        self._chan = itertools.count(1)

    def uniqueid(self, epoch: float) -> str:
        """A new Uniqueid created at ``epoch``."""
        return f"{int(epoch)}.{next(self._unique)}"

    def channel_name(self, base: str) -> str:
        """``PJSIP/trunk`` -> ``PJSIP/trunk-0000001a``."""
        return f"{base}-{next(self._chan):08x}"

    def bridge_id(self) -> str:
        """A random (seeded) UUID like Asterisk's ``BridgeUniqueid``."""
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
