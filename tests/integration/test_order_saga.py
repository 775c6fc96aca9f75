"""The till checkout saga against real pricing over real NATS: confirmed, declined, pricing down, replays, cancel."""

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import nats
import pytest
from sqlalchemy import func, select

from services.order.adapters.tables import MealOrder
from services.pricing.adapters.tables import Charge
from shared.events import StopDelivered, StopFailed
from tests.helpers import eventually
from tests.world import wallet

pytestmark = pytest.mark.timeout(90)


def body(w: dict[str, Any], **changes: Any) -> dict[str, Any]:
    base = {
        "site_id": "ct-a",
        "card_id": "C75",
        "channel": "dine_in",
        "service_date": str(w["today"]),
        "meal_slot": "lunch",
        "items": [{"menu_item_id": "set-a", "qty": 1}],
        "payment_method": "card_wallet",
    }
    return {**base, **changes}


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def count(app: Any, model: Any) -> int:
    async with app.state.db.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_confirmed_with_wallet_at_70_percent(world) -> None:  # type: ignore[no-untyped-def]
    w = world
    r = await w["order"].post("/v1/orders", json=body(w), headers={**w["till"], **key()})
    assert r.status_code == 201, r.text
    placed = r.json()
    assert placed["status"] == "confirmed" and placed["pay_percent"] == 70
    assert (placed["list_total_fen"], placed["age_discount_fen"], placed["senior_pays_fen"]) == (1200, 360, 840)
    assert placed["wallet_balance_fen"] == 10000 - 840 == await wallet(w["pricing"], w["admin"], "C75")
    assert r.headers["location"] == f"/v1/orders/{placed['order_id']}"
    got = await w["order"].get(f"/v1/orders/{placed['order_id']}", headers=w["till"])
    assert got.json()["status"] == "confirmed"
    second = await w["order"].post("/v1/orders", json=body(w), headers={**w["till"], **key()})
    assert second.json()["senior_pays_fen"] == 1200 and "slot_limit_reached" in second.json()["reasons"], "one subsidised lunch per day"


