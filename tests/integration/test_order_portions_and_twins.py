"""A dish sold out at a site (portions set at the till), twins of one request, and delivery outcomes not yet covered."""

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import nats
import pytest
from sqlalchemy import func, select

from services.order.adapters.tables import MealOrder
from services.pricing.adapters.tables import Charge
from shared.events import FoodSafetyBreach
from tests.helpers import eventually
from tests.integration.test_order_saga import body, count, key
from tests.world import wallet

pytestmark = pytest.mark.timeout(90)


def portions_url(w: dict[str, Any], dish: str = "set-a", site: str = "ct-a") -> str:
    return f"/v1/sites/{site}/availability/{w['today']}/lunch/{dish}"


async def menu_item(w: dict[str, Any], dish: str, till: dict[str, str] | None = None, site: str = "ct-a") -> dict[str, Any]:
    r = await w["order"].get(f"/v1/sites/{site}/menu?service_date={w['today']}&meal_slot=lunch", headers=till or w["till"])
    assert r.status_code == 200, r.text
    return next(i for i in r.json()["items"] if i["menu_item_id"] == dish)


async def test_a_dish_sells_only_the_portions_the_till_set(world, token) -> None:  # type: ignore[no-untyped-def]
    w = world
    cash = {"card_id": None, "payment_method": "cash"}
    assert (await menu_item(w, "set-a"))["portions_left"] is None, "no limit until the till sets one"
    put = await w["order"].put(portions_url(w), json={"portions_left": 2}, headers=w["till"])
    assert put.status_code == 200 and put.json() == {"menu_item_id": "set-a", "portions_left": 2, "sold_out": False}
    two = await w["order"].post(
        "/v1/orders", json=body(w, **cash, items=[{"menu_item_id": "set-a", "qty": 2}]), headers={**w["till"], **key()}
    )
    assert two.status_code == 201, two.text
    assert await menu_item(w, "set-a") == {**await menu_item(w, "set-a"), "portions_left": 0, "sold_out": True}
    orders_before = await count(w["order_app"], MealOrder)
    refused = await w["order"].post("/v1/orders", json=body(w), headers={**w["till"], **key()})
    assert refused.status_code == 409 and refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert (problem["code"], problem["menu_item_id"], problem["portions_left"]) == ("sold_out", "set-a", 0)
    assert await count(w["order_app"], MealOrder) == orders_before, "nothing stored"
    assert await wallet(w["pricing"], w["admin"], "C75") == 10000, "nothing charged"
    soup = await w["order"].post("/v1/orders", json=body(w, items=[{"menu_item_id": "soup", "qty": 1}]), headers={**w["till"], **key()})
    assert soup.status_code == 201, "other dishes still sell"
    other_site = token("pos", "ct-b")
    elsewhere = await w["order"].post("/v1/orders", json=body(w, site_id="ct-b", **cash), headers={**other_site, **key()})
    assert elsewhere.status_code == 201, "the limit is this site's"
    assert (await menu_item(w, "set-a", other_site, "ct-b"))["portions_left"] is None
    more = await w["order"].put(portions_url(w), json={"portions_left": 1}, headers=w["till"])
    assert more.json()["portions_left"] == 1
    one = await w["order"].post("/v1/orders", json=body(w, **cash), headers={**w["till"], **key()})
    assert one.status_code == 201
    lifted = await w["order"].put(portions_url(w), json={"portions_left": None}, headers=w["till"])
    assert lifted.json() == {"menu_item_id": "set-a", "portions_left": None, "sold_out": False}
    assert (await w["order"].post("/v1/orders", json=body(w, **cash), headers={**w["till"], **key()})).status_code == 201
    forbidden = await w["order"].put(portions_url(w, site="ct-b"), json={"portions_left": 0}, headers=w["till"])
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "scope_forbidden"


