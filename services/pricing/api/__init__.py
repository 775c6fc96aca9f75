"""HTTP API of pricing."""
