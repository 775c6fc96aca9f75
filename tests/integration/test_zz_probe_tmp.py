import json
from datetime import date

from shared.events import MenuItem, MenuPublished, SiteUpserted

SITE = {"name": "K", "kind": "kitchen", "district": "xihu", "operator": "op1", "lat": 30.2, "lon": 120.1, "supplied_by": None}


async def test_probe_ck(start_service, token):
    app, c = await start_service("central_kitchen")
    A = token("admin")
    r = await c.put("/v1/sites/k1", json=SITE, headers=A)
    print("seed", r.status_code)
    for label, body in [
        ("nul", json.dumps({**SITE, "name": "a\x00b"})),
        ("surrogate", '{"name": "\\ud800", "kind": "kitchen", "district": "xihu", "operator": "op1", "lat": 1, "lon": 1}'),
        ("nan", '{"name": "x", "kind": "kitchen", "district": "xihu", "operator": "op1", "lat": NaN, "lon": 1}'),
        ("inf", '{"name": "x", "kind": "kitchen", "district": "xihu", "operator": "op1", "lat": Infinity, "lon": 1}'),
        ("badutf8", b'{"name": "\xff\xfe", "kind": "kitchen"}'),
        ("deep", "[" * 200000),
        ("nulcutoff", json.dumps({**SITE, "lunch_cutoff": "09:00\x00"})),
        ("bom", b"\xef\xbb\xbf" + json.dumps(SITE).encode()),
        ("nul_operator", json.dumps({**SITE, "operator": "op\x00"})),
    ]:
        r = await c.put("/v1/sites/k2", content=body, headers={**A, "content-type": "application/json"})
        print(label, r.status_code, r.headers.get("content-type"), r.text[:200])
    for label, name in [("menu_nul", "a\x00b"), ("menu_sur", "\ud800"), ("menu_empty", "")]:
        body = (
            json.dumps({"items": [{"menu_item_id": "m1", "name": name, "price_fen": 100}]})
            if name != "\ud800"
            else '{"items": [{"menu_item_id": "m1", "name": "\\ud800", "price_fen": 100}]}'
        )
        r = await c.put("/v1/menus/k1/2026-01-05/lunch", content=body, headers={**A, "content-type": "application/json"})
        print(label, r.status_code, r.text[:200])

    async def gen():
        yield b'{"name": "' + b"x" * 2_000_000 + b'"}'

    r = await c.put("/v1/sites/k3", content=gen(), headers={**A, "content-type": "application/json"})
    print("chunked", r.status_code, r.text[:150])
    # kitchen -> canteen with mixed dependents
    await c.put("/v1/sites/k9", json=SITE, headers=A)
    print((await c.put("/v1/sites/mp1", json={**SITE, "kind": "meal_point", "supplied_by": "k1"}, headers=A)).status_code)
    print((await c.put("/v1/sites/c1", json={**SITE, "kind": "canteen", "supplied_by": "k1"}, headers=A)).status_code)
    r = await c.put("/v1/sites/k1", json={**SITE, "kind": "canteen", "supplied_by": "k9"}, headers=A)
    print("kitchen->canteen", r.status_code, r.text[:200])
    r = await c.get("/v1/plans/k9/2026-01-05/lunch", headers=token("kitchen", "k1"))
    print("plan other kitchen", r.status_code)


async def test_probe_pricing(start_service, token):
    app, c = await start_service("pricing")
    A = token("admin")
    card = {"name": "Li", "birth_date": "1950-01-01", "id_number": "11010119500101123X", "home_district": "xihu"}
    r = await c.put("/v1/cards/c1", json=card, headers=A)
    print("card", r.status_code, r.text[:300])
    r = await c.put("/v1/cards/c2", json={**card, "name": "a\x00"}, headers=A)
    print("card nul", r.status_code, r.text[:200])
    r = await c.put("/v1/cards/c2", json={**card, "emergency_contact": "a\x00"}, headers=A)
    print("card nul ec", r.status_code, r.text[:200])
    r = await c.put(
        "/v1/policies/city", json={"effective_from": "1900-01-01", "age_tiers": [{"min_age": 60, "pay_percent": 80}]}, headers=A
    )
    print("city", r.status_code)
    async with app.state.db.transaction() as s:
        from services.pricing import service

        await service.record_site(
            s,
            SiteUpserted(
                site_id="k1",
                name="K",
                kind="kitchen",
                district="xihu",
                operator="op",
                lat=1,
                lon=1,
                supplied_by=None,
                kitchen_id="k1",
                lunch_cutoff="09:00",
                dinner_cutoff="14:00",
            ),
        )
        await service.record_site(
            s,
            SiteUpserted(
                site_id="s1",
                name="S",
                kind="canteen",
                district="xihu",
                operator="op",
                lat=1,
                lon=1,
                supplied_by="k1",
                kitchen_id="k1",
                lunch_cutoff="09:00",
                dinner_cutoff="14:00",
            ),
        )
        await service.record_menu(
            s,
            MenuPublished(
                kitchen_id="k1",
                service_date=date(1940, 1, 1),
                meal_slot="lunch",
                items=[MenuItem(menu_item_id="m1", name="x", price_fen=100)],
            ),
        )
    r = await c.post(
        "/v1/quotes",
        json={
            "site_id": "s1",
            "card_id": "c1",
            "service_date": "1940-01-01",
            "meal_slot": "lunch",
            "items": [{"menu_item_id": "m1", "qty": 1}],
        },
        headers=A,
    )
    print("quote before birth", r.status_code, r.text[:200])
    r = await c.post("/v1/cards/c1/topups", json={"amount_fen": 5}, headers={**A, "Idempotency-Key": "   "})
    print("topup ws key", r.status_code, r.text[:200])
