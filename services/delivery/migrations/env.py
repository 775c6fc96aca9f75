"""Alembic environment of the delivery service."""

from services.delivery.adapters.tables import metadata
from shared.migrations import run_env

run_env(metadata)
