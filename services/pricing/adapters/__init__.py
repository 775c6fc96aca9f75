"""Tables and event consumers of pricing."""
