"""Charges, refunds and top-ups over the real bus and database: once per key, declines record nothing, refunds give back."""

import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest

from shared.errors import Problem
from shared.events import QuoteLine
from tests.conftest import BACKENDS
from tests.pricing_support import ADMIN, CITY_POLICY, World, born, world_for

pytestmark = pytest.mark.timeout(90)

D = date(2025, 6, 15)
MENUS = [(D, "lunch"), (D, "dinner")]
# Days on which a card holder's meal can get no subsidy at all: a 0-fen dish on the menu, then (later city policy
# versions) a discount cap of 0 and a tier paying 100%. Each is after D, so the meals above D see the seed policy.
TEA_DAY, CAP_ZERO_DAY, FULL_PAY_DAY = date(2025, 9, 1), date(2025, 10, 1), date(2025, 11, 1)
TEA_MENU = {"tea": 0, "soup": 350, "set-a": 1200}
TIERS_60_PAY_ALL = [
    {"min_age": 60, "max_age": 69, "pay_percent": 100},
    {"min_age": 70, "max_age": 79, "pay_percent": 70},
    {"min_age": 80, "max_age": None, "pay_percent": 50},
]


@pytest.fixture(scope="module", params=BACKENDS)
async def world(request: pytest.FixtureRequest, nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with world_for(request.param, tmp_path_factory.mktemp("ledger"), nats_url, menus=MENUS) as w:
        days = (TEA_DAY, CAP_ZERO_DAY, FULL_PAY_DAY)
        for day in days:
            await w.put_menu(day, prices=TEA_MENU)
        await w.menus_known([(day, "lunch") for day in days])
        for policy in (
            {**CITY_POLICY, "effective_from": str(CAP_ZERO_DAY), "discount_cap_fen": 0},
            {**CITY_POLICY, "effective_from": str(FULL_PAY_DAY), "age_tiers": TIERS_60_PAY_ALL},
        ):
            assert (await w.pricing.put("/v1/policies/city", json=policy, headers=ADMIN)).status_code == 200
        yield w


def card_id() -> str:
    return "L" + uuid.uuid4().hex[:10].upper()


async def meals(world: World, card: str) -> list[dict[str, Any]]:
    r = await world.pricing.get(f"/v1/cards/{card}/meals", headers=ADMIN)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_replaying_a_charge_returns_the_first_result_and_changes_nothing(world: World) -> None:
    card = card_id()
    await world.put_card(card, birth=born(75, D), topup_fen=5000)
    req = world.request(day=D, card=card, pay="card_wallet")
    first = await world.charge(req)
    assert (first.senior_pays_fen, first.wallet_balance_fen, first.charged) == (840, 4160, True)
    before = await world.ledger()
    assert await world.charge(req) == first
    other_body = req.model_copy(update={"items": [QuoteLine(menu_item_id="set-b", qty=3)], "payment_method": "cash"})
    assert await world.charge(other_body) == first, "the order_id decides; the first result is the result"
    assert await world.ledger() == before
    assert await world.balance(card) == 4160
    assert [m["order_id"] for m in await meals(world, card)] == [str(req.order_id)]


async def test_a_replay_returns_the_first_result_even_when_the_card_is_unknown_or_changed(world: World) -> None:
    card = card_id()
    await world.put_card(card, birth=born(75, D), topup_fen=5000)
    req = world.request(day=D, card=card, pay="card_wallet")
    first = await world.charge(req)
    before = await world.ledger()
    replays = [
        {"card_id": "NO-SUCH-CARD"},  # no such card: still the first result, not 404
        {"card_id": None},  # a wallet payment without a card
        {"site_id": "nowhere", "items": [QuoteLine(menu_item_id="lobster", qty=1)]},
    ]
    for change in replays:
        assert await world.charge(req.model_copy(update=change)) == first, change
    await world.put_card(card, birth=born(75, D), status="reported_lost")
    assert await world.charge(req) == first, "the card was reported lost after the meal was paid"
    assert await world.ledger() == before
    assert await world.balance(card) == 4160
    assert [(m["order_id"], m["status"]) for m in await meals(world, card)] == [(str(req.order_id), "charged")]


async def quote_http(world: World, *, day: date, card: str, items: list[tuple[str, int]]) -> dict[str, Any]:
    body = {
        "site_id": "ct-qingbo",
        "card_id": card,
        "service_date": str(day),
        "meal_slot": "lunch",
        "items": [{"menu_item_id": m, "qty": q} for m, q in items],
    }
    r = await world.pricing.post("/v1/quotes", json=body, headers=ADMIN)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


# (case, service date, age, groups, the first lunch (which gets no subsidy), its reasons, the second lunch's fields)
UNSUBSIDISED_FIRST: list[tuple[str, date, int, list[str], list[tuple[str, int]], list[str], dict[str, Any]]] = [
    ("a 0-fen tea", TEA_DAY, 80, [], [("tea", 1)], [],
     {"pay_percent": 50, "age_discount_fen": 600, "group_subsidy_fen": 0, "senior_pays_fen": 600}),
    ("a discount cap of 0", CAP_ZERO_DAY, 75, ["dibao"], [("soup", 1)], ["group_min_spend_not_met"],
     {"pay_percent": 70, "age_discount_fen": 0, "group_subsidy_fen": 500, "senior_pays_fen": 700}),
    ("a tier paying 100%", FULL_PAY_DAY, 65, ["dibao"], [("soup", 1)], ["group_min_spend_not_met"],
     {"pay_percent": 100, "age_discount_fen": 0, "group_subsidy_fen": 500, "senior_pays_fen": 700}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "day", "age", "groups", "first_items", "first_reasons", "second"), UNSUBSIDISED_FIRST, ids=[u[0] for u in UNSUBSIDISED_FIRST]
)
async def test_a_meal_that_got_no_subsidy_leaves_the_slot_allowance_unused(
    world: World,
    case: str,
    day: date,
    age: int,
    groups: list[str],
    first_items: list[tuple[str, int]],
    first_reasons: list[str],
    second: dict[str, Any],
) -> None:
    card = card_id()
    await world.put_card(card, birth=born(age, day), groups=groups)
    first = await world.charge(day=day, card=card, items=first_items)
    assert (first.age_discount_fen + first.group_subsidy_fen, first.senior_pays_fen, first.reasons) == (
        0,
        first.list_total_fen,
        first_reasons,
    )
    shown = await quote_http(world, day=day, card=card, items=[("set-a", 1)])
    assert {k: shown[k] for k in second} == second and shown["reasons"] == [], "the till offers the subsidy"
    paid = await world.charge(day=day, card=card)
    assert {k: getattr(paid, k) for k in second} == second and paid.reasons == [], case
    third = await world.charge(day=day, card=card)
    assert (third.senior_pays_fen, third.reasons) == (1200, ["slot_limit_reached"]), "the subsidised lunch does use the allowance"
    assert [m["subsidy_fen"] for m in await meals(world, card)].count(0) == 2


async def test_a_refund_reverses_the_charge_once_and_gives_the_allowances_back(world: World) -> None:
    card = card_id()
    await world.put_card(card, birth=born(75, D), groups=["tekun"], topup_fen=5000)  # shangcheng: tekun 8 yuan a day
    lunch = world.request(day=D, card=card, pay="card_wallet")
    first = await world.charge(lunch)
    assert (first.age_discount_fen, first.group_subsidy_fen, first.senior_pays_fen, first.wallet_balance_fen) == (360, 800, 40, 4960)
    second = await world.charge(day=D, card=card, pay="card_wallet")
    assert (second.senior_pays_fen, second.reasons) == (1200, ["slot_limit_reached"]), "one subsidised lunch per day"
    dinner = await world.charge(day=D, card=card, slot="dinner", pay="card_wallet")
    assert (dinner.age_discount_fen, dinner.group_subsidy_fen, dinner.reasons) == (360, 0, ["group_subsidy_used_today"])
    assert dinner.wallet_balance_fen == 4960 - 1200 - 840

    before = await world.ledger()
    refunded = await world.refund(lunch.order_id)
    assert (refunded.refunded, refunded.refunded_fen, refunded.wallet_balance_fen) == (True, 40, 2920 + 40)
    after_refund = await world.ledger()
    assert after_refund[1] > before[1] and after_refund[2] == 0, "reversing postings, balanced"
    assert await world.refund(lunch.order_id) == refunded, "a second refund returns the first answer"
    assert await world.ledger() == after_refund and await world.balance(card) == 2960

    again = await world.charge(day=D, card=card, pay="card_wallet")
    assert (again.age_discount_fen, again.group_subsidy_fen, again.reasons) == (360, 800, []), "the lunch and group allowances came back"
    assert await world.balance(card) == 2920, "the wallet has moved since the refund"
    assert await world.refund(lunch.order_id) == refunded, "a replayed refund still returns its first answer, balance included"
    statuses = [(m["order_id"], m["status"]) for m in await meals(world, card)]
    assert (str(lunch.order_id), "refunded") in statuses and len(statuses) == 4


async def test_a_short_wallet_declines_with_the_balance_and_records_nothing(world: World) -> None:
    card = card_id()
    await world.put_card(card, birth=born(75, D), topup_fen=500)
    req = world.request(day=D, card=card, pay="card_wallet")
    before = await world.ledger()
    with pytest.raises(Problem) as declined:
        await world.charge(req)
    assert (declined.value.status, declined.value.code) == (402, "insufficient_balance")
    assert declined.value.extra["balance_fen"] == 500 and declined.value.extra["senior_pays_fen"] == 840
    assert await world.ledger() == before and await world.balance(card) == 500 and await meals(world, card) == []
    assert (await world.topup(card, 1000)).status_code == 201
    paid = await world.charge(req)
    assert (paid.charged, paid.wallet_balance_fen, paid.reasons) == (True, 660, []), "the same order goes through: nothing was kept"


@pytest.mark.parametrize(("status", "code"), [("reported_lost", "card_reported_lost"), ("suspended", "card_suspended")])
async def test_a_lost_or_suspended_card_is_refused_at_the_till(world: World, status: str, code: str) -> None:
    card = card_id()
    await world.put_card(card, birth=born(75, D), status=status, topup_fen=5000)
    before = await world.ledger()
    for pay in ("card_wallet", "cash"):
        with pytest.raises(Problem) as refused:
            await world.charge(day=D, card=card, pay=pay)
        assert (refused.value.status, refused.value.code) == (409, code)
    assert await world.ledger() == before and await world.balance(card) == 5000
    anonymous = await world.charge(day=D, pay="cash")
    assert anonymous.senior_pays_fen == 1200, "the diner may still pay full price without the card"


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"card": None, "pay": "card_wallet"}, 422, "wallet_needs_card"),
        ({"card": "NO-SUCH-CARD"}, 404, "unknown_card"),
        ({"site": "nowhere"}, 422, "unknown_site"),
        ({"items": (("lobster", 1),)}, 422, "unknown_menu_item"),
    ],
    ids=["wallet without card", "unknown card", "unknown site", "unknown item"],
)
async def test_a_charge_that_cannot_be_priced_records_nothing(world: World, change: dict[str, Any], status: int, code: str) -> None:
    before = await world.ledger()
    with pytest.raises(Problem) as bad:
        await world.charge(**{"day": D, **change})
    assert (bad.value.status, bad.value.code) == (status, code)
    assert await world.ledger() == before


