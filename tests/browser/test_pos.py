"""The till page in Chromium against real servers: a 75-year-old pays 70%; a lost card is refused and charges nothing."""

from typing import Any

import pytest
from playwright.async_api import expect

from shared.devstack import Stack
from tests.world import seed_stack, wallet

pytestmark = pytest.mark.timeout(120)


async def open_till(page: Any, stack: Stack, till: dict[str, str], site_name: str = "测试中心食堂") -> None:
    """Open /pos, give it the till's token if it asks (a second page of the same browser already has it), pick lunch."""
    await page.goto(f"{stack.url('order')}/pos")
    if await page.is_visible("#token-input"):
        await page.fill("#token-input", till["Authorization"].removeprefix("Bearer "))
        await page.click("#token-save")
    await expect(page.locator("#site-name")).to_have_text(site_name)
    await page.select_option("#slot", "lunch")
    await page.wait_for_selector("button.dish[data-item='set-a']")


async def no_horizontal_overflow(page: Any) -> None:
    width = await page.evaluate("document.documentElement.clientWidth")
    assert await page.evaluate("document.documentElement.scrollWidth") <= width, "the page scrolls sideways"


async def test_a_till_sells_a_meal_to_a_75_year_old_at_70_percent(stack: Stack, token, browser_page) -> None:  # type: ignore[no-untyped-def]
    city = await seed_stack(stack, token, slots=("lunch", "dinner"))
    page = browser_page
    await open_till(page, stack, city["till"])
    assert await page.text_content("h1") == "助餐收银台", "Chinese first"
    # the service date is the city's, as the server knows it
    assert await page.evaluate("Page.data.timezone") == "Asia/Shanghai"
    assert await page.text_content("#today") == str(city["today"])
    # each dish button shows its diets and allergens
    set_a, set_b = page.locator("button.dish[data-item='set-a']"), page.locator("button.dish[data-item='set-b']")
    await expect(set_a.locator(".badge.ok")).to_have_text(["软食"])
    await expect(set_a.locator(".badge.bad")).to_have_text(["大豆"])
    await expect(set_b.locator(".badge.ok")).to_have_text(["碎食"])
    await expect(set_b.locator(".badge.bad")).to_have_text(["鱼"])
    await set_a.click()
    # the focus is on the dish: a keyboard-wedge reader types the number and Enter, and the card is read (the dish is not added again)
    await page.keyboard.type("C75")
    await page.keyboard.press("Enter")
    await expect(page.locator("#senior-pays")).to_have_text("8.40")
    await expect(page.locator("#lines .qty")).to_have_text(["1"])
    assert await page.input_value("#card") == "C75"
    assert await page.text_content("#list-total") == "12.00"
    assert await page.text_content("#age-discount") == "−3.60"
    assert "70%" in (await page.text_content("#pay-note") or "")
    # before paying, the card's wallet and what a card payment would leave in it
    await expect(page.locator("#wallet-balance")).to_have_text("100.00 · 卡付后余 91.60")
    # the "+" button still works with the mouse
    await page.click("#lines [aria-label='+']")
    await expect(page.locator("#lines .qty")).to_have_text(["2"])
    await page.click("#lines [aria-label='−']")
    await expect(page.locator("#senior-pays")).to_have_text("8.40")
    # the English toggle switches the labels, and back
    await expect(page.locator(".breakdown th").first).to_have_text("原价")
    await page.click("#lang-toggle")
    await expect(page.locator(".breakdown th").first).to_have_text("List price")
    await expect(page.locator("[data-pay='cash']")).to_have_text("Cash")
    await expect(set_a.locator(".badge.ok")).to_have_text(["Soft"])
    await page.click("#lang-toggle")
    await expect(page.locator(".breakdown th").first).to_have_text("原价")
    await page.screenshot(path=str(stack.var_dir / "pos-quote.png"))
    await page.click("[data-pay='card_wallet']")
    await page.wait_for_selector("#receipt:not([hidden])")
    assert await page.text_content("#r-senior-pays") == "8.40"
    assert await page.text_content("#r-balance") == "91.60"
    assert await page.text_content("#receipt-method") == "卡内余额"
    assert await wallet(city["pricing"], city["admin"], "C75") == 10000 - 840
    # the printed receipt: the receipt alone, no controls
    await page.emulate_media(media="print")
    await expect(page.locator("#receipt")).to_be_visible()
    await expect(page.locator("#r-senior-pays")).to_be_visible()
    for control in ("header.topbar", "#print", "#next", "#till", "#slot"):
        await expect(page.locator(control)).to_be_hidden()
    await page.emulate_media(media="screen")
    await expect(page.locator("#next")).to_be_visible()
    await page.click("#lang-toggle")
    assert await page.text_content("h1") == "Meal till"
    assert await page.text_content("#receipt h2") == "✓ Paid"
    assert await page.text_content("#receipt-method") == "Card wallet"
    await page.click("#next")
    assert await page.is_visible("#till")


