"""The AMI protocol, pure: bytes to frames, frames to core events, commands to actions."""

from acd.ami.actions import Action
from acd.ami.codec import AmiDecoder, encode_action, encode_frame
from acd.ami.correlate import ActionIdGenerator, ActionTracker, Completion, action_id_prefix
from acd.ami.errors import AmiError, AmiProtocolError
from acd.ami.frames import Frame

__all__ = [
    "Action",
    "ActionIdGenerator",
    "ActionTracker",
    "AmiDecoder",
    "AmiError",
    "AmiProtocolError",
    "Completion",
    "Frame",
    "action_id_prefix",
    "encode_action",
    "encode_frame",
]
