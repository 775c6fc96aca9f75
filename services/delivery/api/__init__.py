"""HTTP API of delivery."""
