"""Live delivery: the hub (channels of JSON messages) and operator presence."""
