"""What the client tests share: quick client settings and a recorder of callbacks."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

from acd.ami.frames import Frame
from connectors.asterisk import AmiClient
from tests.integration.ami.scripted_server import ScriptedAmiServer

# Small intervals so that every behaviour shows within a fraction of a second.
FAST: dict[str, Any] = {
    "username": "acd",
    "secret": "acdsecret",
    "ping_interval_s": 0.1,
    "pong_timeout_s": 0.2,
    "action_timeout_s": 1.0,
    "connect_timeout_s": 1.0,
    "backoff_min_s": 0.02,
    "backoff_max_s": 0.2,
}


class TopOfRange(random.Random):
    """A random source whose ``uniform`` always gives the top: the backoff's ceiling."""

    def uniform(self, a: float, b: float) -> float:
        """The upper bound, always."""
        return b


@dataclass
class Recorder:
    """Collects what a client's callbacks saw, in one ordered log."""

    log: list[str] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)
    disconnects: list[str] = field(default_factory=list)
    connects: int = 0

    def on_frame(self, frame: Frame) -> None:
        """Keep the event; log its UserEvent name, or its kind."""
        self.frames.append(frame)
        self.log.append(frame.get("UserEvent") or frame.kind)

    async def on_connected(self) -> None:
        """Count the resync and log it as ``connected-<n>``."""
        self.connects += 1
        self.log.append(f"connected-{self.connects}")

    def on_disconnected(self, reason: str) -> None:
        """Keep the reason and log the disconnection."""
        self.disconnects.append(reason)
        self.log.append("disconnected")

    def kinds(self) -> list[str]:
        """The names of the events kept, in delivery order."""
        return [frame.get("UserEvent") or frame.kind for frame in self.frames]


class Clients:
    """Makes clients for one test and closes them all at the end."""

    def __init__(self) -> None:
        self.made: list[AmiClient] = []

    def __call__(
        self, server: ScriptedAmiServer | int, recorder: Recorder | None = None, **overrides: Any
    ) -> AmiClient:
        """A client of ``server`` (or of a bare port), its callbacks going to ``recorder``."""
        settings: dict[str, Any] = {
            **FAST,
            "name": f"pbx-{len(self.made) + 1}",
            "host": "127.0.0.1",
            "port": server if isinstance(server, int) else server.port,
            "action_id_prefix": f"acd-test-{len(self.made) + 1}",
            "rng": random.Random(15),
        }
        if recorder is not None:
            settings.update(
                on_frame=recorder.on_frame,
                on_connected=recorder.on_connected,
                on_disconnected=recorder.on_disconnected,
            )
        settings.update(overrides)
        client = AmiClient(**settings)
        self.made.append(client)
        return client

    async def close_all(self) -> None:
        """Close every client made."""
        await asyncio.gather(*(client.close() for client in self.made))


def user_event(name: str, *extra: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    """The pairs of a dialplan ``UserEvent(name)``."""
    return (("Event", "UserEvent"), ("Privilege", "user,all"), ("UserEvent", name), *extra)
