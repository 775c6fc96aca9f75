"""The kitchen's plan from real events: pre-orders per site, item and diet, walk-in forecasts, allergen alerts, cancellations."""

import uuid
from datetime import timedelta

import nats
import pytest
from sqlalchemy import func, select

from services.central_kitchen.adapters.tables import MenuItem
from shared.events import CardProfileUpdated, OrderCancelled, OrderConfirmed, OrderLine
from tests.helpers import city_today, eventually
from tests.world import MENU, SITE

pytestmark = pytest.mark.timeout(60)


def confirmed(
    *, card_id: str | None, site: str, day, item: str, diet: str = "regular", qty: int = 1, channel: str = "pickup"
) -> OrderConfirmed:  # type: ignore[no-untyped-def]
    price = {i["menu_item_id"]: i["price_fen"] for i in MENU["items"]}[item]
    line = OrderLine(menu_item_id=item, name=item, qty=qty, diet_variant=diet, price_fen=price)
    return OrderConfirmed(
        order_id=uuid.uuid4(),
        site_id=site,
        kitchen_id="ck-t",
        card_id=card_id,
        channel=channel,
        service_date=day,
        meal_slot="lunch",
        items=[line],
        list_total_fen=price * qty,
        senior_pays_fen=price * qty,
        payment_method="cash",
    )


async def test_plan_counts_preorders_forecasts_walk_ins_and_flags_allergic_diners(start_service, token, nats_url: str) -> None:  # type: ignore[no-untyped-def]
    _, kitchen = await start_service("central_kitchen")
    admin = token("admin")
    day = city_today() + timedelta(days=1)
    for site_id, body in {
        "ck-t": {**SITE, "name": "厨房", "kind": "kitchen", "district": "xihu"},
        "ct-a": {**SITE, "name": "食堂", "kind": "canteen", "district": "xihu", "supplied_by": "ck-t", "walk_in_default": 31},
        "mp-a": {**SITE, "name": "助餐点", "kind": "meal_point", "district": "xihu", "supplied_by": "ct-a"},
    }.items():
        assert (await kitchen.put(f"/v1/sites/{site_id}", json=body, headers=admin)).status_code == 200
    assert (await kitchen.put(f"/v1/menus/ck-t/{day}/lunch", json=MENU, headers=admin)).status_code == 200

    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    fishy = CardProfileUpdated(card_id="C-FISH", name="王", home_district="xihu", status="active", diets=["minced"], allergens=["fish"])
    await js.publish(fishy.SUBJECT, fishy.model_dump_json().encode())
    events = [
        confirmed(card_id="C-FISH", site="mp-a", day=day, item="set-b", diet="minced"),  # fish, for a diner allergic to fish
        confirmed(card_id="C-OTHER", site="mp-a", day=day, item="set-b", diet="minced", qty=2),
        confirmed(card_id="C-FISH", site="mp-a", day=day, item="soup"),
        confirmed(card_id=None, site="ct-a", day=day, item="set-a", channel="dine_in"),  # a walk-in sale is not a pre-order
    ]
    cancelled = confirmed(card_id="C-OTHER", site="mp-a", day=day, item="soup", qty=5)
    for event in [*events, cancelled]:
        await js.publish(event.SUBJECT, event.model_dump_json().encode())
    gone = OrderCancelled(order_id=cancelled.order_id, site_id="mp-a", service_date=day, meal_slot="lunch")
    await js.publish(gone.SUBJECT, gone.model_dump_json().encode())
    await nc.close()

    async def plan() -> dict:
        body = (await kitchen.get(f"/v1/plans/ck-t/{day}/lunch", headers=token("kitchen", "ck-t"))).json()
        lines = {(x["site_id"], x["menu_item_id"], x["diet_variant"]): x for x in body["lines"]}
        soup = lines.get(("mp-a", "soup", "regular"))
        return body if soup and soup["preordered"] == 1 and body["totals"]["allergen_alerts"] == 1 else {}

    body = await eventually(plan, timeout=15)
    lines = {(x["site_id"], x["menu_item_id"], x["diet_variant"]): x for x in body["lines"]}
    assert lines[("mp-a", "set-b", "minced")] == {
        "site_id": "mp-a",
        "menu_item_id": "set-b",
        "diet_variant": "minced",
        "preordered": 3,
        "forecast": 0,
        "to_cook": 3,
        "allergen_alerts": 1,
    }
    assert lines[("mp-a", "soup", "regular")]["allergen_alerts"] == 0, "the cancelled soups are gone; soup has no fish"
    # the canteen has no dine-in history yet: its default of 31 walk-ins is spread over the 3 dishes, plus a 10% buffer
    assert [lines[("ct-a", item, "regular")]["forecast"] for item in ("set-a", "set-b", "soup")] == [11, 10, 10]
    assert lines[("ct-a", "set-a", "regular")]["to_cook"] == 13  # ceil(11 × 1.1), the walk-in sale is not a pre-order
    other = await kitchen.get(f"/v1/plans/ck-t/{day}/lunch", headers=token("kitchen", "ck-other"))
    assert other.status_code == 403 and other.json()["code"] == "scope_forbidden"


@pytest.mark.parametrize("day", ["0001-01-05", "9999-12-31", "1999-12-31", "2101-01-01"])
async def test_a_service_date_outside_2000_to_2100_is_refused_and_nothing_is_stored(start_service, token, day: str) -> None:  # type: ignore[no-untyped-def]
    app, kitchen = await start_service("central_kitchen")
    admin = token("admin")
    kitchen_site = {**SITE, "name": "厨房", "kind": "kitchen", "district": "xihu"}
    assert (await kitchen.put("/v1/sites/ck-t", json=kitchen_site, headers=admin)).status_code == 200
    calls = [("PUT", f"/v1/menus/ck-t/{day}/lunch"), ("GET", f"/v1/plans/ck-t/{day}/lunch"), ("GET", f"/v1/menus/ck-t/{day}/lunch")]
    for method, path in calls:
        r = await kitchen.request(method, path, json=MENU if method == "PUT" else None, headers=admin)
        assert r.status_code == 422, (path, r.status_code, r.text)
        assert r.headers["content-type"] == "application/problem+json" and r.json()["code"] == "validation_error"
        assert "2000..2100" in r.json()["detail"], "the answer says which dates are served"
    async with app.state.db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(MenuItem)) == 0, "no menu stored"
        subjects = (await s.execute(select(app.state.tables.outbox.c.subject))).scalars().all()
    assert subjects == ["catalog.site.upserted.v1"], "no menu event left"