async def test_a_lost_card_shows_its_message_and_charges_nothing(stack: Stack, token, browser_page) -> None:  # type: ignore[no-untyped-def]
    city = await seed_stack(stack, token, slots=("lunch", "dinner"))
    page = browser_page
    await open_till(page, stack, city["till"])
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
    assert await page.text_content("#receipt-method") == "现金"
    # the next senior, 85 and on 低保 in her home district: 50%, then 3.00 of group subsidy on the 补贴 row
    await page.click("#next")
    await page.click("button.dish[data-item='set-a']")
    await page.keyboard.type("C85POOR\n")
    await expect(page.locator("#senior-pays")).to_have_text("3.00")
    assert await page.text_content("#age-discount") == "−6.00"
    assert await page.text_content("#group-subsidy") == "−3.00"
    await page.click("[data-pay='card_wallet']")
    await page.wait_for_selector("#receipt:not([hidden])")
    assert await page.text_content("#r-group-subsidy") == "−3.00"
    assert await page.text_content("#r-senior-pays") == "3.00"
    assert await wallet(city["pricing"], city["admin"], "C85POOR") == 10000 - 300


async def test_a_cart_till_on_a_phone_explains_short_balance_and_sold_out(stack: Stack, token, browser_page) -> None:  # type: ignore[no-untyped-def]
    city = await seed_stack(stack, token, slots=("lunch", "dinner"))
    cart_till = token("pos", "cart-t")
    page = browser_page
    await page.set_viewport_size({"width": 390, "height": 844})
    await open_till(page, stack, cart_till, "测试流动餐车")
    await no_horizontal_overflow(page)
    await page.click("button.dish[data-item='set-a']")
    await page.fill("#card", "CPOOR")
    await page.press("#card", "Enter")
    await expect(page.locator("#senior-pays")).to_have_text("8.40")
    await expect(page.locator("#wallet-balance")).to_have_text("3.00 · 余额不足，请用现金或移动支付"), "said before the tap"
    await no_horizontal_overflow(page)
    await page.click("[data-pay='card_wallet']")
    await expect(page.locator("#message")).to_contain_text("余额不足：卡内 3.00 元，应付 8.40 元")
    assert await wallet(city["pricing"], city["admin"], "CPOOR") == 300
    await page.click("#portions-toggle")  # the portions editor fits the phone too
    await expect(page.locator("#portions-list li")).to_have_count(3)
    await no_horizontal_overflow(page)
    await page.click("#portions-toggle")
    # the kitchen takes set-b off today's lunch while the till still shows it: a sold-out dish is explained
    today = (await page.text_content("#today")) or ""
    menu = {"items": [{"menu_item_id": "set-a", "name": "套餐A·红烧肉", "price_fen": 1200, "diet_variants": ["regular"], "allergens": []}]}
    assert (await city["kitchen"].put(f"/v1/menus/ck-t/{today}/lunch", json=menu, headers=city["admin"])).status_code == 200
    await page.click("#no-card")
    await expect(page.locator("#wallet-row")).to_be_hidden()  # no card, no wallet
    await page.click("button.dish[data-item='set-b']")
    await expect(page.locator("#message")).to_contain_text("售完", timeout=15000)
    await page.screenshot(path=str(stack.var_dir / "pos-phone.png"), full_page=True)
    # a cart sells with channel cart, by mobile payment, and it still works on the phone
    await page.click("[aria-label='−'] >> nth=1")
    await expect(page.locator("#senior-pays")).to_have_text("12.00")
    async with page.expect_response(lambda r: r.url.endswith("/v1/orders") and r.request.method == "POST") as placed:
        await page.click("[data-pay='mobile']")
    await expect(page.locator("#receipt")).to_be_visible()
    await expect(page.locator("#receipt-method")).to_have_text("移动支付")
    await no_horizontal_overflow(page)
    order_id = (await (await placed.value).json())["order_id"]
    stored = (await city["order"].get(f"/v1/orders/{order_id}", headers=cart_till)).json()
    assert (stored["payment_method"], stored["channel"], stored["senior_pays_fen"]) == ("mobile", "cart", 1200)
