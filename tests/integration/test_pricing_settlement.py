"""Monthly settlement through the API: per operator × home district, the cross-district matrix, CSV, closing and checksums."""

import asyncio
import csv
import hashlib
import io
import json
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest

from services.pricing import service
from tests.conftest import BACKENDS
from tests.helpers import city_today
from tests.pricing_support import ADMIN, World, born, world_for

pytestmark = pytest.mark.timeout(120)

MARCH, APRIL, MAY = date(2025, 3, 10), date(2025, 4, 8), date(2025, 5, 20)
MENUS = [(MARCH, "lunch"), (MARCH, "dinner"), (APRIL, "lunch"), (APRIL, "dinner"), (date(2025, 4, 9), "lunch"), (MAY, "lunch")]
OPEN_MONTH = f"{city_today():%Y-%m}"
FROZEN_FIELDS = ("closed", "checksum", "closed_at")


@pytest.fixture(scope="module", params=BACKENDS)
async def world(request: pytest.FixtureRequest, nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with world_for(request.param, tmp_path_factory.mktemp("settlement"), nats_url, menus=MENUS) as w:
        yield w


def _body(statement: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in statement.items() if k not in FROZEN_FIELDS}


def _sha256(body: dict[str, Any]) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


async def test_a_month_per_operator_and_home_district_with_the_matrix_and_csv(world: World) -> None:
    await world.put_card("SC75", birth=born(75, MARCH), district="shangcheng", topup_fen=2000)
    await world.put_card("XH70", birth=born(70, MARCH), district="xihu")
    await world.put_card("TL80", birth=born(80, MARCH), district="tonglu")
    await world.put_card("SCG80", birth=born(80, MARCH), district="shangcheng", groups=["tekun"])
    await world.put_card("YOUNG", birth=born(50, MARCH), district="xihu")
    day = {"day": MARCH}
    await world.charge(**day, card="SC75", site="ct-qingbo", pay="card_wallet")  # shangcheng at home: 360 off
    await world.charge(**day, card="XH70", site="ct-qingbo", pay="mobile")  # xihu senior in shangcheng: 360, city 30% = 108
    await world.charge(**day, card="XH70", site="mp-lanli", slot="dinner", items=(("set-b", 1),))  # 450, city 135
    await world.charge(**day, card="TL80", site="cart-tonglu", items=(("soup", 1),))  # 175, city 87.5 -> 88
    await world.charge(**day, card="TL80", site="mp-lanli", slot="dinner")  # tonglu senior in xihu: 600, city 300
    await world.charge(**day, card="SCG80", site="mp-lanli")  # 600 + tekun clipped to 600: pays nothing
    await world.charge(**day, site="ct-qingbo")  # no card: full price
    await world.charge(**day, card="YOUNG", site="cart-tonglu", items=(("set-b", 1),))  # under 60: full price
    await world.charge(**day, card="SC75", site="mp-lanli")  # a second lunch: full price

    s = await world.settlement("2025-03")
    assert (s["period"], s["closed"], s["checksum"]) == ("2025-03", False, None)
    rows = [(r["operator"], r["funder_district"], r["meals"], r["list_total_fen"], r["senior_paid_fen"], r["subsidy_fen"],
             r["city_part_fen"], r["district_part_fen"]) for r in s["rows"]]  # fmt: skip
    assert rows == [
        ("op-fuchun", "tonglu", 1, 350, 175, 175, 88, 87),
        ("op-xingfu", "shangcheng", 1, 1200, 0, 1200, 0, 1200),
        ("op-xingfu", "tonglu", 1, 1200, 600, 600, 300, 300),
        ("op-xingfu", "xihu", 1, 1500, 1050, 450, 135, 315),
        ("op-yangguang", "shangcheng", 1, 1200, 840, 360, 0, 360),
        ("op-yangguang", "xihu", 1, 1200, 840, 360, 108, 252),
    ]
    assert s["totals"] == {"meals": 6, "list_total_fen": 6650, "senior_paid_fen": 3505, "age_discount_fen": 2545,
                           "group_subsidy_fen": 600, "subsidy_fen": 3145, "city_part_fen": 631, "district_part_fen": 2514}  # fmt: skip
    assert s["full_price"] == {"meals": 3, "list_total_fen": 3900, "senior_paid_fen": 3900}
    assert {f["funder_district"]: (f["meals"], f["subsidy_fen"]) for f in s["by_funder"]} == {
        "shangcheng": (2, 1560),
        "tonglu": (2, 775),
        "xihu": (2, 810),
    }
    cells = {(c["site_district"], c["home_district"]): (c["meals"], c["subsidy_fen"]) for c in s["matrix"]["cells"]}
    assert cells == {
        ("shangcheng", "shangcheng"): (1, 360),
        ("shangcheng", "xihu"): (1, 360),
        ("xihu", "xihu"): (1, 450),
        ("xihu", "tonglu"): (1, 600),
        ("xihu", "shangcheng"): (1, 1200),
        ("tonglu", "tonglu"): (1, 175),
    }
    assert s["ledger"] == {"subsidy_receivable_fen": 3145, "district_payable_fen": 2514, "city_payable_fen": 631,
                           "postings_sum_fen": 0, "agrees": True}, "each claim counted once: operator side = funder side"  # fmt: skip

    as_csv = await world.pricing.get("/v1/settlements/2025-03", headers={**ADMIN, "Accept": "text/csv"})
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    assert 'filename="settlement-2025-03.csv"' in as_csv.headers["content-disposition"]
    lines = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [(r["operator"], r["funder_district"], int(r["meals"]), int(r["subsidy_fen"])) for r in lines[:-1]] == [
        (r[0], r[1], r[2], r[5]) for r in rows
    ]
    assert (lines[-1]["operator"], int(lines[-1]["subsidy_fen"]), int(lines[-1]["meals"])) == ("total", 3145, 6)
    by_query = await world.pricing.get("/v1/settlements/2025-03?format=csv", headers=ADMIN)
    assert by_query.text == as_csv.text


async def test_closing_freezes_the_month_and_a_later_refund_lands_in_the_open_month(world: World) -> None:
    await world.put_card("APR75", birth=born(75, APRIL), district="shangcheng", topup_fen=5000)
    lunch = world.request(day=APRIL, card="APR75", site="ct-qingbo", pay="card_wallet")
    await world.charge(lunch)
    await world.charge(day=APRIL, card="APR75", site="ct-qingbo", slot="dinner", pay="card_wallet")
    open_before = await world.settlement(OPEN_MONTH)
    assert (await world.settlement("2025-04"))["totals"]["meals"] == 2

    closed = await world.pricing.post("/v1/settlements/2025-04/close", headers=ADMIN)
    assert closed.status_code == 200, closed.text
    frozen = closed.json()
    assert frozen["closed"] is True and frozen["closed_at"] and frozen["totals"]["meals"] == 2
    assert frozen["checksum"] == _sha256(_body(frozen)), "the checksum is sha256 of the canonical statement"
    assert await world.settlement("2025-04") == frozen
    as_csv = await world.pricing.get("/v1/settlements/2025-04", headers={**ADMIN, "Accept": "text/csv"})
    assert as_csv.headers["x-statement-checksum"] == frozen["checksum"]

    refunded = await world.refund(lunch.order_id)
    assert refunded.refunded and refunded.wallet_balance_fen == 5000 - 840
    late = await world.charge(day=date(2025, 4, 9), card="APR75", site="cart-tonglu")  # an April meal charged after closing
    assert late.age_discount_fen == 360
    assert await world.settlement("2025-04") == frozen, "a closed month never changes"
    async with world.app.state.db.sessions() as session:
        assert await service.compute_settlement(session, "2025-04") == _body(frozen), "not even in the ledger underneath"

    open_after = await world.settlement(OPEN_MONTH)
    moved = {(r["operator"], r["funder_district"]): (r["meals"], r["subsidy_fen"]) for r in open_after["rows"]}
    was = {(r["operator"], r["funder_district"]): (r["meals"], r["subsidy_fen"]) for r in open_before["rows"]}
    assert moved.get(("op-yangguang", "shangcheng"), (0, 0)) == tuple(
        a + b for a, b in zip(was.get(("op-yangguang", "shangcheng"), (0, 0)), (-1, -360), strict=True)
    ), "the refund is a negative line in the open month"
    assert moved.get(("op-fuchun", "shangcheng"), (0, 0))[0] == was.get(("op-fuchun", "shangcheng"), (0, 0))[0] + 1
    assert open_after["ledger"]["agrees"] is True

    again = await world.pricing.post("/v1/settlements/2025-04/close", headers=ADMIN)
    assert again.status_code == 200 and again.json() == frozen, "closing twice returns the same statement"


async def test_a_month_closed_while_charges_arrive_matches_its_ledger(world: World) -> None:
    """Charges racing the close land either in the statement or in the open month, never in the closed month after."""
    open_before = (await world.settlement(OPEN_MONTH))["full_price"]["meals"]

    async def close_soon() -> dict[str, Any]:
        await asyncio.sleep(0.02)
        r = await world.pricing.post("/v1/settlements/2025-05/close", headers=ADMIN)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    *charged, frozen = await asyncio.gather(*(world.charge(day=MAY, site="mp-lanli") for _ in range(20)), close_soon())
    assert len(charged) == 20
    async with world.app.state.db.sessions() as session:
        assert await service.compute_settlement(session, "2025-05") == _body(frozen)
    open_after = (await world.settlement(OPEN_MONTH))["full_price"]["meals"]
    assert frozen["full_price"]["meals"] + (open_after - open_before) == 20


@pytest.mark.parametrize(
    "month", ["2026-13", "2026-00", "abc", "2026-1", "1999-12", "2026-05-01", "2025-02%0A", "2025-02%0D", "%202025-02"]
)
async def test_malformed_months_are_422_and_store_nothing(world: World, month: str) -> None:
    before = await world.ledger()
    for method in ("GET", "POST"):
        path = f"/v1/settlements/{month}" + ("/close" if method == "POST" else "")
        r = await world.pricing.request(method, path, headers=ADMIN)
        assert (r.status_code, r.json()["code"]) == (422, "invalid_period"), (method, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    assert await world.ledger() == before


async def test_a_month_that_has_not_ended_cannot_be_closed(world: World) -> None:
    before = await world.ledger()
    today = city_today()
    future = f"{today.year + 1}-01"
    for month in (OPEN_MONTH, future):
        r = await world.pricing.post(f"/v1/settlements/{month}/close", headers=ADMIN)
        assert (r.status_code, r.json()["code"]) == (409, "period_not_ended")
        assert (await world.settlement(month))["closed"] is False
    assert await world.ledger() == before


async def test_settlement_is_for_administrators_only(world: World, token) -> None:  # type: ignore[no-untyped-def]
    assert (await world.pricing.get("/v1/settlements/2025-03")).status_code == 401
    for role, scope in (("pos", "ct-qingbo"), ("kitchen", "ck-west")):
        r = await world.pricing.get("/v1/settlements/2025-03", headers=token(role, scope))
        assert (r.status_code, r.json()["code"]) == (403, "role_forbidden")
        assert (await world.pricing.post("/v1/settlements/2024-01/close", headers=token(role, scope))).status_code == 403
    assert (await world.settlement("2024-01"))["closed"] is False
