"""The SQL journal's pure parts, its Oracle rendering and its command (on SQLite)."""
