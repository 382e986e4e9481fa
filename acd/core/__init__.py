"""The pure ACD core: events in, commands out; no I/O, no clock, standard library only."""
