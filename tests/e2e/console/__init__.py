"""The console's API as a browser and a supervisor see it: real service, real TCP, fake Asterisk."""
