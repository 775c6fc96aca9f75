"""Tables and event consumers of delivery."""
