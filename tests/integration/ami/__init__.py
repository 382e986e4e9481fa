"""The asyncio AMI client against a scripted AMI server over real TCP on loopback."""
