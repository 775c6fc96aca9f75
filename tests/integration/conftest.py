"""Fixtures of the integration tests: a small city with kitchen, pricing and order running in-process."""

from typing import Any

import pytest
from sqlalchemy import func, select

from services.order.adapters.tables import MenuItem
from tests.helpers import eventually
from tests.world import seed, wait_until_sellable


@pytest.fixture
async def world(start_service, token) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    _kitchen_app, kitchen = await start_service("central_kitchen")
    pricing_app, pricing = await start_service("pricing")
    order_app, order = await start_service("order")
    admin = token("admin")
    seeded = await seed(kitchen=kitchen, pricing=pricing, admin=admin)
    till = token("pos", "ct-a")
    await wait_until_sellable(order, till, site_id="ct-a", day=seeded["today"])

    async def order_has_menus() -> bool:
        async with order_app.state.db.sessions() as s:
            return (await s.scalar(select(func.count()).select_from(MenuItem))) == 8 * 2 * 3

    await eventually(order_has_menus)
    return {
        **seeded,
        "order": order,
        "pricing": pricing,
        "kitchen": kitchen,
        "admin": admin,
        "till": till,
        "order_app": order_app,
        "pricing_app": pricing_app,
    }
