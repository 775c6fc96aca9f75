"""Quotes through the API and over NATS: every rule of DOMAIN.md end to end, the reasons, and that a quote changes nothing."""

from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest

from shared.events import QuoteLine, QuoteRequest
from tests.conftest import BACKENDS
from tests.pricing_support import ADMIN, World, born, world_for

pytestmark = pytest.mark.timeout(90)

D = date(2025, 6, 15)
LEAP_EVE, LEAP_DAY = date(2022, 2, 28), date(2022, 3, 1)  # 2022 has no 29 February
BEFORE, AFTER = date(2025, 6, 30), date(2025, 7, 1)  # a new city policy takes effect on 1 July
CAPPED = date(2025, 8, 5)  # a discount cap of 10 yuan from 1 August
GOLD = date(2025, 6, 16)  # a menu with a dish at the highest price a menu may carry
MENUS = [(d, "lunch") for d in (D, LEAP_EVE, LEAP_DAY, BEFORE, AFTER, CAPPED)]

CARDS: dict[str, dict[str, Any]] = {
    "U59": {"birth": born(59, D)},  # turns 60 the day after D
    "B60": {"birth": date(1965, 6, 15)},  # turns 60 on D itself
    "A70": {"birth": born(70, D), "topup_fen": 2345},  # its wallet shows in its quotes
    "A80": {"birth": born(80, D)},
    "LEAP": {"birth": date(1952, 2, 29)},  # turns 70 in 2022, a year without 29 February
    "A65": {"birth": born(65, AFTER)},
    "G2": {"birth": born(75, D), "groups": ["dibao", "tekun"]},  # shangcheng: dibao 500 from 5 yuan, tekun 800
    "GD": {"birth": born(70, D), "groups": ["dibao"]},
    "GT80": {"birth": born(80, D), "groups": ["tekun"]},
    "X70": {"birth": born(70, D), "district": "xihu"},  # xihu: the city pays 30%
    "T80": {"birth": born(80, D), "district": "tonglu"},  # tonglu: the city pays 50%
    "SUS": {"birth": born(75, D), "status": "suspended"},
    "LOST": {"birth": born(75, D), "status": "reported_lost"},
    "BABY": {"birth": D + timedelta(days=1)},
}

