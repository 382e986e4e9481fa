"""The supervisors' console: pages, JSON API, live stream, health and metrics (aiohttp)."""
