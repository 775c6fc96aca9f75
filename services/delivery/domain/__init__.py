"""Pure delivery rules."""
