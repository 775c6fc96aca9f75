"""Standing orders: materialised exactly once per date even under concurrent runs; pause and resume honoured."""

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from services.order.adapters.tables import MealOrder, StandingOrderRun
from services.order.domain import rules
from tests.helpers import eventually
from tests.world import wallet

pytestmark = pytest.mark.timeout(90)


def pattern(w: dict[str, Any], **changes: Any) -> dict[str, Any]:
    base = {
        "card_id": "C66",
        "site_id": "ct-a",
        "channel": "home_delivery",
        "meal_slot": "lunch",
        "weekdays": [1, 2, 3, 4, 5, 6, 7],
        "items": [{"menu_item_id": "set-b", "qty": 1, "diet_variant": "minced"}],
        "payment_method": "card_wallet",
        "starts_on": str(w["today"]),
    }
    return {**base, **changes}


async def orders_of(app: Any) -> list[MealOrder]:
    async with app.state.db.sessions() as s:
        return list((await s.exec(select(MealOrder).order_by(MealOrder.service_date))).all())


async def test_concurrent_materialisation_creates_each_date_once(world) -> None:  # type: ignore[no-untyped-def]
    w = world
    r = await w["order"].post("/v1/standing-orders", json=pattern(w), headers=w["till"])
    assert r.status_code == 201, r.text
    runs = await asyncio.gather(*(w["order"].post("/v1/standing-orders/materialize", headers=w["admin"]) for _ in range(6)))
    assert all(run.status_code == 200 for run in runs)
    horizon = w["order_app"].state.settings.standing_order_horizon_days
    assert sum(run.json()["created"] for run in runs) == horizon + 1, "today..today+horizon, each once"
    orders = await orders_of(w["order_app"])
    assert [o.service_date for o in orders] == [w["today"] + timedelta(days=n) for n in range(horizon + 1)]
    assert all(o.status == "confirmed" and o.channel == "home_delivery" and o.pay_percent == 80 for o in orders)
    assert await wallet(w["pricing"], w["admin"], "C66") == 10000 - (horizon + 1) * 1120
    again = await w["order"].post("/v1/standing-orders/materialize", headers=w["admin"])
    assert again.json()["created"] == 0
    assert len(await orders_of(w["order_app"])) == horizon + 1


async def test_pause_and_resume_are_honoured(world) -> None:  # type: ignore[no-untyped-def]
    w = world
    today = w["today"]
    made = await w["order"].post("/v1/standing-orders", json=pattern(w, pause_from=str(today + timedelta(days=1))), headers=w["till"])
    so_id = made.json()["standing_order_id"]
    first = await w["order"].post("/v1/standing-orders/materialize", headers=w["admin"])
    assert first.json()["created"] == 1, "paused from tomorrow, open-ended"
    resumed = await w["order"].patch(
        f"/v1/standing-orders/{so_id}",
        json={"pause_from": str(today + timedelta(days=1)), "resume_on": str(today + timedelta(days=2))},
        headers=w["till"],
    )
    assert resumed.status_code == 200 and resumed.json()["resume_on"] == str(today + timedelta(days=2))
    second = await w["order"].post("/v1/standing-orders/materialize", headers=w["admin"])
    horizon = w["order_app"].state.settings.standing_order_horizon_days
    assert second.json()["created"] == horizon - 1, "resumed two days out; tomorrow stays paused"
    dates = [o.service_date for o in await orders_of(w["order_app"])]
    assert today + timedelta(days=1) not in dates and today in dates
    stopped = await w["order"].patch(f"/v1/standing-orders/{so_id}", json={"active": False}, headers=w["till"])
    assert stopped.json()["active"] is False
    bad = await w["order"].patch(
        f"/v1/standing-orders/{so_id}", json={"pause_from": str(today), "resume_on": str(today)}, headers=w["till"]
    )
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_pause"


async def test_a_declined_materialisation_is_recorded_once_not_retried(world) -> None:  # type: ignore[no-untyped-def]
    w = world
    await w["order"].post("/v1/standing-orders", json=pattern(w, card_id="CPOOR", weekdays=[w["today"].isoweekday()]), headers=w["till"])
    first = await w["order"].post("/v1/standing-orders/materialize", headers=w["admin"])
    assert first.json()["created"] == 1
    [order] = await orders_of(w["order_app"])
    assert order.status == "rejected" and order.reason == "insufficient_balance"
    await w["order"].post("/v1/standing-orders/materialize", headers=w["admin"])
    async with w["order_app"].state.db.sessions() as s:
        assert len((await s.exec(select(StandingOrderRun))).all()) == 1


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"weekdays": [0]}, "invalid_weekdays"),
        ({"weekdays": [1, 1]}, "invalid_weekdays"),
        ({"channel": "dine_in"}, "validation_error"),
        ({"resume_on": "2030-01-01"}, "invalid_pause"),
        ({"site_id": "nowhere"}, "scope_forbidden"),
    ],
)
async def test_bad_patterns_are_refused(world, changes: dict[str, Any], code: str) -> None:  # type: ignore[no-untyped-def]
    w = world
    r = await w["order"].post("/v1/standing-orders", json=pattern(w, **changes), headers=w["till"])
    assert r.status_code in (403, 422) and r.json()["code"] == code
    listed = await w["order"].get("/v1/standing-orders", headers=w["admin"])
    assert listed.json() == []


