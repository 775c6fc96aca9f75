"""Every service's Alembic history builds exactly its models' schema, and goes all the way back (SQLite and PostgreSQL)."""

import asyncio
import importlib
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from shared.migrations import alembic_config, upgrade
from tests.conftest import Databases

pytestmark = pytest.mark.timeout(90)
SERVICES = ["order", "pricing", "central_kitchen", "delivery"]


@pytest.mark.parametrize("service", SERVICES)
async def test_the_history_matches_the_models_and_downgrades(databases: Databases, service: str) -> None:
    metadata = importlib.import_module(f"services.{service}.adapters.tables").metadata
    url = await databases.new(service)
    await asyncio.to_thread(upgrade, service, url)
    engine = create_async_engine(url)

    def diff(conn: sa.Connection) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata))

    def tables(conn: sa.Connection) -> set[str]:
        return set(sa.inspect(conn).get_table_names()) - {"alembic_version"}

    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == [], "the migrated schema is exactly the models'"
        await asyncio.to_thread(command.downgrade, alembic_config(service, url), "base")
        async with engine.connect() as conn:
            assert await conn.run_sync(tables) == set(), "downgrade to base drops every table"
    finally:
        await engine.dispose()
