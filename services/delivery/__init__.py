"""Delivery: vehicles, drivers, trips, stops, temperatures, welfare checks and the driver page."""
