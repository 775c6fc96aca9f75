"""Alembic environment of the pricing service."""

from services.pricing.adapters.tables import metadata
from shared.migrations import run_env

run_env(metadata)