@pytest.mark.parametrize(
    ("card", "status", "code"),
    [("CPOOR", 402, "insufficient_balance"), ("CLOST", 409, "card_reported_lost"), ("NOPE", 404, "unknown_card")],
)
async def test_declines_charge_nothing_and_leave_the_order_rejected(world, card: str, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    w = world
    before = await w["pricing"].get(f"/v1/cards/{card}/wallet", headers=w["admin"])
    r = await w["order"].post("/v1/orders", json=body(w, card_id=card), headers={**w["till"], **key()})
    assert r.status_code == status and r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["code"] == code and problem["order_status"] == "rejected"
    if code == "insufficient_balance":
        assert problem["balance_fen"] == 300 and problem["senior_pays_fen"] == 840
    after = await w["pricing"].get(f"/v1/cards/{card}/wallet", headers=w["admin"])
    assert before.json() == after.json(), "nothing charged"
    assert await count(w["pricing_app"], Charge) == 0
    got = await w["order"].get(f"/v1/orders/{problem['order_id']}", headers=w["till"])
    assert got.json()["status"] == "rejected" and got.json()["reason"] == code


async def test_a_declined_request_does_not_burn_its_key(world) -> None:  # type: ignore[no-untyped-def]
    w = world
    k = key()
    first = await w["order"].post("/v1/orders", json=body(w, card_id="CPOOR"), headers={**w["till"], **k})
    assert first.status_code == 402
    topup = await w["pricing"].post("/v1/cards/CPOOR/topups", json={"amount_fen": 1000}, headers={**w["admin"], **key()})
    assert topup.status_code == 201
    retry = await w["order"].post("/v1/orders", json=body(w, card_id="CPOOR"), headers={**w["till"], **k})
    assert retry.status_code == 201 and retry.json()["status"] == "confirmed"
    assert await wallet(w["pricing"], w["admin"], "CPOOR") == 300 + 1000 - 840


async def test_idempotency_key_rules(world) -> None:  # type: ignore[no-untyped-def]
    w = world
    k = key()
    first = await w["order"].post("/v1/orders", json=body(w), headers={**w["till"], **k})
    again = await w["order"].post("/v1/orders", json=body(w), headers={**w["till"], **k})
    assert first.status_code == again.status_code == 201
    assert again.content == first.content, "byte for byte"
    other = await w["order"].post("/v1/orders", json=body(w, items=[{"menu_item_id": "soup", "qty": 1}]), headers={**w["till"], **k})
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    missing = await w["order"].post("/v1/orders", json=body(w), headers=w["till"])
    assert missing.status_code == 400 and missing.json()["code"] == "idempotency_key_required"
    assert await count(w["order_app"], MealOrder) == 1
    assert await count(w["pricing_app"], Charge) == 1


async def test_fifty_concurrent_replays_make_one_order_and_one_charge(world) -> None:  # type: ignore[no-untyped-def]
    w = world
    k = key()
    responses = await asyncio.gather(*(w["order"].post("/v1/orders", json=body(w), headers={**w["till"], **k}) for _ in range(50)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.content for r in responses}) == 1, "every twin gets the first response byte for byte"
    assert await count(w["order_app"], MealOrder) == 1
    assert await count(w["pricing_app"], Charge) == 1
    assert await wallet(w["pricing"], w["admin"], "C75") == 10000 - 840, "charged once"


async def test_pricing_down_gives_202_then_the_recovery_loop_settles_it(world) -> None:  # type: ignore[no-untyped-def]
    w = world
    # the pricing endpoints stop answering (its RPC server goes away), as if the process died
    await w["pricing_app"].state.rpc.stop()
    k = key()
    r = await w["order"].post("/v1/orders", json=body(w), headers={**w["till"], **k})
    assert r.status_code == 202, r.text
    pending = r.json()
    assert pending["status"] == "pending_payment" and r.headers["location"] == f"/v1/orders/{pending['order_id']}"
    assert await wallet(w["pricing"], w["admin"], "C75") == 10000
    await w["pricing_app"].state.rpc.start(w["pricing_app"].state.bus.nc)

    async def confirmed() -> bool:
        got = await w["order"].get(f"/v1/orders/{pending['order_id']}", headers=w["till"])
        return got.json()["status"] == "confirmed"

    await eventually(confirmed, timeout=15)
    assert await wallet(w["pricing"], w["admin"], "C75") == 10000 - 840
    assert await count(w["pricing_app"], Charge) == 1
    replay = await w["order"].post("/v1/orders", json=body(w), headers={**w["till"], **k})
    assert (replay.status_code, replay.content) == (202, r.content), "the first answer, byte for byte; its Location has the outcome"


async def test_cancel_before_cutoff_refunds_and_after_cutoff_is_refused(world) -> None:  # type: ignore[no-untyped-def]
    w = world
    tomorrow = str(w["today"] + timedelta(days=1))
    r = await w["order"].post("/v1/orders", json=body(w, channel="pickup", service_date=tomorrow), headers={**w["till"], **key()})
    assert r.status_code == 201
    order_id = r.json()["order_id"]
    assert await wallet(w["pricing"], w["admin"], "C75") == 10000 - 840
    cancelled = await w["order"].post(f"/v1/orders/{order_id}/cancel", headers=w["till"])
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert await wallet(w["pricing"], w["admin"], "C75") == 10000
    outbox = w["order_app"].state.tables.outbox
    async with w["order_app"].state.db.sessions() as s:
        subjects = (await s.execute(select(outbox.c.subject).where(outbox.c.payload.contains(order_id)))).scalars().all()
    assert subjects == ["order.confirmed.v1", "order.cancelled.v1"], "the kitchen and delivery hear of the cancellation"
    again = await w["order"].post(f"/v1/orders/{order_id}/cancel", headers=w["till"])
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    assert await wallet(w["pricing"], w["admin"], "C75") == 10000, "refunded once"
    # the allowance came back: a new lunch tomorrow is subsidised again
    r = await w["order"].post("/v1/orders", json=body(w, channel="pickup", service_date=tomorrow), headers={**w["till"], **key()})
    assert r.json()["pay_percent"] == 70

    late_till = {"Authorization": w["till"]["Authorization"]}
    late = await w["order"].post("/v1/orders", json=body(w, site_id="ct-late"), headers={**late_till, **key()})
    assert late.status_code == 403, "a till sells only for its own site"


async def test_cutoffs_and_dates(world, token) -> None:  # type: ignore[no-untyped-def]
    w = world
    late = token("pos", "ct-late")
    today = w["today"]
    pre = await w["order"].post("/v1/orders", json=body(w, site_id="ct-late", channel="pickup"), headers={**late, **key()})
    assert pre.status_code == 409 and pre.json()["code"] == "cutoff_passed"
    walk_in = await w["order"].post("/v1/orders", json=body(w, site_id="ct-late"), headers={**late, **key()})
    assert walk_in.status_code == 201, "dine-in still sells after the cut-off"
    cancel = await w["order"].post(f"/v1/orders/{walk_in.json()['order_id']}/cancel", headers=late)
    assert cancel.status_code == 409 and cancel.json()["code"] == "cutoff_passed"
    ahead = await w["order"].post(
        "/v1/orders", json=body(w, channel="pickup", service_date=str(today + timedelta(days=7))), headers={**w["till"], **key()}
    )
    assert ahead.status_code == 201
    for days, code in ((8, "service_date_too_far"), (30, "service_date_too_far"), (-1, "service_date_in_past")):
        r = await w["order"].post(
            "/v1/orders", json=body(w, channel="pickup", service_date=str(today + timedelta(days=days))), headers={**w["till"], **key()}
        )
        assert r.status_code == 422 and r.json()["code"] == code
    tomorrow_walk_in = await w["order"].post(
        "/v1/orders", json=body(w, service_date=str(today + timedelta(days=1))), headers={**w["till"], **key()}
    )
    assert tomorrow_walk_in.json()["code"] == "walk_in_today_only"


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"items": []}, 422, "validation_error"),
        ({"items": [{"menu_item_id": "set-a", "qty": 0}]}, 422, "validation_error"),
        ({"items": [{"menu_item_id": "set-a", "qty": 10000}]}, 422, "validation_error"),
        ({"items": [{"menu_item_id": "lobster", "qty": 1}]}, 422, "unknown_menu_item"),
        ({"items": [{"menu_item_id": "set-b", "qty": 500}]}, 422, "meal_total_too_large"),
        ({"items": [{"menu_item_id": "soup", "qty": 1, "diet_variant": "pureed"}]}, 422, "diet_variant_unavailable"),
        ({"site_id": "ct-b"}, 403, "scope_forbidden"),
        ({"channel": "drone"}, 422, "validation_error"),
        ({"channel": "cart"}, 422, "channel_not_offered"),
        ({"payment_method": "card_wallet", "card_id": None}, 422, "wallet_needs_card"),
    ],
)
async def test_bad_orders_store_nothing(world, changes: dict[str, Any], status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    w = world
    r = await w["order"].post("/v1/orders", json=body(w, **changes), headers={**w["till"], **key()})
    assert (r.status_code, r.json()["code"]) == (status, code), r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert await count(w["order_app"], MealOrder) == 0
    assert await count(w["pricing_app"], Charge) == 0


async def test_delivery_outcomes_fulfil_or_fail_and_refund(world, nats_url: str) -> None:  # type: ignore[no-untyped-def]
    w = world
    tomorrow = str(w["today"] + timedelta(days=1))
    ids = []
    for card in ("C75", "C66"):
        r = await w["order"].post(
            "/v1/orders", json=body(w, card_id=card, channel="home_delivery", service_date=tomorrow), headers={**w["till"], **key()}
        )
        assert r.status_code == 201
        ids.append(uuid.UUID(r.json()["order_id"]))
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await js.publish(StopDelivered.SUBJECT, StopDelivered(trip_id="t1", stop_id="s1", order_ids=[ids[0]]).model_dump_json().encode())
    await js.publish(
        StopFailed.SUBJECT, StopFailed(trip_id="t1", stop_id="s2", order_ids=[ids[1]], reason="no_answer").model_dump_json().encode()
    )
    await nc.close()

    async def status_of(order_id: uuid.UUID) -> str:
        return str((await w["order"].get(f"/v1/orders/{order_id}", headers=w["till"])).json()["status"])

    await eventually(lambda: _is(status_of(ids[0]), "fulfilled"))
    await eventually(lambda: _is(status_of(ids[1]), "failed"))

    async def refunded() -> bool:
        return await wallet(w["pricing"], w["admin"], "C66") == 10000

    await eventually(refunded, timeout=15)
    assert await wallet(w["pricing"], w["admin"], "C75") == 10000 - 840, "the delivered order stays paid"


async def _is(value: Any, expected: str) -> bool:
    return await value == expected
