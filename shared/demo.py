"""Load the demo city (infra/demo-city.json) through the public APIs; running it again changes nothing."""

import asyncio
import json
import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx

from shared.auth import issue_token
from shared.settings import ROOT

log = logging.getLogger(__name__)
DEMO_FILE = ROOT / "infra" / "demo-city.json"
ROTATION_EPOCH = date(2024, 1, 1)  # a Monday: rotation day 1
KIND_ORDER = {"kitchen": 0, "canteen": 1, "meal_point": 2, "cart": 2}


@dataclass(frozen=True)
class DemoCard:
    card_id: str
    name: str
    age: int
    home_district: str
    groups: tuple[str, ...] = ()
    diets: tuple[str, ...] = ()
    allergens: tuple[str, ...] = ()
    status: str = "active"
    topup_fen: int = 20000


DEMO_CARDS = (
    DemoCard("HZ0001", "张建国", 66, "xihu", diets=("low_salt",)),
    DemoCard("HZ0002", "王秀英", 75, "shangcheng", groups=("dibao",), diets=("soft",), allergens=("fish",)),
    DemoCard("HZ0003", "李桂兰", 86, "gongshu", groups=("gaoling",), diets=("minced",)),
    DemoCard("HZ0004", "陈志明", 72, "binjiang", groups=("dibao",)),
    DemoCard("HZ0005", "刘阿婆", 81, "tonglu", diets=("pureed",), allergens=("peanut",)),
    DemoCard("HZ0006", "赵师傅", 58, "xihu"),
    DemoCard("HZ0007", "孙大爷", 78, "shangcheng", status="reported_lost"),
    DemoCard("HZ0008", "周奶奶", 70, "xihu", topup_fen=300),
)


@dataclass
class DemoResult:
    sites: int = 0
    menus: int = 0
    cards: list[str] = field(default_factory=list)


def load_city() -> dict[str, Any]:
    return json.loads(DEMO_FILE.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def rotation_day(day: date) -> int:
    """The two-week menu does not repeat for fourteen days."""
    return (day - ROTATION_EPOCH).days % 14 + 1


def birth_date_for(age: int, today: date) -> date:
    """A birthday a month after today, `age` full years ago (so the age holds all week)."""
    later = today + timedelta(days=30)
    return later.replace(year=later.year - age - 1)


def _site_body(site: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": site["name_zh"],
        "kind": site["kind"],
        "district": site["district"],
        "operator": site["operator"],
        "lat": site["lat"],
        "lon": site["lon"],
        "supplied_by": site["supplied_by"],
        "lunch_cutoff": site["lunch_cutoff"],
        "dinner_cutoff": site["dinner_cutoff"],
        "walk_in_default": site.get("walk_in_default", 0),
    }


def _menu_body(menu: dict[str, Any]) -> dict[str, Any]:
    items = [
        {
            "menu_item_id": i["code"],
            "name": i["name_zh"],
            "price_fen": i["price_fen"],
            "diet_variants": i["diet_variants"],
            "allergens": i["allergens"],
        }
        for i in menu["items"]
    ]
    return {"items": items}


async def _put(client: httpx.AsyncClient, url: str, body: dict[str, Any], headers: dict[str, str]) -> None:
    response = await client.put(url, json=body, headers=headers)
    if response.status_code >= 400:
        raise RuntimeError(f"PUT {url}: {response.status_code} {response.text}")


async def load_demo(*, urls: dict[str, str], secret: str, today: date, days: int = 7) -> DemoResult:
    city = load_city()
    admin = {"Authorization": "Bearer " + issue_token(secret, sub="demo-loader", role="admin")}
    result = DemoResult()
    async with httpx.AsyncClient(timeout=30) as client:
        kitchen = urls["central_kitchen"]
        for site in sorted(city["sites"], key=lambda s: KIND_ORDER[s["kind"]]):
            await _put(client, f"{kitchen}/v1/sites/{site['site_id']}", _site_body(site), admin)
            result.sites += 1
        kitchens = [s["site_id"] for s in city["sites"] if s["kind"] == "kitchen"]
        rotation = {(m["rotation_day"], m["meal_slot"]): m for m in city["menu_rotation"]}
        for offset in range(days):
            day = today + timedelta(days=offset)
            for slot in ("lunch", "dinner"):
                menu = rotation.get((rotation_day(day), slot))
                if menu is None:
                    continue
                for kitchen_id in kitchens:
                    await _put(client, f"{kitchen}/v1/menus/{kitchen_id}/{day}/{slot}", _menu_body(menu), admin)
                    result.menus += 1
        pricing = urls["pricing"]
        await _put(client, f"{pricing}/v1/policies/city", city["city_policy"], admin)
        for policy in city["district_policies"]:
            body = {k: v for k, v in policy.items() if k != "district"}
            await _put(client, f"{pricing}/v1/policies/districts/{policy['district']}", body, admin)
        for n, card in enumerate(DEMO_CARDS):
            body = {
                "name": card.name,
                "birth_date": str(birth_date_for(card.age, today)),
                "id_number": f"3301{n:02d}19500101{n:03d}X",
                "home_district": card.home_district,
                "groups": list(card.groups),
                "diets": list(card.diets),
                "allergens": list(card.allergens),
                "emergency_contact": f"家属 138{n:08d}",
                "status": card.status,
            }
            await _put(client, f"{pricing}/v1/cards/{card.card_id}", body, admin)
            topup = await client.post(
                f"{pricing}/v1/cards/{card.card_id}/topups",
                json={"amount_fen": card.topup_fen},
                headers={**admin, "Idempotency-Key": f"demo-initial-topup-{card.card_id}"},
            )
            if topup.status_code >= 400:
                raise RuntimeError(f"top-up {card.card_id}: {topup.status_code} {topup.text}")
            result.cards.append(card.card_id)
    return result


async def wait_for_menus(*, urls: dict[str, str], secret: str, site_id: str, today: date, slot: str, timeout: float = 30) -> None:
    """Pricing and order learn menus from events: wait until a quote for the demo canteen works."""
    pos = {"Authorization": "Bearer " + issue_token(secret, sub="demo-check", role="pos", scope=site_id)}
    body = {
        "site_id": site_id,
        "card_id": None,
        "service_date": str(today),
        "meal_slot": slot,
        "items": [{"menu_item_id": "set-a", "qty": 1}],
    }
    deadline = asyncio.get_running_loop().time() + timeout
    async with httpx.AsyncClient(timeout=5) as client:
        while True:
            response = await client.post(f"{urls['order']}/v1/quotes", json=body, headers=pos)
            if response.status_code == 200:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"menus did not reach pricing in {timeout}s: {response.text}")
            await asyncio.sleep(0.2)
