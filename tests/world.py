"""A small city for order and pricing tests, seeded through the public APIs."""

from datetime import date, timedelta
from typing import Any

import httpx

from tests.helpers import city_today, eventually

SITE = {"operator": "op-yangguang", "lat": 30.25, "lon": 120.17}
MENU = {
    "items": [
        {"menu_item_id": "set-a", "name": "套餐A·红烧肉", "price_fen": 1200, "diet_variants": ["regular", "soft"], "allergens": ["soy"]},
        {
            "menu_item_id": "set-b",
            "name": "套餐B·清蒸鲈鱼",
            "price_fen": 1400,
            "diet_variants": ["regular", "minced"],
            "allergens": ["fish"],
        },
        {"menu_item_id": "soup", "name": "冬瓜排骨汤", "price_fen": 350, "diet_variants": ["regular"], "allergens": []},
    ]
}
CITY_POLICY = {
    "effective_from": "2024-02-01",
    "age_tiers": [
        {"min_age": 60, "max_age": 69, "pay_percent": 80},
        {"min_age": 70, "max_age": 79, "pay_percent": 70},
        {"min_age": 80, "max_age": None, "pay_percent": 50},
    ],
    "per_slot_limit": 1,
}


def born(age: int, today: date | None = None) -> str:
    """A birth date that makes the senior `age` for the coming weeks."""
    day = (today or city_today()) + timedelta(days=40)
    return str(day.replace(year=day.year - age - 1))


async def seed(
    *, kitchen: httpx.AsyncClient, pricing: httpx.AsyncClient, admin: dict[str, str], days: int = 8, late_cutoff: str = "23:59"
) -> dict[str, Any]:
    """Kitchen ck-t, canteen ct-a (cut-offs late in the day), canteen ct-late (cut-offs at midnight), cards, wallets."""
    today = city_today()
    sites = {
        "ck-t": {**SITE, "name": "测试中央厨房", "kind": "kitchen", "district": "xihu"},
        "ct-a": {
            **SITE,
            "name": "测试中心食堂",
            "kind": "canteen",
            "district": "shangcheng",
            "supplied_by": "ck-t",
            "lunch_cutoff": late_cutoff,
            "dinner_cutoff": late_cutoff,
            "breakfast_cutoff": late_cutoff,
        },
        "ct-b": {
            **SITE,
            "name": "另一食堂",
            "kind": "canteen",
            "district": "gongshu",
            "supplied_by": "ck-t",
            "lunch_cutoff": late_cutoff,
            "dinner_cutoff": late_cutoff,
        },
        "cart-t": {
            **SITE,
            "name": "测试流动餐车",
            "kind": "cart",
            "district": "tonglu",
            "supplied_by": "ck-t",
            "lunch_cutoff": late_cutoff,
            "dinner_cutoff": late_cutoff,
        },
        "ct-late": {
            **SITE,
            "name": "早截单食堂",
            "kind": "canteen",
            "district": "xihu",
            "supplied_by": "ck-t",
            "lunch_cutoff": "00:00",
            "dinner_cutoff": "00:00",
            "breakfast_cutoff": "00:00",
        },
    }
    for site_id, body in sites.items():
        r = await kitchen.put(f"/v1/sites/{site_id}", json=body, headers=admin)
        assert r.status_code == 200, r.text
    for offset in range(days):
        for slot in ("lunch", "dinner"):
            r = await kitchen.put(f"/v1/menus/ck-t/{today + timedelta(days=offset)}/{slot}", json=MENU, headers=admin)
            assert r.status_code == 200, r.text
    assert (await pricing.put("/v1/policies/city", json=CITY_POLICY, headers=admin)).status_code == 200
    district = {
        "effective_from": "2024-02-01",
        "city_share_percent": 30,
        "group_subsidies": [{"group": "dibao", "amount_fen": 300, "min_spend_fen": 1000}],
    }
    assert (await pricing.put("/v1/policies/districts/xihu", json=district, headers=admin)).status_code == 200
    cards = {
        "C75": {
            "name": "王秀英",
            "birth_date": born(75),
            "id_number": "330102195001011234",
            "home_district": "shangcheng",
            "diets": ["soft"],
        },
        "C66": {"name": "张建国", "birth_date": born(66), "id_number": "330102196001015678", "home_district": "xihu"},
        "C85POOR": {
            "name": "李桂兰",
            "birth_date": born(85),
            "id_number": "33010219400101999X",
            "home_district": "xihu",
            "groups": ["dibao"],
        },
        "CLOST": {
            "name": "孙大爷",
            "birth_date": born(78),
            "id_number": "330102194801011111",
            "home_district": "xihu",
            "status": "reported_lost",
        },
        "CPOOR": {"name": "周奶奶", "birth_date": born(70), "id_number": "330102195601012222", "home_district": "xihu"},
    }
    wallets = {"C75": 10000, "C66": 10000, "C85POOR": 10000, "CLOST": 10000, "CPOOR": 300}
    for card_id, body in cards.items():
        assert (await pricing.put(f"/v1/cards/{card_id}", json=body, headers=admin)).status_code == 200, card_id
        r = await pricing.post(
            f"/v1/cards/{card_id}/topups", json={"amount_fen": wallets[card_id]}, headers={**admin, "Idempotency-Key": f"seed-{card_id}"}
        )
        assert r.status_code == 201, r.text
    return {"today": today, "sites": sites, "wallets": wallets}


async def wait_until_sellable(order: httpx.AsyncClient, till: dict[str, str], *, site_id: str, day: date, slot: str = "lunch") -> None:
    """Order and pricing learn sites and menus from events; wait until a quote goes through."""
    body = {"site_id": site_id, "service_date": str(day), "meal_slot": slot, "items": [{"menu_item_id": "set-a", "qty": 1}]}

    async def quoted() -> bool:
        return (await order.post("/v1/quotes", json=body, headers=till)).status_code == 200

    await eventually(quoted, timeout=20)


async def wallet(pricing: httpx.AsyncClient, admin: dict[str, str], card_id: str) -> int:
    r = await pricing.get(f"/v1/cards/{card_id}/wallet", headers=admin)
    assert r.status_code == 200, r.text
    return int(r.json()["balance_fen"])


async def seed_stack(stack: Any, token: Any, *, slots: tuple[str, ...] = ("lunch",)) -> dict[str, Any]:
    """The small city on a running stack (all services as processes), with clients for each service."""
    admin, till = token("admin"), token("pos", "ct-a")
    clients = {name: httpx.AsyncClient(base_url=stack.url(name), timeout=10) for name in ("central_kitchen", "pricing", "order")}
    seeded = await seed(kitchen=clients["central_kitchen"], pricing=clients["pricing"], admin=admin, days=1)
    for slot in slots:  # the order service learns each site from its own event: wait for every till a test opens
        for site_id in ("ct-a", "ct-b", "cart-t"):
            await wait_until_sellable(clients["order"], token("pos", site_id), site_id=site_id, day=seeded["today"], slot=slot)
    return {
        **seeded,
        "admin": admin,
        "till": till,
        "pricing": clients["pricing"],
        "order": clients["order"],
        "kitchen": clients["central_kitchen"],
    }
