"""Adapters between the ACD ports and real systems (Asterisk, Redis, SQL, in-memory)."""
