"""Simultaneous requests over real NATS against a real database (SQLite and PostgreSQL): allowances and wallets hold."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date

import pytest

from shared.errors import Problem
from shared.events import ChargeResult, RefundResult
from tests.conftest import BACKENDS
from tests.pricing_support import ADMIN, World, born, world_for

pytestmark = pytest.mark.timeout(120)

D = date(2025, 6, 15)
N = 20


@pytest.fixture(scope="module", params=BACKENDS)
async def world(request: pytest.FixtureRequest, nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with world_for(request.param, tmp_path_factory.mktemp("concurrency"), nats_url, menus=[(D, "lunch")]) as w:
        yield w


def card_id() -> str:
    return "C" + uuid.uuid4().hex[:10].upper()


async def test_twenty_simultaneous_charges_for_one_card_and_slot_subsidise_one_meal(world: World) -> None:
    card = card_id()
    await world.put_card(card, birth=born(75, D))
    requests = [world.request(day=D, card=card, pay="cash") for _ in range(N)]
    results = await asyncio.gather(*(world.charge(r) for r in requests))
    subsidised = [r for r in results if r.age_discount_fen > 0]
    assert len(subsidised) == 1, [r.reasons for r in results]
    assert subsidised[0].senior_pays_fen == 840
    assert sorted(r.reasons == ["slot_limit_reached"] and r.senior_pays_fen == 1200 for r in results).count(True) == N - 1
    meals = (await world.pricing.get(f"/v1/cards/{card}/meals?limit=100", headers=ADMIN)).json()
    assert len(meals) == N and sum(m["subsidy_fen"] for m in meals) == 360
    assert (await world.ledger())[2] == 0


async def test_twenty_simultaneous_wallet_debits_never_overdraw(world: World) -> None:
    card = card_id()
    await world.put_card(card, birth=born(50, D), topup_fen=7 * 1200 + 500)  # under 60: every meal costs 12 yuan
    results = await asyncio.gather(
        *(world.charge(day=D, card=card, pay="card_wallet") for _ in range(N)),
        return_exceptions=True,
    )
    paid = [r for r in results if isinstance(r, ChargeResult)]
    declined = [r for r in results if isinstance(r, Problem)]
    assert len(paid) == 7 and len(declined) == N - 7, results
    assert all(p.code == "insufficient_balance" and p.status == 402 for p in declined)
    assert sorted(int(p.wallet_balance_fen or 0) for p in paid) == [500 + 1200 * k for k in range(7)], "each debit saw the last one"
    assert min(int(p.extra["balance_fen"]) for p in declined) == 500
    assert await world.balance(card) == 500


async def test_the_same_order_charged_twice_at_once_is_charged_once(world: World) -> None:
    card = card_id()
    await world.put_card(card, birth=born(75, D), topup_fen=10_000)
    anonymous = [world.request(day=D, pay="cash") for _ in range(10)]  # no card: no row lock to queue on
    with_card = world.request(day=D, card=card, pay="card_wallet")
    before = (await world.ledger())[0]
    twins = [r for r in anonymous for _ in range(3)] + [with_card] * 5
    results = await asyncio.gather(*(world.charge(r) for r in twins), return_exceptions=True)
    assert not [r for r in results if isinstance(r, BaseException)], results
    by_order: dict[uuid.UUID, set[str]] = {}
    for r in results:
        assert isinstance(r, ChargeResult)
        by_order.setdefault(r.order_id, set()).add(r.model_dump_json())
    assert len(by_order) == 11 and all(len(answers) == 1 for answers in by_order.values()), "every copy got the first result"
    assert (await world.ledger())[0] == before + 11
    assert await world.balance(card) == 10_000 - 840


async def test_the_same_top_up_sent_ten_times_at_once_credits_once(world: World) -> None:
    card = card_id()
    await world.put_card(card, birth=born(75, D))
    same = await asyncio.gather(*(world.topup(card, 5000, key="one-click") for _ in range(10)))
    assert {r.status_code for r in same} == {201} and {r.text for r in same} == {same[0].text}
    distinct = await asyncio.gather(*(world.topup(card, 100) for _ in range(10)))
    assert {r.status_code for r in distinct} == {201}
    assert await world.balance(card) == 5000 + 10 * 100, "no credit lost, none doubled"


async def test_the_same_refund_sent_ten_times_at_once_reverses_the_charge_once(world: World) -> None:
    card = card_id()
    await world.put_card(card, birth=born(75, D), topup_fen=5000)
    before_charge = await world.ledger()
    paid = await world.charge(day=D, card=card, pay="card_wallet")
    assert (paid.senior_pays_fen, paid.wallet_balance_fen) == (840, 4160)
    charged = await world.ledger()
    month = (await world.settlement("2025-06"))["totals"]
    results = await asyncio.gather(*(world.refund(paid.order_id) for _ in range(10)), return_exceptions=True)
    assert not [r for r in results if isinstance(r, BaseException)], results
    answers = [r for r in results if isinstance(r, RefundResult)]
    assert {(r.order_id, r.refunded, r.refunded_fen, r.wallet_balance_fen) for r in answers} == {(paid.order_id, True, 840, 5000)}
    assert len({r.model_dump_json() for r in answers}) == 1 and len(answers) == 10, "every copy got the one refund"
    assert await world.balance(card) == 5000, "the wallet was credited once"
    refunded = await world.ledger()
    assert refunded[0] == charged[0] and refunded[2] == 0
    assert refunded[1] - charged[1] == charged[1] - before_charge[1], "one reversing posting per posting of the charge"
    after = (await world.settlement("2025-06"))["totals"]
    assert (month["meals"] - after["meals"], month["subsidy_fen"] - after["subsidy_fen"]) == (1, 360), "the claim reversed once"
    meals = (await world.pricing.get(f"/v1/cards/{card}/meals", headers=ADMIN)).json()
    assert [(m["order_id"], m["status"]) for m in meals] == [(str(paid.order_id), "refunded")]
    again = await world.charge(day=D, card=card, pay="card_wallet")
    assert (again.senior_pays_fen, again.wallet_balance_fen, again.reasons) == (840, 4160, []), "the lunch allowance came back"
