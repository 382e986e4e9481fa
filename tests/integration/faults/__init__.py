"""Fault tests: real servers stopped, processes killed, and the journal still complete."""
