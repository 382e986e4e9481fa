"""Unit tests of the Redis adapter's pure parts: key templates, script layout, client settings."""
