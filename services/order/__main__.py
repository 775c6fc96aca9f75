"""Run the order service: `python -m services.order [migrate|serve|run]`."""

from shared.runner import main

main("order")
