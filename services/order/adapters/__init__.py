"""Tables and event consumers of the order service."""
