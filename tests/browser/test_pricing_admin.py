"""The admin page in Debian's Chromium against real pricing and kitchen processes: token, card, top-up, settlement, English."""

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

from shared.devstack import Stack, free_port
from shared.events import CHARGE_SUBJECT, ChargeRequest, ChargeResult, QuoteLine
from shared.messaging.rpc import call
from tests.helpers import city_today, eventually
from tests.pricing_support import ADMIN, CITY_POLICY, DISTRICT_POLICIES, PRICES, SITES, born

pytestmark = pytest.mark.timeout(120)
TODAY = city_today()
THIS_MONTH = f"{TODAY:%Y-%m}"
LAST_MONTH_DAY = TODAY.replace(day=1) - timedelta(days=1)
LAST_MONTH = f"{LAST_MONTH_DAY:%Y-%m}"
TOKEN = ADMIN["Authorization"].removeprefix("Bearer ")


@pytest.fixture
async def pricing_url(tmp_path: Path) -> AsyncIterator[str]:
    """nats-server, central-kitchen and pricing as real processes (uvicorn), seeded through their APIs and pricing.charge."""
    names = ("central_kitchen", "pricing")
    stack = Stack(
        var_dir=tmp_path / "var",
        nats_url=f"nats://127.0.0.1:{free_port()}",
        ports={name: free_port() for name in names},
        env={"RELAY_POLL_S": "0.1"},
    )
    try:
        stack.start_nats(force_own=True)
        stack.start_services(names)
        await _seed(stack.url("central_kitchen"), stack.url("pricing"), stack.nats_url)
        yield stack.url("pricing")
    finally:
        stack.stop()


async def _seed(kitchen: str, pricing: str, nats_url: str) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        for site_id, site in SITES:
            r = await http.put(f"{kitchen}/v1/sites/{site_id}", json={**site, "lat": 30.25, "lon": 120.15}, headers=ADMIN)
            assert r.status_code == 200, r.text
        items = [{"menu_item_id": k, "name": f"菜品 {k}", "price_fen": v} for k, v in PRICES.items()]
        for day in (TODAY, LAST_MONTH_DAY):
            assert (await http.put(f"{kitchen}/v1/menus/ck-west/{day}/lunch", json={"items": items}, headers=ADMIN)).status_code == 200
        assert (await http.put(f"{pricing}/v1/policies/city", json=CITY_POLICY, headers=ADMIN)).status_code == 200
        for district, policy in DISTRICT_POLICIES.items():
            assert (await http.put(f"{pricing}/v1/policies/districts/{district}", json=policy, headers=ADMIN)).status_code == 200
        cards = {
            "HZ-B1": {"name": "王秀英", "district": "shangcheng", "age": 75, "id": "330102195003081234"},
            "HZ-B2": {"name": "张建国", "district": "xihu", "age": 70, "id": "330106195505055678"},
        }
        for card_id, c in cards.items():
            body = {"name": c["name"], "birth_date": str(born(c["age"], TODAY)), "id_number": c["id"], "home_district": c["district"]}
            assert (await http.put(f"{pricing}/v1/cards/{card_id}", json=body, headers=ADMIN)).status_code == 200
        topup = await http.post(
            f"{pricing}/v1/cards/HZ-B1/topups", json={"amount_fen": 20000}, headers={**ADMIN, "Idempotency-Key": "seed"}
        )
        assert topup.status_code == 201

        async def menus_known() -> bool:
            for day in (TODAY, LAST_MONTH_DAY):
                q = {"site_id": "ct-qingbo", "service_date": str(day), "meal_slot": "lunch", "items": [{"menu_item_id": "soup", "qty": 1}]}
                if (await http.post(f"{pricing}/v1/quotes", json=q, headers=ADMIN)).status_code != 200:
                    return False
            return True

        await eventually(menus_known, timeout=30)
    nc = await nats.connect(nats_url)
    try:
        meals: list[tuple[date, str | None, str, str]] = [
            (TODAY, "HZ-B1", "ct-qingbo", "card_wallet"),  # shangcheng senior at home: 360 off, pays 8.40 from the wallet
            (TODAY, "HZ-B2", "ct-qingbo", "cash"),  # xihu senior eating in shangcheng: 360 off
            (TODAY, None, "mp-lanli", "cash"),  # no card: full price
            (LAST_MONTH_DAY, "HZ-B2", "mp-lanli", "mobile"),
        ]
        for day, card, site, pay in meals:
            req = ChargeRequest.model_validate(
                {"order_id": __import__("uuid").uuid4(), "site_id": site, "card_id": card, "service_date": day, "meal_slot": "lunch",
                 "items": [QuoteLine(menu_item_id="set-a", qty=1)], "payment_method": pay}
            )  # fmt: skip
            await call(nc, CHARGE_SUBJECT, req, ChargeResult, timeout=10)
    finally:
        await nc.close()


async def _api(pricing: str, path: str) -> Any:
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.get(f"{pricing}{path}", headers=ADMIN)
        assert r.status_code == 200, r.text
        return r.json()


