"""Run the delivery service: `python -m services.delivery [migrate|serve|run]`."""

from shared.runner import main

main("delivery")
