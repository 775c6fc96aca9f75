"""The four meal-assist services."""