# (case, card, service date, items, site) -> the answer's fields
CASES: list[tuple[str, str | None, date, list[tuple[str, int]], str, dict[str, Any]]] = [
    ("no card pays the list price", None, D, [("set-a", 1)], "ct-qingbo",
     {"list_total_fen": 1200, "senior_pays_fen": 1200, "pay_percent": 100, "funder_district": None, "reasons": ["no_card"]}),
    ("59, turning 60 tomorrow, pays in full", "U59", D, [("set-a", 1)], "ct-qingbo",
     {"senior_pays_fen": 1200, "age_discount_fen": 0, "reasons": ["under_age"], "funder_district": None}),
    ("a 60th birthday on the service date counts", "B60", D, [("set-a", 1)], "ct-qingbo",
     {"pay_percent": 80, "age_discount_fen": 240, "senior_pays_fen": 960, "funder_district": "shangcheng", "district_part_fen": 240,
      "city_part_fen": 0, "reasons": []}),
    ("70-79 pay 70%", "A70", D, [("set-a", 1)], "ct-qingbo",
     {"pay_percent": 70, "age_discount_fen": 360, "senior_pays_fen": 840}),
    ("80 and over pay 50%", "A80", D, [("set-a", 1)], "ct-qingbo",
     {"pay_percent": 50, "age_discount_fen": 600, "senior_pays_fen": 600}),
    ("several items and quantities", "A70", D, [("set-a", 2), ("soup", 1)], "ct-qingbo",
     {"list_total_fen": 2750, "age_discount_fen": 825, "senior_pays_fen": 1925}),
    ("29 February birthday: still 69 on 28 February of a common year", "LEAP", LEAP_EVE, [("set-a", 1)], "ct-qingbo",
     {"pay_percent": 80, "age_discount_fen": 240}),
    ("29 February birthday: 70 from 1 March of a common year", "LEAP", LEAP_DAY, [("set-a", 1)], "ct-qingbo",
     {"pay_percent": 70, "age_discount_fen": 360}),
    ("the policy in force on the service date applies (old version)", "A65", BEFORE, [("set-a", 1)], "ct-qingbo",
     {"pay_percent": 80, "age_discount_fen": 240}),
    ("the policy in force on the service date applies (new version)", "A65", AFTER, [("set-a", 1)], "ct-qingbo",
     {"pay_percent": 90, "age_discount_fen": 120, "senior_pays_fen": 1080}),
    ("the per-meal cap limits what is discounted", "A80", CAPPED, [("set-b", 2)], "ct-qingbo",
     {"list_total_fen": 3000, "age_discount_fen": 500, "senior_pays_fen": 2500}),
    ("the largest group subsidy, not the sum", "G2", D, [("set-a", 1)], "ct-qingbo",
     {"age_discount_fen": 360, "group_subsidy_fen": 800, "senior_pays_fen": 40, "district_part_fen": 1160, "reasons": []}),
    ("a group subsidy needs its minimum spend", "GD", D, [("soup", 1)], "ct-qingbo",
     {"age_discount_fen": 105, "group_subsidy_fen": 0, "senior_pays_fen": 245, "reasons": ["group_min_spend_not_met"]}),
    ("never below zero", "GT80", D, [("soup", 1)], "ct-qingbo",
     {"age_discount_fen": 175, "group_subsidy_fen": 175, "senior_pays_fen": 0, "reasons": ["group_subsidy_clipped"]}),
    ("home district funds, city share rounds half up", "X70", D, [("set-a", 1), ("soup", 1)], "ct-qingbo",
     {"list_total_fen": 1550, "age_discount_fen": 465, "funder_district": "xihu", "city_part_fen": 140, "district_part_fen": 325}),
    ("a cart in another county, the city pays half", "T80", D, [("soup", 1)], "cart-tonglu",
     {"age_discount_fen": 175, "funder_district": "tonglu", "city_part_fen": 88, "district_part_fen": 87}),
    ("a meal point supplied through a canteen sells the kitchen's menu", "A70", D, [("set-b", 1)], "mp-lanli",
     {"list_total_fen": 1500, "age_discount_fen": 450}),
    ("a suspended card gets no discount", "SUS", D, [("set-a", 1)], "ct-qingbo",
     {"senior_pays_fen": 1200, "funder_district": None, "reasons": ["card_inactive", "card_suspended"]}),
    ("a card reported lost gets no discount", "LOST", D, [("set-a", 1)], "ct-qingbo",
     {"senior_pays_fen": 1200, "reasons": ["card_inactive", "card_reported_lost"]}),
]  # fmt: skip


