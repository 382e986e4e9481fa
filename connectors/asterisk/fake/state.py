"""The fake PBX's shared state and its primitives; every change of a channel emits its event."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable

from connectors.asterisk.fake import events as ev
from connectors.asterisk.fake.clock import Scheduler
from connectors.asterisk.fake.config import FakeConfig
from connectors.asterisk.fake.model import Agent, Caller, Channel, ChanState, Ids, Partner

Emit = Callable[[ev.Fields], None]

H_CONTEXTS = frozenset({"acd-inbound", "acd-wait", "acd-fallback", "acd-dispatch", "acd-overflow"})
"""Contexts of the contract whose ``h`` extension sends ``UserEvent ACDHangup``."""


class PbxState:
    """Channels, callers, phones, globals, the clock and the random stream of one fake PBX."""

    def __init__(self, config: FakeConfig, clock: Scheduler, emit: Emit) -> None:
        self.config = config
        self.clock = clock
        self.cv = config.channelvars
        self._emit = emit
        self.rng = random.Random(f"{config.seed}/pbx")  # noqa: S311 - reproducible, not secret
        self.ids = Ids(random.Random(f"{config.seed}/ids"))  # noqa: S311 - same
        self.channels: dict[str, Channel] = {}
        self.callers: dict[str, Caller] = {}
        self.agents: dict[str, Agent] = {}
        self.partners: dict[str, Partner] = {}
        self.globals: dict[str, str] = dict(config.globals)
        self.booted_at = clock.epoch()

    # --- time -----------------------------------------------------------------------
    def epoch(self) -> int:
        """``${EPOCH}``: whole seconds."""
        return int(self.clock.epoch())

    def later(self, caller: Caller, delay_s: float, callback: Callable[[], None]) -> None:
        """Schedule the caller's next dialplan step; a redirect or a hangup cancels it."""
        caller.timers.append(self.clock.later(delay_s, callback))

    # --- events ---------------------------------------------------------------------
    def emit(self, fields: ev.Fields) -> None:
        """Send one event to every AMI session that may read it."""
        self._emit(fields)

    def noise(self, fields: ev.Fields) -> None:
        """An event the contract's manager.conf filters (Newexten, VarSet, MusicOnHold*)."""
        if self.config.dialplan_events:
            self._emit(fields)

    def event(self, name: str, ch: Channel, extra: Iterable[tuple[str, str]] = ()) -> None:
        """A ``call`` class channel event."""
        self._emit(ev.channel_event(name, ch, self.cv, extra))

    def user_event(self, ch: Channel, name: str, body: Iterable[tuple[str, str]]) -> None:
        """What ``UserEvent(name,Key: v,...)`` in the dialplan sends."""
        self._emit(ev.user_event(ch, self.cv, name, body))

    def run_user_event(
        self,
        ch: Channel,
        context: str,
        priority: int,
        name: str,
        body: list[tuple[str, str]],
        exten: str = "s",
    ) -> None:
        """The dialplan step ``UserEvent(name,Key: v,...)`` then the event it sends."""
        data = ",".join([name, *(f"{key}: {value}" for key, value in body)])
        self.step(ch, context, priority, "UserEvent", data, exten=exten)
        self.user_event(ch, name, body)

    # --- channels -------------------------------------------------------------------
    def find(self, name_or_id: str) -> Channel | None:
        """A live channel by Uniqueid or by name, like ``ast_channel_get_by_name``."""
        found = self.channels.get(name_or_id)
        if found is not None:
            return found
        for ch in self.channels.values():
            if ch.name == name_or_id:
                return ch
        return None

    def new_channel(
        self,
        base: str,
        *,
        context: str,
        exten: str,
        linkedid: str | None = None,
        caller_num: str = "",
        caller_name: str = "",
    ) -> Channel:
        """Create a channel in state Down and send ``Newchannel``."""
        now = self.clock.epoch()
        uniqueid = self.ids.uniqueid(now)
        ch = Channel(
            name=self.ids.channel_name(base),
            uniqueid=uniqueid,
            linkedid=linkedid or uniqueid,
            created=now,
            caller_num=caller_num,
            caller_name=caller_name,
            language=self.config.language,
            context=context,
            exten=exten,
        )
        self.channels[uniqueid] = ch
        self.event("Newchannel", ch)
        return ch

    def set_state(self, ch: Channel, state: ChanState) -> None:
        """Change the channel state and send ``Newstate``."""
        ch.state = state
        self.event("Newstate", ch)

    def set_var(self, ch: Channel, name: str, value: str) -> None:
        """``Set()`` in the dialplan (its VarSet is noise)."""
        ch.vars[name] = value
        self.noise(ev.varset(ch, self.cv, name, value))

    def step(
        self, ch: Channel, context: str, priority: int, app: str, data: str = "", exten: str = "s"
    ) -> None:
        """Run one dialplan priority: the position moves, then ``Newexten`` shows it."""
        ch.goto(context, exten, priority)
        ch.app, ch.appdata = app, data
        self.noise(ev.newexten(ch, self.cv, app, data))

    def destroy(self, ch: Channel, cause: int) -> None:
        """Send ``Hangup`` and forget the channel; its phone is free again."""
        self.emit(ev.hangup(ch, self.cv, cause))
        self.channels.pop(ch.uniqueid, None)
        for agent in self.agents.values():
            if agent.channel is ch:
                agent.channel = None

    def contract_var(self, ch: Channel, name: str) -> str:
        """``${NAME}`` on the channel, empty when unset."""
        return ch.vars.get(name, "")

    def global_number(self, name: str, default: float) -> float:
        """A numeric global (a ring timeout), ``default`` when unset or not a number."""
        try:
            return float(self.globals.get(name, ""))
        except ValueError:
            return default
