"""HTTP API of the central kitchen."""
