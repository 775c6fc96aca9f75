"""The till page in Chromium against real servers: a 75-year-old pays 70%; a lost card is refused and charges nothing."""

from typing import Any

import pytest
from playwright.async_api import expect

from shared.devstack import Stack
from tests.world import seed_stack, wallet

pytestmark = pytest.mark.timeout(120)


async def _open_till(page: Any, stack: Stack, till: dict[str, str], site_name: str = "测试中心食堂") -> None:
    await page.goto(f"{stack.url('order')}/pos")
    await page.fill("#token-input", till["Authorization"].removeprefix("Bearer "))
    await page.click("#token-save")
    await expect(page.locator("#site-name")).to_have_text(site_name)
    await page.select_option("#slot", "lunch")
    await page.wait_for_selector("button.dish[data-item='set-a']")


async def test_a_till_sells_a_meal_to_a_75_year_old_at_70_percent(stack: Stack, token, browser_page) -> None:  # type: ignore[no-untyped-def]
    city = await seed_stack(stack, token, slots=("lunch", "dinner"))
    page = browser_page
    await _open_till(page, stack, city["till"])
    assert await page.text_content("h1") == "助餐收银台", "Chinese first"
    await page.click("button.dish[data-item='set-a']")
    await page.fill("#card", "C75")
    await page.press("#card", "Enter")  # a keyboard-wedge reader ends with Enter
    await expect(page.locator("#senior-pays")).to_have_text("8.40")
    assert await page.text_content("#list-total") == "12.00"
    assert await page.text_content("#age-discount") == "−3.60"
    assert "70%" in (await page.text_content("#pay-note") or "")
    await page.screenshot(path=str(stack.var_dir / "pos-quote.png"))
    await page.click("[data-pay='card_wallet']")
    await page.wait_for_selector("#receipt:not([hidden])")
    assert await page.text_content("#r-senior-pays") == "8.40"
    assert await page.text_content("#r-balance") == "91.60"
    assert await wallet(city["pricing"], city["admin"], "C75") == 10000 - 840
    await page.click("#lang-toggle")
    assert await page.text_content("h1") == "Meal till"
    assert await page.text_content("#receipt h2") == "✓ Paid"
    await page.click("#next")
    assert await page.is_visible("#till")


async def test_a_lost_card_shows_its_message_and_charges_nothing(stack: Stack, token, browser_page) -> None:  # type: ignore[no-untyped-def]
    city = await seed_stack(stack, token, slots=("lunch", "dinner"))
    page = browser_page
    await _open_till(page, stack, city["till"])
    await page.click("button.dish[data-item='set-b']")
    await page.fill("#card", "CLOST")
    await page.press("#card", "Enter")
    await expect(page.locator("#pay-note")).to_contain_text("挂失")
    await page.click("[data-pay='card_wallet']")
    await expect(page.locator("#message")).to_contain_text("挂失")
    assert await page.is_hidden("#receipt")
    assert await wallet(city["pricing"], city["admin"], "CLOST") == 10000, "nothing charged"
    await page.screenshot(path=str(stack.var_dir / "pos-lost.png"))
    # the diner may still pay full price without the card
    await page.click("#no-card")
    await expect(page.locator("#senior-pays")).to_have_text("14.00")
    await page.click("[data-pay='cash']")
    await page.wait_for_selector("#receipt:not([hidden])")
    assert await page.text_content("#r-senior-pays") == "14.00"


async def test_a_cart_till_on_a_phone_explains_short_balance_and_sold_out(stack: Stack, token, browser_page) -> None:  # type: ignore[no-untyped-def]
    city = await seed_stack(stack, token, slots=("lunch", "dinner"))
    cart_till = token("pos", "cart-t")
    page = browser_page
    await page.set_viewport_size({"width": 390, "height": 844})
    await _open_till(page, stack, cart_till, "测试流动餐车")
    await page.click("button.dish[data-item='set-a']")
    await page.fill("#card", "CPOOR")
    await page.press("#card", "Enter")
    await expect(page.locator("#senior-pays")).to_have_text("8.40")
    await page.click("[data-pay='card_wallet']")
    await expect(page.locator("#message")).to_contain_text("余额不足：卡内 3.00 元，应付 8.40 元")
    assert await wallet(city["pricing"], city["admin"], "CPOOR") == 300
    # the kitchen takes set-b off today's lunch while the till still shows it: a sold-out dish is explained
    today = (await page.text_content("#today")) or ""
    menu = {"items": [{"menu_item_id": "set-a", "name": "套餐A·红烧肉", "price_fen": 1200, "diet_variants": ["regular"], "allergens": []}]}
    assert (await city["kitchen"].put(f"/v1/menus/ck-t/{today}/lunch", json=menu, headers=city["admin"])).status_code == 200
    await page.click("#no-card")
    await page.click("button.dish[data-item='set-b']")
    await expect(page.locator("#message")).to_contain_text("售完", timeout=15000)
    await page.screenshot(path=str(stack.var_dir / "pos-phone.png"), full_page=True)
    # a cart sells with channel cart and it still works on the phone
    await page.click("[aria-label='−'] >> nth=1")
    await expect(page.locator("#senior-pays")).to_have_text("12.00")
    await page.click("[data-pay='cash']")
    await expect(page.locator("#receipt")).to_be_visible()
