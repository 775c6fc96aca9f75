"""Delivery's manifest from real events: what leaves by vehicle, with diets, allergens and emergency contacts."""

import uuid
from datetime import timedelta

import nats
import pytest
from sqlmodel import select

from services.delivery.adapters.tables import DeliveryOrder
from shared.events import CardProfileUpdated, OrderCancelled, OrderConfirmed, OrderLine
from tests.helpers import city_today, eventually

pytestmark = pytest.mark.timeout(60)


def confirmed(order_id: uuid.UUID, *, card_id: str | None, channel: str, day) -> OrderConfirmed:  # type: ignore[no-untyped-def]
    line = OrderLine(menu_item_id="set-b", name="套餐B·清蒸鲈鱼", qty=1, diet_variant="minced", price_fen=1400)
    return OrderConfirmed(
        order_id=order_id,
        site_id="mp-a",
        kitchen_id="ck-t",
        card_id=card_id,
        channel=channel,
        service_date=day,
        meal_slot="lunch",
        items=[line],
        list_total_fen=1400,
        senior_pays_fen=980,
        payment_method="card_wallet",
    )


async def test_manifest_carries_diets_and_respects_a_cancellation_that_overtook_its_confirmation(start_service, token, nats_url) -> None:  # type: ignore[no-untyped-def]
    app, delivery = await start_service("delivery")
    day = city_today() + timedelta(days=1)
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    profile = CardProfileUpdated(
        card_id="C1",
        name="李桂兰",
        home_district="gongshu",
        status="active",
        diets=["minced"],
        allergens=["fish"],
        emergency_contact="女儿 13800000000",
    )
    await js.publish(profile.SUBJECT, profile.model_dump_json().encode())
    raced = uuid.uuid4()
    cancel = OrderCancelled(order_id=raced, site_id="mp-a", service_date=day, meal_slot="lunch")
    await js.publish(cancel.SUBJECT, cancel.model_dump_json().encode())

    async def tombstone() -> bool:
        async with app.state.db.sessions() as s:
            return (await s.exec(select(DeliveryOrder).where(DeliveryOrder.order_id == raced))).first() is not None

    await eventually(tombstone)
    delivered, walk_in = uuid.uuid4(), uuid.uuid4()
    for event in (
        confirmed(raced, card_id="C1", channel="home_delivery", day=day),
        confirmed(walk_in, card_id="C1", channel="dine_in", day=day),
        confirmed(delivered, card_id="C1", channel="home_delivery", day=day),
    ):
        await js.publish(event.SUBJECT, event.model_dump_json().encode())
    await nc.close()

    async def manifest() -> list:
        r = await delivery.get("/v1/deliveries", params={"service_date": str(day), "meal_slot": "lunch"}, headers=token("kitchen", "ck-t"))
        rows = r.json()
        return rows if any(row["order_id"] == str(delivered) for row in rows) else []

    rows = await eventually(manifest)
    assert [row["order_id"] for row in rows] == [str(delivered)], "the cancelled order stays cancelled; dine-in is not delivered"
    row = rows[0]
    assert (row["recipient_name"], row["diets"], row["allergens"], row["emergency_contact"]) == (
        "李桂兰",
        ["minced"],
        ["fish"],
        "女儿 13800000000",
    )
    assert row["items"] == [{"menu_item_id": "set-b", "name": "套餐B·清蒸鲈鱼", "qty": 1, "diet_variant": "minced"}]
    other = await delivery.get(
        "/v1/deliveries", params={"service_date": str(day), "meal_slot": "lunch", "kitchen_id": "ck-t"}, headers=token("kitchen", "ck-b")
    )
    assert other.status_code == 403


@pytest.mark.parametrize("day", ["0001-01-05", "9999-12-31"])
async def test_a_manifest_for_a_date_outside_2000_to_2100_is_a_validation_error(start_service, token, day: str) -> None:  # type: ignore[no-untyped-def]
    _, delivery = await start_service("delivery")
    r = await delivery.get("/v1/deliveries", params={"service_date": day, "meal_slot": "lunch"}, headers=token("admin"))
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
    assert r.json()["code"] == "validation_error" and "2000..2100" in r.json()["detail"]
