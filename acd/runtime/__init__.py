"""The async shell around the pure core: dispatcher, timers, configuration reload."""
