"""Unit tests of the journal outbox: the local spool, the store retry, and the shared fakes."""
