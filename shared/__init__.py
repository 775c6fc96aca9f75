"""Common code of the four meal-assist services."""