async def test_a_cancelled_pre_order_gives_its_portion_back(world) -> None:  # type: ignore[no-untyped-def]
    w = world
    tomorrow = str(w["today"] + timedelta(days=1))
    url = f"/v1/sites/ct-a/availability/{tomorrow}/lunch/set-a"
    assert (await w["order"].put(url, json={"portions_left": 1}, headers=w["till"])).status_code == 200
    pre = body(w, channel="pickup", service_date=tomorrow)
    first = await w["order"].post("/v1/orders", json=pre, headers={**w["till"], **key()})
    assert first.status_code == 201
    full = await w["order"].post(
        "/v1/orders", json=body(w, card_id="C66", channel="pickup", service_date=tomorrow), headers={**w["till"], **key()}
    )
    assert full.json()["code"] == "sold_out"
    cancelled = await w["order"].post(f"/v1/orders/{first.json()['order_id']}/cancel", headers=w["till"])
    assert cancelled.json()["status"] == "cancelled"
    again = await w["order"].post(
        "/v1/orders", json=body(w, card_id="C66", channel="pickup", service_date=tomorrow), headers={**w["till"], **key()}
    )
    assert again.status_code == 201, again.text


async def test_concurrent_tills_never_sell_more_than_the_portions(world) -> None:  # type: ignore[no-untyped-def]
    w = world
    assert (await w["order"].put(portions_url(w), json={"portions_left": 3}, headers=w["till"])).status_code == 200
    cash = body(w, card_id=None, payment_method="cash")
    responses = await asyncio.gather(*(w["order"].post("/v1/orders", json=cash, headers={**w["till"], **key()}) for _ in range(12)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 3 + [409] * 9, codes
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"sold_out"}
    async with w["order_app"].state.db.sessions() as s:
        held = await s.scalar(select(func.count()).select_from(MealOrder).where(MealOrder.status == "confirmed"))
    assert held == 3


async def test_twins_of_a_declined_request_all_get_the_decline(world) -> None:  # type: ignore[no-untyped-def]
    """Same key, same body, sent 20 times at once for a card with too little money: every twin hears the same answer."""
    w = world
    k = key()
    responses = await asyncio.gather(
        *(w["order"].post("/v1/orders", json=body(w, card_id="CPOOR"), headers={**w["till"], **k}) for _ in range(20))
    )
    assert {(r.status_code, r.json()["code"]) for r in responses} == {(402, "insufficient_balance")}
    assert await count(w["pricing_app"], Charge) == 0
    assert await wallet(w["pricing"], w["admin"], "CPOOR") == 300


async def test_a_food_safety_breach_fails_the_orders_and_refunds_them(world, nats_url: str) -> None:  # type: ignore[no-untyped-def]
    w = world
    tomorrow = str(w["today"] + timedelta(days=1))
    r = await w["order"].post("/v1/orders", json=body(w, channel="home_delivery", service_date=tomorrow), headers={**w["till"], **key()})
    order_id = uuid.UUID(r.json()["order_id"])
    assert await wallet(w["pricing"], w["admin"], "C75") == 10000 - 840
    nc = await nats.connect(nats_url)
    breach = FoodSafetyBreach(kitchen_id="ck-t", trip_id="t1", stop_id="s1", order_ids=[order_id], detail="past serve-by, no hot-hold")
    await nc.jetstream().publish(FoodSafetyBreach.SUBJECT, breach.model_dump_json().encode())
    await nc.close()

    async def failed() -> bool:
        got = (await w["order"].get(f"/v1/orders/{order_id}", headers=w["till"])).json()
        return bool(got["status"] == "failed" and got["reason"] == "food_safety_breach")

    await eventually(failed)

    async def refunded() -> bool:
        return await wallet(w["pricing"], w["admin"], "C75") == 10000

    await eventually(refunded, timeout=15)


async def test_a_cancel_while_pricing_is_down_is_refunded_when_it_returns(world) -> None:  # type: ignore[no-untyped-def]
    w = world
    tomorrow = str(w["today"] + timedelta(days=1))
    r = await w["order"].post("/v1/orders", json=body(w, channel="pickup", service_date=tomorrow), headers={**w["till"], **key()})
    order_id = r.json()["order_id"]
    await w["pricing_app"].state.rpc.stop()
    cancel = await w["order"].post(f"/v1/orders/{order_id}/cancel", headers=w["till"])
    assert cancel.status_code == 202 and cancel.json()["status"] == "cancel_pending"
    assert await wallet(w["pricing"], w["admin"], "C75") == 10000 - 840
    await w["pricing_app"].state.rpc.start(w["pricing_app"].state.bus.nc)

    async def cancelled() -> bool:
        return (await w["order"].get(f"/v1/orders/{order_id}", headers=w["till"])).json()["status"] == "cancelled"

    await eventually(cancelled, timeout=15)
    assert await wallet(w["pricing"], w["admin"], "C75") == 10000
