"""Order: the till checkout saga, pre-orders, cancellations and the till page."""