async def test_refunding_an_order_never_charged_is_404(world: World) -> None:
    with pytest.raises(Problem) as missing:
        await world.refund(uuid.uuid4())
    assert (missing.value.status, missing.value.code) == (404, "unknown_charge")


async def test_a_top_up_replayed_with_its_key_credits_once(world: World) -> None:
    card = card_id()
    await world.put_card(card, birth=born(75, D))
    first = await world.topup(card, 5000, key="click-1")
    assert first.status_code == 201 and first.json() == {"card_id": card, "amount_fen": 5000, "balance_fen": 5000}
    before = await world.ledger()
    replay = await world.topup(card, 5000, key="click-1")
    assert replay.status_code == 201 and replay.json() == first.json()
    assert await world.ledger() == before and await world.balance(card) == 5000
    reused = await world.topup(card, 9000, key="click-1")
    assert (reused.status_code, reused.json()["code"]) == (409, "idempotency_key_reused")
    second = await world.topup(card, 2000, key="click-2")
    assert second.json()["balance_fen"] == 7000
    wallet = (await world.pricing.get(f"/v1/cards/{card}/wallet", headers=ADMIN)).json()
    assert [t["amount_fen"] for t in wallet["recent_topups"]] == [2000, 5000]


BAD_TOPUPS: list[tuple[str, Any, dict[str, str] | None, int, str]] = [
    ("zero", 0, None, 422, "validation_error"),
    ("negative", -100, None, 422, "validation_error"),
    ("above 10,000 yuan", 1_000_001, None, 422, "validation_error"),
    ("huge", 10**15, None, 422, "validation_error"),
    ("a fraction of a fen", 12.5, None, 422, "validation_error"),
    ("a string", "100", None, 422, "validation_error"),
    ("no key", 100, {}, 400, "idempotency_key_required"),
    ("blank key", 100, {"Idempotency-Key": "  "}, 400, "idempotency_key_required"),
    ("key too long", 100, {"Idempotency-Key": "k" * 201}, 422, "validation_error"),
]


