"""The AMI protocol, pure: bytes to frames, frames to core events, commands to actions."""
