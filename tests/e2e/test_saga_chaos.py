"""The saga survives process deaths: the order service killed mid-saga, pricing down and back."""

import signal
import uuid
from typing import Any

import httpx
import nats
import pytest

from shared.devstack import Stack
from shared.settings import Settings
from tests.helpers import eventually
from tests.world import seed_stack, wallet

pytestmark = pytest.mark.timeout(120)
STREAM = Settings().stream_name


async def _city(stack: Stack, token: Any) -> dict[str, Any]:
    city = await seed_stack(stack, token)
    body = {
        "site_id": "ct-a",
        "card_id": "C75",
        "channel": "dine_in",
        "service_date": str(city["today"]),
        "meal_slot": "lunch",
        "items": [{"menu_item_id": "set-a", "qty": 1}],
        "payment_method": "card_wallet",
    }
    return {**city, "body": body}


async def _placed(city: dict[str, Any], key: str) -> httpx.Response | None:
    r = await city["order"].post("/v1/orders", json=city["body"], headers={**city["till"], "Idempotency-Key": key})
    return r if r.status_code != 422 else None  # order's copy of the menu may lag the quote by a moment


async def test_order_service_killed_between_charge_and_confirm_recovers_and_charges_once(stack: Stack, token) -> None:  # type: ignore[no-untyped-def]
    city = await _city(stack, token)
    stack.stop_service("order")
    stack.start_service("order", {"CHAOS_EXIT_AFTER_CHARGE": "true"})
    stack.wait_ready(("order",))
    key = str(uuid.uuid4())
    with pytest.raises(httpx.HTTPError):
        for _ in range(50):  # the first attempts may see a stale menu; the one that reaches pricing kills the process
            if await _placed(city, key) is not None:
                break
    assert stack.procs["order"].wait(10) == 137, "the order process died right after pricing charged"
    assert await wallet(city["pricing"], city["admin"], "C75") == 10000 - 840, "pricing charged before the crash"
    stack.procs.pop("order")
    stack.start_service("order")
    stack.wait_ready(("order",))

    async def answered() -> httpx.Response | None:
        """The till retries with its key: once the recovery pass settled the order, it gets the real answer."""
        r = await city["order"].post("/v1/orders", json=city["body"], headers={**city["till"], "Idempotency-Key": key})
        return r if r.status_code == 201 else None

    confirmed = await eventually(answered, timeout=30)
    assert confirmed.json()["status"] == "confirmed" and confirmed.json()["senior_pays_fen"] == 840
    again = await city["order"].post("/v1/orders", json=city["body"], headers={**city["till"], "Idempotency-Key": key})
    assert (again.status_code, again.content) == (201, confirmed.content), "replays give that answer byte for byte"
    assert await wallet(city["pricing"], city["admin"], "C75") == 10000 - 840, "the recovery re-drove an idempotent charge: charged once"
    meals = (await city["pricing"].get("/v1/cards/C75/meals", headers=city["admin"])).json()
    assert len(meals) == 1, meals
    nc = await nats.connect(stack.nats_url)
    try:

        async def announced_once() -> bool:
            info = await nc.jetstream().stream_info(STREAM, subjects_filter="order.confirmed.v1")
            return (info.state.subjects or {}).get("order.confirmed.v1") == 1

        await eventually(announced_once, timeout=10)
    finally:
        await nc.close()


async def test_pricing_down_then_back_settles_the_pending_order(stack: Stack, token) -> None:  # type: ignore[no-untyped-def]
    city = await _city(stack, token)
    # make sure order knows the menu before pricing goes away
    warm = await eventually(
        lambda: _placed({**city, "body": {**city["body"], "card_id": None, "payment_method": "cash"}}, str(uuid.uuid4()))
    )
    assert warm.status_code == 201
    stack.stop_service("pricing", sig=signal.SIGKILL)
    r = await city["order"].post("/v1/orders", json=city["body"], headers={**city["till"], "Idempotency-Key": str(uuid.uuid4())})
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "pending_payment"
    location = r.headers["location"]
    stack.start_service("pricing")
    stack.wait_ready(("pricing",))

    async def confirmed() -> bool:
        return (await city["order"].get(location, headers=city["till"])).json()["status"] == "confirmed"

    await eventually(confirmed, timeout=30)
    assert await wallet(city["pricing"], city["admin"], "C75") == 10000 - 840
