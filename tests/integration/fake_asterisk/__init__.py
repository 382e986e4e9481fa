"""Tests of the fake Asterisk over real TCP on loopback."""
