"""Run the pricing service: `python -m services.pricing [migrate|serve|run]`."""

from shared.runner import main

main("pricing")