async def test_an_admin_tops_up_a_card_and_reads_the_months_settlement(pricing_url: str, browser_page: Any) -> None:
    from playwright.async_api import expect

    page = browser_page
    problems: list[str] = []  # script errors, CSP refusals, missing files, server errors (the 401 and 422 below are deliberate)
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" and "Failed to load resource" not in msg.text else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status == 404 or r.status >= 500 else None)
    await page.goto(f"{pricing_url}/admin")

    # the device is provisioned once: the page asks for the token, checks it and keeps it
    await expect(page.locator("#token-dialog")).to_be_visible()
    await page.fill("#token-input", "not-a-token")
    await page.click("#token-save")
    await expect(page.locator("#token-error")).to_have_text("令牌无效或已过期，请重新粘贴。")
    await page.fill("#token-input", TOKEN)
    await page.click("#token-save")
    await expect(page.locator("#token-dialog")).to_be_hidden()

    # find a card, see its profile (never the whole identity number), wallet and recent meals
    await page.fill("#card-q", "王秀")
    await page.click("#card-search-button")
    await expect(page.locator("#card-name")).to_have_text("王秀英")
    await expect(page.locator("#card-last4")).to_have_text("**************1234")
    assert "330102195003081234" not in await page.content()
    await expect(page.locator("#card-district")).to_have_text("上城区")
    await expect(page.locator("#wallet-balance")).to_have_text("191.60")
    await expect(page.locator("#meals-table tbody tr")).to_have_count(1)
    await expect(page.locator("#meals-table tbody tr td").nth(2)).to_have_text("清波街道中心食堂")

    # top up 50.00 yuan and see the new balance
    await page.fill("#topup-amount", "50.00")
    await page.click("#topup-button")
    await expect(page.locator("#topup-message")).to_have_text("已充值 ¥50.00，新余额 ¥241.60")
    await expect(page.locator("#wallet-balance")).to_have_text("241.60")
    assert (await _api(pricing_url, "/v1/cards/HZ-B1/wallet"))["balance_fen"] == 24160
    await page.fill("#topup-amount", "5.555")
    await page.click("#topup-button")
    await expect(page.locator("#topup-message")).to_contain_text("请输入正确的金额")
    assert (await _api(pricing_url, "/v1/cards/HZ-B1/wallet"))["balance_fen"] == 24160, "a bad amount never leaves the page"

    # this month's settlement: totals, the rows, the charts and the cross-district heat map
    await page.click("#tab-settlement")
    await expect(page.locator("#settlement-month")).to_have_value(THIS_MONTH)
    await page.click("#settlement-view-button")
    api = await _api(pricing_url, f"/v1/settlements/{THIS_MONTH}")
    assert api["totals"]["meals"] == 2 and api["totals"]["subsidy_fen"] == 720
    await expect(page.locator("[data-total=total_meals] .value")).to_have_text("2")
    await expect(page.locator("[data-total=total_subsidy] .value")).to_have_text("¥7.20")
    await expect(page.locator("#settlement-state")).to_have_text("未结账（数据仍会变化）")
    await expect(page.locator("#settlement-rows tbody tr")).to_have_count(2)
    await expect(page.locator("#chart-meals svg rect")).to_have_count(2)
    await expect(page.locator("#chart-subsidy svg rect")).to_have_count(2)
    await expect(page.locator('#matrix td[data-site="shangcheng"][data-home="xihu"]')).to_have_text("1")
    await expect(page.locator("#matrix td[data-cross=true]")).to_have_count(1)
    await expect(page.locator("#full-price")).to_contain_text("1 餐")
    await expect(page.locator("#ledger-check")).to_contain_text("账目核对一致")
    await expect(page.locator("#close-month")).to_be_disabled()

    # the CSV download carries the same rows
    async with page.expect_download() as info:
        await page.click("#csv-download")
    download = await info.value
    assert download.suggested_filename == f"settlement-{THIS_MONTH}.csv"
    rows = list(csv.DictReader(io.StringIO(Path(await download.path()).read_text(encoding="utf-8"))))
    assert [(r["operator"], r["funder_district"], r["meals"]) for r in rows] == [
        ("op-yangguang", "shangcheng", "1"),
        ("op-yangguang", "xihu", "1"),
        ("total", "", "2"),
    ]

    # English on request, remembered after a reload
    await page.click("#lang-toggle")
    await expect(page.locator("#tab-settlement")).to_have_text("Monthly settlement")
    await expect(page.locator("[data-total=total_meals] .label")).to_have_text("Subsidised meals")
    await expect(page.locator("#settlement-heading")).to_have_text(f"Statement for {THIS_MONTH}")
    await expect(page.locator("#matrix th").nth(1)).to_have_text("Shangcheng")
    await page.reload()
    await expect(page.locator("#tab-cards")).to_have_text("Cards and wallets")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator("#token-dialog")).to_be_hidden(), "the token was kept"

    # last month is over: close it, and it comes back frozen with its checksum
    await page.click("#tab-settlement")
    await page.fill("#settlement-month", LAST_MONTH)
    await page.click("#settlement-view-button")
    await expect(page.locator("[data-total=total_meals] .value")).to_have_text("1")
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.click("#close-month")
    await expect(page.locator("#settlement-state")).to_have_text("closed (frozen)")
    closed = await _api(pricing_url, f"/v1/settlements/{LAST_MONTH}")
    assert closed["closed"] is True
    await expect(page.locator("#settlement-checksum")).to_contain_text(closed["checksum"])
    await expect(page.locator("#close-month")).to_be_disabled()

    # back to Chinese; a policy edit with an effective date goes through the same page
    await page.click("#lang-toggle")
    await page.click("#tab-policies")
    await expect(page.locator("#city-versions tbody tr")).to_have_count(1)
    await expect(page.locator("#city-versions tbody tr td").nth(4)).to_have_text("现行")
    # the form rows were built while the page spoke English; switching back relabels them too
    await expect(page.locator("#tier-rows tbody button").first).to_have_text("删除")
    await expect(page.locator("#tier-rows .tier-max").last).to_have_attribute("placeholder", "不限")
    await expect(page.locator("#group-rows select option[value=tekun]").first).to_have_text("特困")
    tomorrow = str(TODAY + timedelta(days=1))
    await page.fill("#city-effective", tomorrow)
    await page.locator("#tier-rows tbody tr").nth(0).locator(".tier-pay").fill("85")
    await page.click("#city-save")
    await expect(page.locator("#city-message")).to_have_text(f"已保存，自 {tomorrow} 起生效。")
    await expect(page.locator("#city-versions tbody tr")).to_have_count(2)
    versions = await _api(pricing_url, "/v1/policies/city")
    assert versions[-1]["effective_from"] == tomorrow and versions[-1]["age_tiers"][0]["pay_percent"] == 85
    await page.locator("#tier-rows tbody tr").nth(1).locator(".tier-min").fill("75")  # leaves ages 70-74 uncovered
    await page.fill("#city-effective", str(TODAY + timedelta(days=2)))
    await page.click("#city-save")
    await expect(page.locator("#city-message")).to_contain_text("年龄分档之间有空缺")
    assert len(await _api(pricing_url, "/v1/policies/city")) == 2, "a refused policy stores nothing"

    # a district policy: xihu's city share and a new group subsidy from tomorrow, listed as upcoming above today's
    await page.select_option("#district-select", "xihu")
    await expect(page.locator("#district-versions tbody tr")).to_have_count(1)
    await expect(page.locator("#district-share")).to_have_value("30")
    await expect(page.locator("#group-rows tbody tr")).to_have_count(2)
    await page.fill("#district-effective", tomorrow)
    await page.fill("#district-share", "40")
    await page.click("#add-group")
    added = page.locator("#group-rows tbody tr").last
    await added.locator(".group-code").select_option("tekun")
    await added.locator(".group-amount").fill("6.50")
    await page.click("#district-save")
    await expect(page.locator("#district-message")).to_have_text(f"西湖区 的政策已保存，自 {tomorrow} 起生效。")
    newest = page.locator("#district-versions tbody tr").first
    await expect(page.locator("#district-versions tbody tr")).to_have_count(2)
    await expect(newest.locator("td")).to_have_text([tomorrow, "40%", "低保 ¥3.00 （满 ¥10.00）；失能 ¥5.00；特困 ¥6.50", "待生效"])
    await expect(page.locator("#district-versions tbody tr").last.locator("td").last).to_have_text("现行")
    xihu = await _api(pricing_url, "/v1/policies/districts?district=xihu")
    assert [(v["effective_from"], v["city_share_percent"], v["in_force"]) for v in xihu] == [
        ("2020-01-01", 30, True),
        (tomorrow, 40, False),
    ]
    assert xihu[-1]["group_subsidies"][-1] == {"group": "tekun", "amount_fen": 650, "min_spend_fen": 0}
    # the form shows today's version again; a group listed twice is refused and stores nothing
    await expect(page.locator("#group-rows tbody tr")).to_have_count(2)
    await page.click("#add-group")
    await page.locator("#group-rows tbody tr").last.locator(".group-code").select_option("dibao")
    await page.fill("#district-effective", str(TODAY + timedelta(days=2)))
    await page.click("#district-save")
    await expect(page.locator("#district-message")).to_contain_text("同一群体只能填写一次")
    assert len(await _api(pricing_url, "/v1/policies/districts?district=xihu")) == 2, "a refused policy stores nothing"
    await page.click("#lang-toggle")
    await expect(newest.locator("td").nth(2)).to_have_text(
        "minimum income (dibao) ¥3.00 (from ¥10.00); disabled (shineng) ¥5.00; extremely poor (tekun) ¥6.50"
    )
    await expect(newest.locator("td").last).to_have_text("upcoming")

    assert problems == [], problems
