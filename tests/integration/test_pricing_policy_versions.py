"""District policy versions through the API: quotes and charges take the version in force on the service date."""

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest

from tests.conftest import BACKENDS
from tests.pricing_support import ADMIN, World, born, world_for

pytestmark = pytest.mark.timeout(90)

# xihu's seed version (from 2020) gives the city a 30% share, dibao 3 yuan from 10 yuan spent, shineng 5 yuan
JUNE_END, JULY_FIRST, AUGUST_END, SEPTEMBER_FIRST = date(2025, 6, 30), date(2025, 7, 1), date(2025, 8, 31), date(2025, 9, 1)
DAYS = (JUNE_END, JULY_FIRST, AUGUST_END, SEPTEMBER_FIRST)
JULY = {"effective_from": str(JULY_FIRST), "city_share_percent": 60, "group_subsidies": [{"group": "dibao", "amount_fen": 700}]}
SEPTEMBER = {"effective_from": str(SEPTEMBER_FIRST), "city_share_percent": 0, "group_subsidies": []}
CARDS = {"XH-DIBAO": ["dibao"], "XH-SHINENG": ["shineng"]}

# (card, service date) -> what the till and the settlement see for one set-a (12 yuan; 75 years old: 3.60 off)
EXPECTED: dict[tuple[str, date], dict[str, Any]] = {
    ("XH-DIBAO", JUNE_END): {"group_subsidy_fen": 300, "senior_pays_fen": 540, "city_part_fen": 198, "district_part_fen": 462},
    ("XH-SHINENG", JUNE_END): {"group_subsidy_fen": 500, "senior_pays_fen": 340, "city_part_fen": 258, "district_part_fen": 602},
    ("XH-DIBAO", JULY_FIRST): {"group_subsidy_fen": 700, "senior_pays_fen": 140, "city_part_fen": 636, "district_part_fen": 424},
    ("XH-SHINENG", JULY_FIRST): {"group_subsidy_fen": 0, "senior_pays_fen": 840, "city_part_fen": 216, "district_part_fen": 144},
    ("XH-DIBAO", AUGUST_END): {"group_subsidy_fen": 700, "senior_pays_fen": 140, "city_part_fen": 636, "district_part_fen": 424},
    ("XH-SHINENG", AUGUST_END): {"group_subsidy_fen": 0, "senior_pays_fen": 840, "city_part_fen": 216, "district_part_fen": 144},
    ("XH-DIBAO", SEPTEMBER_FIRST): {"group_subsidy_fen": 0, "senior_pays_fen": 840, "city_part_fen": 0, "district_part_fen": 360},
    ("XH-SHINENG", SEPTEMBER_FIRST): {"group_subsidy_fen": 0, "senior_pays_fen": 840, "city_part_fen": 0, "district_part_fen": 360},
}


@pytest.fixture(scope="module", params=BACKENDS)
async def world(request: pytest.FixtureRequest, nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with world_for(request.param, tmp_path_factory.mktemp("versions"), nats_url, menus=[(d, "lunch") for d in DAYS]) as w:
        for version in (SEPTEMBER, JULY):  # stored out of date order: the date decides, not the order of entry
            r = await w.pricing.put("/v1/policies/districts/xihu", json=version, headers=ADMIN)
            assert r.status_code == 200, r.text
        for card_id, groups in CARDS.items():
            await w.put_card(card_id, birth=born(75, JUNE_END), district="xihu", groups=groups)
        yield w


@pytest.mark.parametrize(("card", "day"), list(EXPECTED), ids=[f"{c}-{d}" for c, d in EXPECTED])
async def test_quote_and_charge_use_the_district_version_in_force_on_the_service_date(world: World, card: str, day: date) -> None:
    expected = {**EXPECTED[card, day], "list_total_fen": 1200, "age_discount_fen": 360, "pay_percent": 70, "funder_district": "xihu"}
    body = {
        "site_id": "ct-qingbo",
        "card_id": card,
        "service_date": str(day),
        "meal_slot": "lunch",
        "items": [{"menu_item_id": "set-a", "qty": 1}],
    }
    r = await world.pricing.post("/v1/quotes", json=body, headers=ADMIN)
    assert r.status_code == 200, r.text
    assert {k: r.json()[k] for k in expected} == expected, "the quote the till shows"
    charged = (await world.charge(day=day, card=card)).model_dump(mode="json")
    assert {k: charged[k] for k in expected} == expected, "the charge"


async def test_each_months_settlement_splits_by_the_version_its_meals_were_charged_under(world: World) -> None:
    def parts(month: dict[str, Any]) -> tuple[int, int, int]:
        xihu = [f for f in month["by_funder"] if f["funder_district"] == "xihu"]
        return (xihu[0]["meals"], xihu[0]["city_part_fen"], xihu[0]["district_part_fen"]) if xihu else (0, 0, 0)

    for day in DAYS:
        period = f"{day:%Y-%m}"
        before = parts(await world.settlement(period))
        for card, groups in CARDS.items():
            await world.put_card(f"S{card}", birth=born(75, JUNE_END), district="xihu", groups=groups)
            await world.charge(day=day, card=f"S{card}")
        month = await world.settlement(period)
        meals = [EXPECTED[card, day] for card in CARDS]
        added = (len(meals), sum(m["city_part_fen"] for m in meals), sum(m["district_part_fen"] for m in meals))
        assert tuple(a - b for a, b in zip(parts(month), before, strict=True)) == added, period
        assert month["ledger"]["agrees"] is True


async def test_the_district_versions_are_listed_by_date(world: World) -> None:
    r = await world.pricing.get("/v1/policies/districts", params={"district": "xihu"}, headers=ADMIN)
    assert [(v["effective_from"], v["city_share_percent"]) for v in r.json()] == [
        ("2020-01-01", 30),
        (str(JULY_FIRST), 60),
        (str(SEPTEMBER_FIRST), 0),
    ]
