"""acd15: automatic call distribution middleware for the French emergency number 15 (SAMU)."""

__version__ = "0.1.0"
