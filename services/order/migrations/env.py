"""Alembic environment of the order service."""

from services.order.adapters.tables import metadata
from shared.migrations import run_env

run_env(metadata)
