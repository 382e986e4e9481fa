"""Integration tests: real processes, real sockets, bounded in time."""
