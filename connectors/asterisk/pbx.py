"""AmiPbx: the PBX port over AMI, speaking the dialplan contract through the translator."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from acd.ami import actions as act
from acd.ami.frames import Frame
from acd.ami.translate import (
    HEARTBEAT_VAR,
    Translator,
    channel_of,
    fallback_actions,
    heartbeat_action,
    move_actions,
    offer_actions,
    overflow_actions,
    route_truth,
)
from acd.core import events as ev
from acd.core.commands import MoveCall, OfferCall, OverflowCall, SendToFallback, VerifyRoute
from acd.ports import ChannelSnapshot, PbxCommand
from connectors.asterisk.client import AmiClient

log = logging.getLogger("acd.pbx")

GONE = ("does not exist", "No such channel", "channel not up")
"""Error texts meaning the caller is leaving: never re-route, the hangup settles it."""


class AmiPbx:
    """One Asterisk: decisions become Setvar/Redirect, questions become Getvar/CoreShowChannels.

    Frames from the client are read by the contract's translator and handed to ``sink``;
    after every (re)login the channels are read and handed to ``resync`` before any event
    of the new session (the client delivers them after its ``on_connected`` hook).
    """

    def __init__(
        self,
        *,
        name: str,
        client: AmiClient,
        sink: Callable[[ev.Event], None],
        resync: Callable[[str, list[ChannelSnapshot], frozenset[str] | None], None],
        routes: Callable[[], frozenset[str]] | None = None,
        on_login: Callable[[str], Awaitable[None]] | None = None,
        heartbeat_var: str = HEARTBEAT_VAR,
    ) -> None:
        self.name = name
        self.heartbeat_var = heartbeat_var
        self.client = client
        self.translator = Translator(name)
        self._sink = sink
        self._resync = resync
        self._routes = routes
        self._on_login = on_login
        self.restarts = 0

    # -- events in -------------------------------------------------------------------------

    def on_frame(self, frame: Frame) -> None:
        """Client callback: contract events to the engine.

        A PBX restart drops the AMI link: the login that follows resyncs (its calls are
        gone from the channel list, so the engine ends them).
        """
        for event in self.translator.events(frame):
            self._sink(event)
        if frame.kind == "Shutdown":
            self.restarts += 1
            log.warning("PBX %s is shutting down: its calls will be resynced", self.name)

    async def on_connected(self) -> None:
        """Client hook after every login: beat, read the channels, resync before new events.

        The routes in force are noted before the channels are read: a route decided while
        they are read is not judged by a snapshot that cannot show it yet.
        """
        if self._on_login is not None:
            await self._on_login(self.name)  # a restarted PBX has an empty heartbeat
        before = self._routes() if self._routes is not None else None
        channels = await self.channels()
        log.info("PBX %s: %d caller channel(s) at login", self.name, len(channels))
        self._resync(self.name, channels, before)

    # -- decisions out ---------------------------------------------------------------------

    async def execute(self, command: PbxCommand) -> list[ev.Event]:
        """Send the decision's actions in order; stop at the first refusal."""
        if isinstance(command, OfferCall):
            actions = offer_actions(command)
        elif isinstance(command, OverflowCall):
            actions = overflow_actions(command)
        elif isinstance(command, MoveCall):
            actions = move_actions(command)
        else:
            assert isinstance(command, SendToFallback)
            actions = fallback_actions(command)
        # One write, answers awaited together: one round trip instead of four, and no turn
        # of the loop between the decision and the Redirect. Asterisk runs a session's
        # actions in order, so the Redirect still comes last; if a Setvar finds the
        # channel gone, the Redirect finds it gone too.
        answers = await self.client.send_all(actions)
        for action, done in zip(actions, answers, strict=True):
            if not done.ok:
                message = done.message or ""
                if any(text in message for text in GONE):
                    return [ev.CallHungUp(call=command.call)]
                # Not sent again: the engine's offer check will ask where the call stands.
                log.error("%s refused for %s: %s", action.name, command.call, message)
                return []
        return []

    async def verify(self, command: VerifyRoute) -> list[ev.Event]:
        """Where an unconfirmed route stands, from ACD_STATE and the bridge; never resends."""
        channel = channel_of(command.call).uniqueid
        state = await self.client.send(act.getvar("ACD_STATE", channel=channel))
        if not state.ok:
            gone = any(text in (state.message or "") for text in GONE)
            return [ev.CallHungUp(call=command.call)] if gone else []
        peer = await self.client.send(act.getvar("BRIDGEPEER", channel=channel))
        value = state.response.get("Value", "")
        bridged = bool(peer.ok and peer.response.get("Value"))
        return route_truth(
            command.call, command.route, overflow=command.overflow, state=value, bridged=bridged
        )

    async def heartbeat(self, epoch_s: float) -> None:
        """Refresh the global heartbeat the waiting loop checks."""
        await self.client.send(heartbeat_action(epoch_s, self.heartbeat_var))

    async def channels(self) -> list[ChannelSnapshot]:
        """Caller channels of the contract (those with ACD_DEPT), from CoreShowChannels."""
        done = await self.client.send(act.core_show_channels())
        out = []
        for frame in done.events:
            if frame.kind != "CoreShowChannel":
                continue
            var = frame.chan_vars
            dept = var.get("ACD_DEPT")
            if not dept:
                continue
            enq = var.get("ACD_ENQ_TS", "")
            out.append(
                ChannelSnapshot(
                    uniqueid=frame.get("Uniqueid", ""),
                    dept=dept,
                    priority=var.get("ACD_PRIO", ""),
                    enqueued_at=float(enq) if enq.isdigit() else None,
                    state=var.get("ACD_STATE", ""),
                    bridged=bool(frame.get("BridgeId")),
                    caller=frame.get("CallerIDNum", ""),
                )
            )
        return out
