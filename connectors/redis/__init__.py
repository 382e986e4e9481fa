"""The Redis adapters (hot state, outbox stream): import each from its own submodule."""
