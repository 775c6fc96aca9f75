"""What delivery carries: which channels leave the kitchen in a vehicle."""

# dine-in and cart sales are served where they are sold; these go out by vehicle to a meal point or a home
DELIVERED_CHANNELS = frozenset({"pickup", "home_delivery"})
TOMBSTONE = "unknown"  # the channel of an order known only from its cancellation (it arrived before the confirmation)


def needs_delivery(channel: str) -> bool:
    return channel in DELIVERED_CHANNELS
