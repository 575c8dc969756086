"""The power layer: talking to the BMCs of bare-metal nodes."""
