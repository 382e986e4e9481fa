"""The Asterisk adapter: an asyncio AMI client around the pure codec of ``acd.ami``."""

from connectors.asterisk.backoff import Backoff
from connectors.asterisk.client import AmiClient, require_ok
from connectors.asterisk.session import enable_keepalive
from connectors.asterisk.stats import AmiClientStats

__all__ = ["AmiClient", "AmiClientStats", "Backoff", "enable_keepalive", "require_ok"]