@pytest.mark.parametrize(("case", "amount", "headers", "status", "code"), BAD_TOPUPS, ids=[b[0] for b in BAD_TOPUPS])
async def test_bad_top_ups_are_problems_and_store_nothing(
    world: World, case: str, amount: Any, headers: dict[str, str] | None, status: int, code: str
) -> None:
    card = card_id()
    await world.put_card(card, birth=born(75, D), topup_fen=100)
    before = await world.ledger()
    sent = {**ADMIN, **(headers if headers is not None else {"Idempotency-Key": str(uuid.uuid4())})}
    r = await world.pricing.post(f"/v1/cards/{card}/topups", json={"amount_fen": amount}, headers=sent)
    assert (r.status_code, r.json()["code"]) == (status, code), r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert await world.ledger() == before and await world.balance(card) == 100


async def test_top_ups_stop_at_the_wallet_limit_and_unknown_cards_are_404(world: World) -> None:
    card = card_id()
    await world.put_card(card, birth=born(75, D))
    for _ in range(100):  # 100 × 10,000 yuan = the 1,000,000 yuan a wallet may hold
        assert (await world.topup(card, 1_000_000)).status_code == 201
    before = await world.ledger()
    over = await world.topup(card, 1)
    assert (over.status_code, over.json()["code"], over.json()["balance_fen"]) == (422, "wallet_limit_exceeded", 100_000_000)
    missing = await world.topup("NO-SUCH-CARD", 100)
    assert (missing.status_code, missing.json()["code"]) == (404, "unknown_card")
    assert await world.ledger() == before


async def test_every_posting_ever_made_sums_to_zero(world: World) -> None:
    """Runs last in this module: after every charge, refund and top-up above, the ledger balances."""
    charges, postings, total, _ = await world.ledger()
    assert charges > 0 and postings > 0 and total == 0
