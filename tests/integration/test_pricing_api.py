"""Cards, policies and the admin page through pricing's HTTP API: what an administrator sees, and bad input storing nothing."""

import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from nats.js.errors import NotFoundError

from services.pricing.adapters.tables import Card, CityPolicyVersion, DistrictPolicyVersion
from tests.conftest import BACKENDS
from tests.helpers import city_today, eventually
from tests.pricing_support import ADMIN, CITY_POLICY, DEFAULT_TIERS, World, born, world_for

pytestmark = pytest.mark.timeout(90)
TODAY = city_today()


@pytest.fixture(scope="module", params=BACKENDS)
async def world(request: pytest.FixtureRequest, nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with world_for(request.param, tmp_path_factory.mktemp("api"), nats_url) as w:
        yield w


async def count(world: World, table: Any) -> int:
    from sqlalchemy import func, select

    async with world.app.state.db.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(table)) or 0)


CARD = {
    "name": "王秀英",
    "birth_date": "1950-03-08",
    "id_number": "33010219500308123x",
    "home_district": "shangcheng",
    "groups": ["dibao"],
    "diets": ["soft", "low_salt"],
    "allergens": ["fish"],
    "emergency_contact": "女儿 13800000000",
}


async def test_a_card_shows_only_the_last_four_digits_of_the_identity_number(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    r = await world.pricing.put("/v1/cards/HZ-WANG", json=CARD, headers=ADMIN)
    assert r.status_code == 200, r.text
    card = r.json()
    async with world.app.state.db.sessions() as s:
        stored = (await s.get(Card, "HZ-WANG")).model_dump(mode="json")  # type: ignore[union-attr]
    assert "33010219500308" not in json.dumps(stored), "the database keeps a hash and the last four digits, never the number"
    assert stored["id_last4"] == "123X" and len(stored["id_hash"]) >= 32
    assert card["id_last4"] == "123X" and card["balance_fen"] == 0 and card["status"] == "active"
    assert "33010219500308" not in r.text and "id_number" not in card and "id_hash" not in card
    shown = (await world.pricing.get("/v1/cards/HZ-WANG", headers=ADMIN)).json()
    assert shown == card
    assert (await world.pricing.get("/v1/cards/HZ-NOBODY", headers=ADMIN)).json()["code"] == "unknown_card"

    js = world.nc.jetstream()

    async def published() -> dict[str, Any]:
        try:
            msg = await js.get_last_msg("MEALS", "card.profile.updated.v1")
        except NotFoundError:  # the outbox relay has not published it yet
            return {}
        event = json.loads(msg.data)
        return event if event["card_id"] == "HZ-WANG" and event["status"] == "reported_lost" else {}

    moved = {**CARD, "id_number": "330102195003084321", "status": "reported_lost"}
    assert (await world.pricing.put("/v1/cards/HZ-WANG", json=moved, headers=ADMIN)).json()["id_last4"] == "4321"
    event = await eventually(published)
    assert event["diets"] == ["soft", "low_salt"] and event["allergens"] == ["fish"], "the kitchen and drivers learn diets"
    raw = json.dumps(event)
    assert "4321" not in raw and "33010219500308" not in raw and "id_" not in raw, "no identity number ever leaves pricing"
    assert "33010219500308" not in caplog.text, "nor is it ever logged"


async def test_an_update_without_a_status_keeps_the_cards_status(world: World) -> None:
    created = await world.pricing.put("/v1/cards/HZ-KEEP", json=CARD, headers=ADMIN)
    assert (created.status_code, created.json()["status"]) == (200, "active"), "a new card without a status is active"
    for status in ("reported_lost", "suspended", "active"):
        r = await world.pricing.put("/v1/cards/HZ-KEEP", json={**CARD, "status": status}, headers=ADMIN)
        assert r.json()["status"] == status
        edited = {**CARD, "emergency_contact": f"儿子 1390000{len(status):04d}"}  # no status: an edit of the profile only
        r = await world.pricing.put("/v1/cards/HZ-KEEP", json=edited, headers=ADMIN)
        assert (r.status_code, r.json()["status"], r.json()["emergency_contact"]) == (200, status, edited["emergency_contact"])
        shown = (await world.pricing.get("/v1/cards/HZ-KEEP", headers=ADMIN)).json()
        assert shown["status"] == status, "a lost or suspended card is not reactivated by an edit"


async def test_repeated_groups_diets_and_allergens_are_stored_once_in_first_seen_order(world: World) -> None:
    body = {**CARD, "groups": ["dibao", "tekun", "dibao"], "diets": ["soft", "low_salt", "soft"], "allergens": ["fish", "fish"]}
    r = await world.pricing.put("/v1/cards/HZ-TWICE", json=body, headers=ADMIN)
    assert r.status_code == 200, r.text
    expected = {"groups": ["dibao", "tekun"], "diets": ["soft", "low_salt"], "allergens": ["fish"]}
    assert {k: r.json()[k] for k in expected} == expected
    shown = (await world.pricing.get("/v1/cards/HZ-TWICE", headers=ADMIN)).json()
    assert {k: shown[k] for k in expected} == expected
    js = world.nc.jetstream()

    async def published() -> dict[str, Any]:
        try:
            msg = await js.get_last_msg("MEALS", "card.profile.updated.v1")
        except NotFoundError:
            return {}
        event = json.loads(msg.data)
        return event if event["card_id"] == "HZ-TWICE" else {}

    event = await eventually(published)
    assert (event["diets"], event["allergens"]) == (["soft", "low_salt"], ["fish"]), "the kitchen and drivers count each diet once"


async def test_cards_are_found_by_id_or_name(world: World) -> None:
    for card_id, name in (("HZ0001", "张建国"), ("HZ0010", "张秀兰"), ("HZ0100", "李四"), ("XH0001", "王五")):
        await world.put_card(card_id, birth=born(70, TODAY), name=name)

    async def search(q: str | None = None, **params: Any) -> list[str]:
        r = await world.pricing.get("/v1/cards", params={**({"q": q} if q else {}), **params}, headers=ADMIN)
        assert r.status_code == 200, r.text
        return [c["card_id"] for c in r.json()]

    assert await search("HZ0010") == ["HZ0010"]
    assert await search("HZ0") == ["HZ0001", "HZ0010", "HZ0100"]
    assert await search("HZ00") == ["HZ0001", "HZ0010"]
    assert await search("hz01") == ["HZ0100"], "ids match whatever the case"
    assert (await search("HZ0001"))[0] == "HZ0001", "an exact id comes first"
    assert await search("张") == ["HZ0001", "HZ0010"]
    assert await search("秀兰") == ["HZ0010"]
    assert await search("%") == [] and await search("HZ_0") == [], "wildcards are plain characters"
    assert len(await search(limit=2)) == 2
    for params in ({"q": ""}, {"q": "x" * 51}, {"q": "a\x00b"}, {"limit": 0}, {"limit": 101}):
        r = await world.pricing.get("/v1/cards", params=params, headers=ADMIN)
        assert (r.status_code, r.json()["code"]) == (422, "validation_error"), params


BAD_CARDS: list[tuple[str, dict[str, Any], str]] = [
    ("unknown district", {"home_district": "atlantis"}, "unknown_district"),
    ("unknown group", {"groups": ["vip"]}, "unknown_group"),
    ("unknown diet", {"diets": ["keto"]}, "unknown_diet"),
    ("unknown allergen", {"allergens": ["gold"]}, "unknown_allergen"),
    ("born in the future", {"birth_date": str(TODAY + timedelta(days=1))}, "invalid_birth_date"),
    ("born before 1900", {"birth_date": "1899-12-31"}, "invalid_birth_date"),
    ("malformed birth date", {"birth_date": "1950-02-30"}, "validation_error"),
    ("short identity number", {"id_number": "3301021950"}, "validation_error"),
    ("letters in the identity number", {"id_number": "33010219500308ABCD"}, "validation_error"),
    ("full-width digits in the identity number", {"id_number": "３３０１０２１９５００３０８１２３４"}, "validation_error"),
    ("a NUL in the name", {"name": "王\x00"}, "validation_error"),
    ("a control character in the emergency contact", {"emergency_contact": "138\x07"}, "validation_error"),
    ("unknown status", {"status": "deleted"}, "validation_error"),
    ("empty name", {"name": ""}, "validation_error"),
    ("an extra field", {"balance_fen": 100000}, "validation_error"),
]


@pytest.mark.parametrize(("case", "change", "code"), BAD_CARDS, ids=[b[0] for b in BAD_CARDS])
async def test_bad_cards_are_422_and_store_nothing(world: World, case: str, change: dict[str, Any], code: str) -> None:
    before = await count(world, Card)
    card_id = "BAD" + uuid.uuid4().hex[:8]
    r = await world.pricing.put(f"/v1/cards/{card_id}", json={**CARD, **change}, headers=ADMIN)
    assert (r.status_code, r.json()["code"]) == (422, code), r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert await count(world, Card) == before
    assert (await world.pricing.get(f"/v1/cards/{card_id}", headers=ADMIN)).status_code == 404


async def test_policy_versions_are_listed_with_the_one_in_force_today(world: World) -> None:
    future = {**CITY_POLICY, "effective_from": str(TODAY + timedelta(days=30)), "per_slot_limit": 2}
    recent = {**CITY_POLICY, "effective_from": str(TODAY - timedelta(days=30)), "discount_cap_fen": 2000}
    for body in (future, recent):
        assert (await world.pricing.put("/v1/policies/city", json=body, headers=ADMIN)).status_code == 200
    versions = (await world.pricing.get("/v1/policies/city", headers=ADMIN)).json()
    assert [(v["effective_from"], v["in_force"]) for v in versions] == [
        ("2020-01-01", False),
        (recent["effective_from"], True),
        (future["effective_from"], False),
    ]
    assert versions[1]["age_tiers"] == DEFAULT_TIERS and versions[1]["discount_cap_fen"] == 2000
    assert versions[2]["per_slot_limit"] == 2

    upcoming = {"effective_from": str(TODAY + timedelta(days=1)), "city_share_percent": 40, "group_subsidies": []}
    assert (await world.pricing.put("/v1/policies/districts/xihu", json=upcoming, headers=ADMIN)).status_code == 200
    xihu = (await world.pricing.get("/v1/policies/districts", params={"district": "xihu"}, headers=ADMIN)).json()
    assert [(v["effective_from"], v["city_share_percent"], v["in_force"]) for v in xihu] == [
        ("2020-01-01", 30, True),
        (upcoming["effective_from"], 40, False),
    ]
    assert xihu[0]["group_subsidies"] == [
        {"group": "dibao", "amount_fen": 300, "min_spend_fen": 1000},
        {"group": "shineng", "amount_fen": 500, "min_spend_fen": 0},
    ]
    everything = (await world.pricing.get("/v1/policies/districts", headers=ADMIN)).json()
    assert {v["district"] for v in everything} == {"shangcheng", "xihu", "tonglu"}
    unknown = await world.pricing.get("/v1/policies/districts", params={"district": "atlantis"}, headers=ADMIN)
    assert (unknown.status_code, unknown.json()["code"]) == (422, "unknown_district")


def tiers(*spans: tuple[int, int | None, int]) -> list[dict[str, Any]]:
    return [{"min_age": a, "max_age": b, "pay_percent": p} for a, b, p in spans]


BAD_CITY: list[tuple[str, dict[str, Any], str]] = [
    ("overlapping tiers", {"age_tiers": tiers((60, 70, 80), (70, None, 50))}, "age_tiers_overlap"),
    ("a duplicated tier", {"age_tiers": tiers((60, 69, 80), (60, 69, 70), (70, None, 50))}, "age_tiers_overlap"),
    ("two open-ended tiers", {"age_tiers": tiers((60, None, 80), (60, None, 50))}, "age_tiers_invalid"),
    ("a gap between tiers", {"age_tiers": tiers((60, 69, 80), (75, None, 50))}, "age_tiers_gap"),
    ("an open tier before the last", {"age_tiers": tiers((60, None, 80), (70, 79, 50))}, "age_tiers_invalid"),
    ("max below min", {"age_tiers": tiers((70, 60, 80))}, "age_tiers_invalid"),
    ("no tiers", {"age_tiers": []}, "validation_error"),
    ("pay above 100%", {"age_tiers": tiers((60, None, 101))}, "validation_error"),
    ("negative age", {"age_tiers": tiers((-1, None, 80))}, "validation_error"),
    ("negative cap", {"discount_cap_fen": -1}, "validation_error"),
    ("huge cap", {"discount_cap_fen": 10**12}, "validation_error"),
    ("negative slot limit", {"per_slot_limit": -1}, "validation_error"),
    ("malformed date", {"effective_from": "2026-02-30"}, "validation_error"),
    ("a date in year 1", {"effective_from": "0001-01-01"}, "invalid_effective_from"),
    ("not a date", {"effective_from": "next monday"}, "validation_error"),
]
BAD_DISTRICT: list[tuple[str, str, dict[str, Any], str]] = [
    ("unknown district", "atlantis", {}, "unknown_district"),
    ("unknown group", "xihu", {"group_subsidies": [{"group": "vip", "amount_fen": 100}]}, "unknown_group"),
    ("a group twice", "xihu", {"group_subsidies": [{"group": "dibao", "amount_fen": 100}, {"group": "dibao", "amount_fen": 200}]},
     "duplicate_group"),
    ("negative amount", "xihu", {"group_subsidies": [{"group": "dibao", "amount_fen": -100}]}, "validation_error"),
    ("huge amount", "xihu", {"group_subsidies": [{"group": "dibao", "amount_fen": 10**9}]}, "validation_error"),
    ("amount in yuan with decimals", "xihu", {"group_subsidies": [{"group": "dibao", "amount_fen": 5.5}]}, "validation_error"),
    ("city share above 100", "xihu", {"city_share_percent": 101}, "validation_error"),
    ("malformed date", "xihu", {"effective_from": "2026-13-01"}, "validation_error"),
    ("negative city share", "xihu", {"city_share_percent": -1}, "validation_error"),
    ("a city share in decimals", "xihu", {"city_share_percent": 12.5}, "validation_error"),
    ("negative minimum spend", "xihu", {"group_subsidies": [{"group": "dibao", "amount_fen": 100, "min_spend_fen": -1}]},
     "validation_error"),
    ("an empty group", "xihu", {"group_subsidies": [{"group": "", "amount_fen": 100}]}, "validation_error"),
    ("an extra field", "xihu", {"per_slot_limit": 2}, "validation_error"),
    ("a malformed district", "bad%20district", {}, "validation_error"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "change", "code"), BAD_CITY, ids=[b[0] for b in BAD_CITY])
async def test_bad_city_policies_are_422_and_store_nothing(world: World, case: str, change: dict[str, Any], code: str) -> None:
    before = await count(world, CityPolicyVersion)
    body = {**CITY_POLICY, "effective_from": "2030-01-01", **change}
    r = await world.pricing.put("/v1/policies/city", json=body, headers=ADMIN)
    assert (r.status_code, r.json()["code"]) == (422, code), r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert await count(world, CityPolicyVersion) == before
    assert "2030-01-01" not in (await world.pricing.get("/v1/policies/city", headers=ADMIN)).text


@pytest.mark.parametrize(("case", "district", "change", "code"), BAD_DISTRICT, ids=[b[0] for b in BAD_DISTRICT])
async def test_bad_district_policies_are_422_and_store_nothing(
    world: World, case: str, district: str, change: dict[str, Any], code: str
) -> None:
    before = await count(world, DistrictPolicyVersion)
    body = {"effective_from": "2030-01-01", "city_share_percent": 10, "group_subsidies": [], **change}
    r = await world.pricing.put(f"/v1/policies/districts/{district}", json=body, headers=ADMIN)
    assert (r.status_code, r.json()["code"]) == (422, code), r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert {"type", "title", "status", "detail"} <= r.json().keys() and r.json()["status"] == 422
    assert await count(world, DistrictPolicyVersion) == before
    assert "2030-01-01" not in (await world.pricing.get("/v1/policies/districts", headers=ADMIN)).text


async def test_the_admin_page_loads_without_a_token_and_its_api_needs_one(world: World) -> None:
    page = await world.pricing.get("/admin")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<title>助餐管理" in page.text and 'lang="zh-CN"' in page.text, "Chinese first"
    assert "connect-src 'self'" in page.headers["content-security-policy"], "the page talks to pricing only"
    assert "http://" not in page.text and "https://" not in page.text, "nothing from a CDN"
    strings = json.loads(page.text.split('id="i18n-strings">', 1)[1].split("</script>", 1)[0])
    assert strings["tab_settlement"] == {"zh": "月度结算", "en": "Monthly settlement"}
    for asset in ("/static/shared/base.css", "/static/shared/i18n.js", "/static/shared/page.js", "/static/admin.js"):
        assert asset + "?v=" in page.text
        r = await world.pricing.get(asset)
        assert r.status_code == 200 and len(r.content) > 500, asset
    missing = await world.pricing.get("/v1/cards")
    assert (missing.status_code, missing.json()["code"]) == (401, "missing_token")
    assert missing.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/cards?q=HZ"),
        ("GET", "/v1/cards/HZ0001"),
        ("GET", "/v1/cards/HZ0001/wallet"),
        ("GET", "/v1/cards/HZ0001/meals"),
        ("POST", "/v1/cards/HZ0001/topups"),
        ("GET", "/v1/policies/city"),
        ("GET", "/v1/policies/districts"),
        ("PUT", "/v1/policies/city"),
    ],
)
async def test_a_till_token_cannot_use_the_admin_api(world: World, token, method: str, path: str) -> None:  # type: ignore[no-untyped-def]
    headers = {**token("pos", "ct-qingbo"), "Idempotency-Key": "k"}
    r = await world.pricing.request(method, path, json={"amount_fen": 100} if method == "POST" else None, headers=headers)
    assert (r.status_code, r.json()["code"]) == (403, "role_forbidden")
    assert await world.balance("HZ0001") == 0


async def test_unknown_card_paths_are_404(world: World) -> None:
    for path in ("/v1/cards/NOPE", "/v1/cards/NOPE/wallet", "/v1/cards/NOPE/meals"):
        r = await world.pricing.get(path, headers=ADMIN)
        assert (r.status_code, r.json()["code"]) == (404, "unknown_card"), path
    assert (await world.pricing.get("/v1/cards/bad%20id", headers=ADMIN)).status_code == 422
