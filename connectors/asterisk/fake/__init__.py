"""A fake Asterisk for demos and tests: real AMI over TCP, the dialplan contract simulated."""

from connectors.asterisk.fake.config import (
    CONTRACT_CHANNELVARS,
    CONTRACT_EVENT_FILTER,
    CONTRACT_GLOBALS,
    CONTRACT_READ,
    FakeConfig,
)
from connectors.asterisk.fake.faults import CutPoint, LinkCut
from connectors.asterisk.fake.model import Fate, Phase
from connectors.asterisk.fake.pbx import FakeStats
from connectors.asterisk.fake.server import FakeAsterisk
from connectors.asterisk.fake.session import ActionRecord
from connectors.asterisk.fake.traffic import Arrival, Dist, TrafficSpec, arrivals

__all__ = [
    "CONTRACT_CHANNELVARS",
    "CONTRACT_EVENT_FILTER",
    "CONTRACT_GLOBALS",
    "CONTRACT_READ",
    "ActionRecord",
    "Arrival",
    "CutPoint",
    "Dist",
    "FakeAsterisk",
    "FakeConfig",
    "FakeStats",
    "Fate",
    "LinkCut",
    "Phase",
    "TrafficSpec",
    "arrivals",
]