def test_standing_dates_skip_paused_days_and_other_weekdays() -> None:
    from datetime import date

    monday = date(2026, 12, 7)
    got = rules.standing_dates(
        weekdays=[1, 3], starts_on=monday, pause_from=date(2026, 12, 9), resume_on=date(2026, 12, 14), today=monday, horizon_days=9
    )
    assert got == [monday, date(2026, 12, 14), date(2026, 12, 16)]


async def test_a_date_whose_menu_comes_late_is_ordered_once_the_menu_is_published(world) -> None:  # type: ignore[no-untyped-def]
    """No breakfast menu yet: the date waits (its reason kept for the staff) and is ordered on the first pass after publishing."""
    w = world
    tomorrow = w["today"] + timedelta(days=1)
    await w["order"].post(
        "/v1/standing-orders",
        json=pattern(w, meal_slot="breakfast", weekdays=[tomorrow.isoweekday()], starts_on=str(tomorrow)),
        headers=w["till"],
    )
    first = await w["order"].post("/v1/standing-orders/materialize", headers=w["admin"])
    assert first.json()["created"] == 0
    async with w["order_app"].state.db.sessions() as s:
        [run] = (await s.exec(select(StandingOrderRun))).all()
    assert (run.service_date, run.order_id, run.outcome) == (tomorrow, None, "menu_not_published")
    menu = {"items": [{"menu_item_id": "set-b", "name": "早餐·鱼片粥", "price_fen": 600, "diet_variants": ["regular", "minced"]}]}
    assert (await w["kitchen"].put(f"/v1/menus/ck-t/{tomorrow}/breakfast", json=menu, headers=w["admin"])).status_code == 200

    async def ordered() -> bool:
        r = await w["order"].post("/v1/standing-orders/materialize", headers=w["admin"])
        return bool(r.json()["created"] == 1)

    await eventually(ordered)  # order's copy of the menu arrives by event
    [order] = await orders_of(w["order_app"])
    assert (order.service_date, order.meal_slot, order.status, order.senior_pays_fen) == (tomorrow, "breakfast", "confirmed", 480)
    again = await w["order"].post("/v1/standing-orders/materialize", headers=w["admin"])
    assert again.json()["created"] == 0 and len(await orders_of(w["order_app"])) == 1


async def test_pausing_cancels_and_refunds_the_pre_orders_already_made(world) -> None:  # type: ignore[no-untyped-def]
    w = world
    today = w["today"]
    horizon = w["order_app"].state.settings.standing_order_horizon_days
    made = await w["order"].post("/v1/standing-orders", json=pattern(w), headers=w["till"])
    so = f"/v1/standing-orders/{made.json()['standing_order_id']}"
    assert (await w["order"].post("/v1/standing-orders/materialize", headers=w["admin"])).json()["created"] == horizon + 1
    assert await wallet(w["pricing"], w["admin"], "C66") == 10000 - (horizon + 1) * 1120
    paused = await w["order"].patch(
        so, json={"pause_from": str(today + timedelta(days=1)), "resume_on": str(today + timedelta(days=2))}, headers=w["till"]
    )
    assert paused.status_code == 200, paused.text
    by_date = {o.service_date: o.status for o in await orders_of(w["order_app"])}
    assert by_date[today + timedelta(days=1)] == "cancelled", "the paused day's pre-order is withdrawn"
    assert [s for d, s in by_date.items() if d != today + timedelta(days=1)] == ["confirmed"] * horizon
    assert await wallet(w["pricing"], w["admin"], "C66") == 10000 - horizon * 1120, "and refunded"
    assert (await w["order"].post("/v1/standing-orders/materialize", headers=w["admin"])).json()["created"] == 0
    resumed = await w["order"].patch(so, json={"pause_from": None, "resume_on": None}, headers=w["till"])
    assert resumed.json()["pause_from"] is None
    assert (await w["order"].post("/v1/standing-orders/materialize", headers=w["admin"])).json()["created"] == 1, "ordered afresh"
    stopped = await w["order"].patch(so, json={"active": False}, headers=w["till"])
    assert stopped.json()["active"] is False
    statuses = [o.status for o in await orders_of(w["order_app"])]
    assert statuses.count("confirmed") == 0 and statuses.count("cancelled") == horizon + 2
    assert await wallet(w["pricing"], w["admin"], "C66") == 10000, "a stopped standing order leaves nothing charged ahead"


async def test_two_replicas_running_the_scheduled_task_make_each_date_once(world, start_service) -> None:  # type: ignore[no-untyped-def]
    """The scheduled task itself (not the admin's button), in two more order replicas on the same database, every 0.2 s."""
    w = world
    url = w["order_app"].state.settings.database_url
    replicas = [(await start_service("order", database_url=url, standing_order_interval_s=0.2))[0] for _ in range(2)]
    r = await w["order"].post("/v1/standing-orders", json=pattern(w), headers=w["till"])
    assert r.status_code == 201, r.text
    horizon = w["order_app"].state.settings.standing_order_horizon_days

    async def all_made() -> bool:
        return len(await orders_of(w["order_app"])) == horizon + 1

    await eventually(all_made, timeout=20)
    await asyncio.sleep(1.5)  # several more passes of both replicas
    orders = await orders_of(replicas[0])
    assert [o.service_date for o in orders] == [w["today"] + timedelta(days=n) for n in range(horizon + 1)], "each date once"
    assert all(o.status == "confirmed" for o in orders)
    assert await wallet(w["pricing"], w["admin"], "C66") == 10000 - (horizon + 1) * 1120, "each date charged once"
