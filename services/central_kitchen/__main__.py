"""Run the central_kitchen service: `python -m services.central_kitchen [migrate|serve|run]`."""

from shared.runner import main

main("central_kitchen")