@pytest.fixture(scope="module", params=BACKENDS)
async def world(request: pytest.FixtureRequest, nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with world_for(request.param, tmp_path_factory.mktemp("quotes"), nats_url, menus=MENUS) as w:
        newer = {"effective_from": str(AFTER), "age_tiers": [{"min_age": 60, "max_age": 69, "pay_percent": 90},
                 {"min_age": 70, "max_age": 79, "pay_percent": 70}, {"min_age": 80, "max_age": None, "pay_percent": 50}]}  # fmt: skip
        capped = {"effective_from": "2025-08-01", "age_tiers": [{"min_age": 60, "max_age": 69, "pay_percent": 80},
                  {"min_age": 70, "max_age": 79, "pay_percent": 70}, {"min_age": 80, "max_age": None, "pay_percent": 50}],
                  "discount_cap_fen": 1000}  # fmt: skip
        for body in (newer, capped):
            assert (await w.pricing.put("/v1/policies/city", json=body, headers=ADMIN)).status_code == 200
        for card_id, spec in CARDS.items():
            await w.put_card(card_id, **spec)
        await w.put_menu(GOLD, prices={"soup": 350, "gold": 100_000_000})
        await w.menus_known([(GOLD, "lunch")])
        yield w


def _request(card: str | None, day: date, items: list[tuple[str, int]], site: str) -> QuoteRequest:
    return QuoteRequest(
        site_id=site, card_id=card, service_date=day, meal_slot="lunch", items=[QuoteLine(menu_item_id=m, qty=q) for m, q in items]
    )


@pytest.mark.parametrize(("case", "card", "day", "items", "site", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_quote(
    world: World, case: str, card: str | None, day: date, items: list[tuple[str, int]], site: str, expected: dict[str, Any]
) -> None:
    req = _request(card, day, items, site)
    r = await world.pricing.post("/v1/quotes", content=req.model_dump_json(), headers={**ADMIN, "content-type": "application/json"})
    assert r.status_code == 200, r.text
    http = r.json()
    assert {k: http[k] for k in expected} == expected, case
    assert http["senior_pays_fen"] + http["age_discount_fen"] + http["group_subsidy_fen"] == http["list_total_fen"]
    assert http["city_part_fen"] + http["district_part_fen"] == http["age_discount_fen"] + http["group_subsidy_fen"]
    over_nats = await world.quote_nats(req)
    assert over_nats.model_dump(mode="json") == http, "the till's quote over NATS is the same as the HTTP one"
    wallet = {"A70": 2345}.get(card or "", 0) if card is not None else None
    assert http["wallet_balance_fen"] == wallet, "the till shows the card's wallet before the senior pays"


async def test_a_till_quotes_for_its_own_site_only(world: World, token) -> None:  # type: ignore[no-untyped-def]
    body = _request("A70", D, [("set-a", 1)], "ct-qingbo").model_dump(mode="json")
    assert (await world.pricing.post("/v1/quotes", json=body, headers=token("pos", "ct-qingbo"))).status_code == 200
    other = await world.pricing.post("/v1/quotes", json=body, headers=token("pos", "mp-lanli"))
    assert other.status_code == 403 and other.json()["code"] == "scope_forbidden"
    assert (await world.pricing.post("/v1/quotes", json=body, headers=token("kitchen", "ck-west"))).status_code == 403
    assert (await world.pricing.post("/v1/quotes", json=body)).status_code == 401


BAD_QUOTES: list[tuple[str, dict[str, Any], int, str]] = [
    ("unknown site", {"site_id": "nowhere"}, 422, "unknown_site"),
    ("a kitchen sells nothing", {"site_id": "ck-west"}, 422, "site_does_not_sell"),
    ("unknown card", {"card_id": "NOPE"}, 404, "unknown_card"),
    ("no menu that day", {"service_date": "2025-06-17"}, 422, "menu_not_published"),
    ("not on the menu", {"items": [{"menu_item_id": "lobster", "qty": 1}]}, 422, "unknown_menu_item"),
    ("zero quantity", {"items": [{"menu_item_id": "set-a", "qty": 0}]}, 422, "validation_error"),
    ("huge quantity", {"items": [{"menu_item_id": "set-a", "qty": 10**9}]}, 422, "validation_error"),
    ("no items", {"items": []}, 422, "validation_error"),
    ("malformed date", {"service_date": "2025-02-30"}, 422, "validation_error"),
    ("unknown slot", {"meal_slot": "brunch"}, 422, "validation_error"),
    ("an extra field", {"discount": 100}, 422, "validation_error"),
    ("a date before the card holder was born", {"card_id": "BABY"}, 422, "service_date_before_birth"),
    (
        "a meal above two thousand yuan",
        {"service_date": str(GOLD), "items": [{"menu_item_id": "gold", "qty": 2}]},
        422,
        "meal_total_too_large",
    ),
]


@pytest.mark.parametrize(("case", "change", "status", "code"), BAD_QUOTES, ids=[b[0] for b in BAD_QUOTES])
async def test_bad_quotes_are_problems(world: World, case: str, change: dict[str, Any], status: int, code: str) -> None:
    body = {**_request("A70", D, [("set-a", 1)], "ct-qingbo").model_dump(mode="json"), **change}
    r = await world.pricing.post("/v1/quotes", json=body, headers=ADMIN)
    assert (r.status_code, r.json()["code"]) == (status, code), r.text
    assert r.headers["content-type"] == "application/problem+json"


async def test_quoting_changed_nothing(world: World) -> None:
    """Every quote above, on both channels, left no charge, posting or statement behind."""
    assert await world.ledger() == (0, 2, 0, 0), "no charge, no statement: only the two postings of A70's top-up"
    assert await world.balance("A70") == 2345
    for card_id in CARDS:
        assert (await world.pricing.get(f"/v1/cards/{card_id}/meals", headers=ADMIN)).json() == []
