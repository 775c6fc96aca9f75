"""The first thread through all four services, as real processes over a real nats-server: the consumers of the
order's event are down (SIGKILL) when it is published, and count it exactly once after they come back."""

import asyncio
import signal
import uuid
from datetime import timedelta

import httpx
import pytest

from shared.devstack import Stack
from tests.helpers import city_today, eventually

pytestmark = pytest.mark.timeout(120)


async def test_site_menu_order_reaches_kitchen_and_delivery_exactly_once(stack: Stack, token) -> None:  # type: ignore[no-untyped-def]
    admin = token("admin")
    till = token("pos", "mp-laodonglu")
    kitchen, pricing, order, delivery = (stack.url(s) for s in ("central_kitchen", "pricing", "order", "delivery"))
    tomorrow = city_today() + timedelta(days=1)
    async with httpx.AsyncClient(timeout=10) as http:
        site = {"name": "西湖区中央厨房", "kind": "kitchen", "district": "xihu", "operator": "op-yangguang", "lat": 30.27, "lon": 120.09}
        assert (await http.put(f"{kitchen}/v1/sites/ck-xihu", json=site, headers=admin)).status_code == 200
        canteen = {**site, "name": "清波街道中心食堂", "kind": "canteen", "district": "shangcheng", "supplied_by": "ck-xihu"}
        assert (await http.put(f"{kitchen}/v1/sites/ct-qingbo", json=canteen, headers=admin)).status_code == 200
        point = {**canteen, "name": "劳动路助餐点", "kind": "meal_point", "supplied_by": "ct-qingbo"}
        r = await http.put(f"{kitchen}/v1/sites/mp-laodonglu", json=point, headers=admin)
        assert r.status_code == 200 and r.json()["kitchen_id"] == "ck-xihu", "a meal point supplied by a canteen eats the kitchen's menu"
        menu = {
            "items": [
                {
                    "menu_item_id": "set-a",
                    "name": "套餐A·红烧肉",
                    "price_fen": 1200,
                    "diet_variants": ["regular", "soft"],
                    "allergens": ["soy"],
                },
                {"menu_item_id": "soup", "name": "冬瓜排骨汤", "price_fen": 350, "diet_variants": ["regular"], "allergens": []},
            ]
        }
        assert (await http.put(f"{kitchen}/v1/menus/ck-xihu/{tomorrow}/lunch", json=menu, headers=admin)).status_code == 200
        policy = {
            "effective_from": "2024-02-01",
            "age_tiers": [
                {"min_age": 60, "max_age": 69, "pay_percent": 80},
                {"min_age": 70, "max_age": 79, "pay_percent": 70},
                {"min_age": 80, "max_age": None, "pay_percent": 50},
            ],
        }
        assert (await http.put(f"{pricing}/v1/policies/city", json=policy, headers=admin)).status_code == 200
        born = tomorrow.replace(year=tomorrow.year - 75) - timedelta(days=10)
        card = {
            "name": "王秀英",
            "birth_date": str(born),
            "id_number": "330102195001011234",
            "home_district": "shangcheng",
            "diets": ["soft"],
        }
        r = await http.put(f"{pricing}/v1/cards/HZ75", json=card, headers=admin)
        assert r.status_code == 200 and "id_number" not in r.json() and r.json()["id_last4"] == "1234"

        body = {
            "site_id": "mp-laodonglu",
            "card_id": "HZ75",
            "channel": "pickup",
            "service_date": str(tomorrow),
            "meal_slot": "lunch",
            "items": [{"menu_item_id": "set-a", "qty": 1, "diet_variant": "soft"}, {"menu_item_id": "soup", "qty": 2}],
            "payment_method": "cash",
        }

        async def priced() -> dict:
            q = await http.post(
                f"{order}/v1/quotes",
                json={k: body[k] for k in ("site_id", "card_id", "service_date", "meal_slot")}
                | {"items": [{"menu_item_id": i["menu_item_id"], "qty": i["qty"]} for i in body["items"]]},
                headers=till,
            )
            return q.json() if q.status_code == 200 else {}

        quote = await eventually(priced, timeout=20)  # pricing learned the site and menu from events
        assert quote["list_total_fen"] == 1200 + 2 * 350
        assert quote["pay_percent"] == 70 and quote["senior_pays_fen"] == 1330 and quote["funder_district"] == "shangcheng"

        # central-kitchen and delivery crash before the order exists: its event waits in the stream for their durables
        for name in ("central_kitchen", "delivery"):
            stack.stop_service(name, sig=signal.SIGKILL)

        async def placed() -> httpx.Response | None:
            resp = await http.post(f"{order}/v1/orders", json=body, headers={**till, "Idempotency-Key": key})
            return resp if resp.status_code != 422 else None  # order's copy of the menu may lag a moment

        key = str(uuid.uuid4())
        r = await eventually(placed, timeout=20)
        assert r.status_code == 201, r.text
        placed_order = r.json()
        assert placed_order["status"] == "confirmed"
        assert (placed_order["list_total_fen"], placed_order["age_discount_fen"], placed_order["senior_pays_fen"]) == (1900, 570, 1330)
        order_id = placed_order["order_id"]
        again = await http.post(f"{order}/v1/orders", json=body, headers={**till, "Idempotency-Key": key})
        assert again.status_code == 201 and again.content == r.content, "a replayed request returns the first response byte for byte"

        for name in ("central_kitchen", "delivery"):
            stack.start_service(name)
        stack.wait_ready(("central_kitchen", "delivery"))

        async def kitchen_counts() -> dict:
            plan = (await http.get(f"{kitchen}/v1/plans/ck-xihu/{tomorrow}/lunch", headers=admin)).json()
            lines = {(x["site_id"], x["menu_item_id"], x["diet_variant"]): x["preordered"] for x in plan["lines"]}
            return lines if lines.get(("mp-laodonglu", "soup", "regular")) else {}

        async def manifest() -> list:
            rows = (
                await http.get(f"{delivery}/v1/deliveries", params={"service_date": str(tomorrow), "meal_slot": "lunch"}, headers=admin)
            ).json()
            return rows if any(row["order_id"] == order_id for row in rows) else []

        async def diets_known() -> list:
            rows = await manifest()
            return rows if rows and rows[0]["diets"] else []

        lines = await eventually(kitchen_counts, timeout=20)  # read after the restart, from the durable's position
        rows = await eventually(diets_known, timeout=20)
        await asyncio.sleep(1)  # whatever else the restarted consumers were going to read, they have read by now
        lines = await kitchen_counts()
        assert lines[("mp-laodonglu", "set-a", "soft")] == 1 and lines[("mp-laodonglu", "soup", "regular")] == 2, "counted once"
        rows = await manifest()
        assert [row["order_id"] for row in rows] == [order_id], "carried once"
        assert rows[0]["diets"] == ["soft"] and rows[0]["recipient_name"] == "王秀英", "the card's diets reached the driver's manifest"
