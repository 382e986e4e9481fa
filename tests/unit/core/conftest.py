"""Fixtures for the engine's unit tests: a driver over a two-agent department."""

from __future__ import annotations

import pytest

from acd.core.engine import Engine
from acd.core.testing import Driver, simple_spec


@pytest.fixture
def driver() -> Driver:
    """A department 75 with one queue and two logged-out agents."""
    return Driver(Engine(simple_spec()))
