"""Alembic environment of the central_kitchen service."""

from services.central_kitchen.adapters.tables import metadata
from shared.migrations import run_env

run_env(metadata)
