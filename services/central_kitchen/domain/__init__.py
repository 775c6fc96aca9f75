"""Pure rules of the central kitchen."""
