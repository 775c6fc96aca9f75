"""Pricing's Alembic history on SQLite and PostgreSQL: 0002 backfills existing charges, matches the models, and goes back."""

import asyncio
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from services.pricing.adapters.tables import metadata
from shared.migrations import upgrade
from tests.conftest import Databases

pytestmark = pytest.mark.timeout(60)

site = sa.table("site", *(sa.column(c) for c in ("site_id", "name", "kind", "district", "operator", "supplied_by", "kitchen_id")))
charge = sa.table(
    "charge",
    sa.column("order_id", sa.Uuid()),
    *(sa.column(c) for c in ("card_id", "site_id", "operator", "funder_district", "meal_slot", "payment_method", "status", "result")),
    *(sa.column(c) for c in ("list_total_fen", "age_discount_fen", "group_subsidy_fen", "senior_pays_fen", "city_part_fen")),
    *(sa.column(c) for c in ("district_part_fen", "pay_percent", "subsidised", "group_name", "period")),
    sa.column("service_date", sa.Date()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("site_district"),
    sa.column("refund_period"),
)


def _charge(order_id: uuid.UUID, status: str) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "card_id": "HZ1",
        "site_id": "ct-1",
        "operator": "op-a",
        "funder_district": "xihu",
        "meal_slot": "lunch",
        "payment_method": "cash",
        "status": status,
        "result": "{}",
        "list_total_fen": 1200,
        "age_discount_fen": 360,
        "group_subsidy_fen": 0,
        "senior_pays_fen": 840,
        "city_part_fen": 108,
        "district_part_fen": 252,
        "pay_percent": 70,
        "subsidised": True,
        "group_name": None,
        "period": "2025-06",
        "service_date": date(2025, 6, 15),
        "created_at": datetime(2025, 6, 15, 4, tzinfo=UTC),
    }


def _diff(conn: sa.Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata))


async def test_0002_backfills_charges_matches_the_models_and_downgrades(databases: Databases) -> None:
    url = await databases.new("pricing")
    await asyncio.to_thread(upgrade, "pricing", url, "0001")
    engine = create_async_engine(url)
    kept, refunded = uuid.uuid4(), uuid.uuid4()
    try:
        async with engine.begin() as conn:
            await conn.execute(
                site.insert().values(
                    site_id="ct-1", name="食堂", kind="canteen", district="shangcheng", operator="op-a", supplied_by=None, kitchen_id="ck"
                )
            )
            await conn.execute(charge.insert(), [_charge(kept, "charged"), _charge(refunded, "refunded")])
        await asyncio.to_thread(upgrade, "pricing", url, "head")
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.select(charge.c.order_id, charge.c.site_district, charge.c.refund_period))).all()
            assert {r.order_id: (r.site_district, r.refund_period) for r in rows} == {
                kept: ("shangcheng", None),
                refunded: ("shangcheng", "2025-06"),
            }, "existing charges know where they were eaten; a refund made before 0002 stayed in its month"
            assert await conn.run_sync(_diff) == [], "the migrated schema is exactly the models'"
        await asyncio.to_thread(_downgrade, url)
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: {col["name"] for col in sa.inspect(c).get_columns("charge")})
            assert "refund_period" not in names and "site_district" not in names
            assert (await conn.scalar(sa.select(sa.func.count()).select_from(charge))) == 2, "going back keeps the charges"
        await asyncio.to_thread(upgrade, "pricing", url, "head")
    finally:
        await engine.dispose()


def _downgrade(url: str) -> None:
    from alembic import command

    from shared.migrations import alembic_config

    command.downgrade(alembic_config("pricing", url), "0001")
