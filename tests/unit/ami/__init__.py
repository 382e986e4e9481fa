"""Unit tests of the pure AMI codec: frames, decoder, encoder, actions and correlation."""
