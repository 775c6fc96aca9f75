"""The till when a payment's outcome is not known at once: a lost answer, pricing down, an unknown code. Never charged twice."""

import asyncio
import signal
from typing import Any

import pytest
from playwright.async_api import expect

from shared.devstack import Stack
from tests.browser.test_pos import open_till
from tests.helpers import eventually
from tests.world import seed_stack, wallet

pytestmark = pytest.mark.timeout(150)


async def _answer_lost_once(page: Any) -> list[str]:
    """The first POST /v1/orders reaches the server and is processed, but its answer is lost; later ones pass. Returns the keys sent."""
    keys: list[str] = []

    async def flaky(route: Any) -> None:
        keys.append(route.request.headers["idempotency-key"])
        if len(keys) == 1:
            await route.fetch()
            await route.abort("connectionreset")
        else:
            await route.continue_()

    await page.route("**/v1/orders", flaky)
    return keys


async def _basket(page: Any, card: str, pays: str = "8.40") -> None:
    await page.click("button.dish[data-item='set-a']")
    await page.keyboard.type(card)
    await page.keyboard.press("Enter")
    await expect(page.locator("#senior-pays")).to_have_text(pays)


async def test_a_lost_answer_then_another_method_shows_the_first_receipt_and_charges_once(stack: Stack, token, browser_page) -> None:  # type: ignore[no-untyped-def]
    city = await seed_stack(stack, token)
    page = browser_page
    await open_till(page, stack, city["till"])
    keys = await _answer_lost_once(page)
    await _basket(page, "C75")
    await page.click("[data-pay='card_wallet']")
    await expect(page.locator("#message")).to_contain_text("网络异常")
    await expect(page.locator("#pending-box")).to_contain_text("不会重复扣款")
    # the cashier tries cash: the page first asks about the wallet payment (same key, same body): it was paid
    await page.click("[data-pay='cash']")
    await expect(page.locator("#receipt")).to_be_visible()
    await expect(page.locator("#receipt-method")).to_have_text("卡内余额")
    assert await page.text_content("#r-senior-pays") == "8.40"
    assert keys[0] == keys[1] and len(keys) == 2, keys
    assert await wallet(city["pricing"], city["admin"], "C75") == 10000 - 840, "charged exactly once"
    await page.click("#next")
    await expect(page.locator("#pending-box")).to_be_hidden()


async def test_a_lost_decline_lets_the_cashier_pay_another_way(stack: Stack, token, browser_page) -> None:  # type: ignore[no-untyped-def]
    city = await seed_stack(stack, token)
    page = browser_page
    await open_till(page, stack, city["till"])
    keys = await _answer_lost_once(page)
    await _basket(page, "CPOOR")  # 3.00 in the wallet, 8.40 to pay: pricing declines, the answer is lost
    await page.click("[data-pay='card_wallet']")
    await expect(page.locator("#message")).to_contain_text("网络异常")
    await page.click("[data-pay='cash']")
    await expect(page.locator("#receipt")).to_be_visible()
    await expect(page.locator("#receipt-method")).to_have_text("现金")
    assert await page.text_content("#r-senior-pays") == "8.40"
    assert len(keys) == 3 and keys[0] == keys[1] != keys[2], "asked about the declined wallet payment, then paid cash with a new key"
    assert await wallet(city["pricing"], city["admin"], "CPOOR") == 300


async def test_a_code_without_words_reads_in_chinese_with_its_code(stack: Stack, token, browser_page) -> None:  # type: ignore[no-untyped-def]
    city = await seed_stack(stack, token)
    page = browser_page
    await open_till(page, stack, city["till"])

    async def novel(route: Any) -> None:
        body = '{"type":"about:blank","title":"New","status":422,"detail":"Some English detail","code":"brand_new_rule"}'
        await route.fulfill(status=422, content_type="application/problem+json", body=body)

    await page.route("**/v1/orders", novel)
    await _basket(page, "C75")
    await page.click("[data-pay='cash']")
    message = page.locator("#message")
    await expect(message).to_contain_text("未能完成")
    await expect(message).to_contain_text("brand_new_rule")
    assert "English" not in (await message.text_content() or "")
    await expect(page.locator("#pending-box")).to_be_hidden()  # a 4xx is a decline: nothing pending


async def _pricing_down(stack: Stack) -> None:
    await asyncio.to_thread(stack.stop_service, "pricing", signal.SIGKILL)


async def _pricing_up(stack: Stack) -> None:
    stack.start_service("pricing")
    await asyncio.to_thread(stack.wait_ready, ("pricing",))


async def _pay_while_pricing_is_down(page: Any, stack: Stack) -> None:
    """Pricing does not answer the charge: after its timeout the order service answers 202, payment pending."""
    await _pricing_down(stack)
    async with page.expect_response(lambda r: r.url.endswith("/v1/orders") and r.request.method == "POST") as placed:
        await page.click("[data-pay='card_wallet']")
    assert (await placed.value).status == 202


async def test_a_pending_payment_settles_declined_with_its_reason_in_chinese(stack: Stack, token, browser_page) -> None:  # type: ignore[no-untyped-def]
    city = await seed_stack(stack, token)
    page = browser_page
    await open_till(page, stack, city["till"])
    await _basket(page, "CPOOR")
    await _pay_while_pricing_is_down(page, stack)
    await expect(page.locator("#message")).to_contain_text("正在确认支付")
    await expect(page.locator("[data-pay='cash']")).to_be_disabled()
    await _pricing_up(stack)  # the recovery loop re-drives the charge; pricing declines it
    message = page.locator("#message")
    await expect(message).to_contain_text("卡内余额不足，未扣款", timeout=30000)
    assert "problem." not in (await message.text_content() or "")
    await expect(page.locator("#pending-box")).to_be_hidden()
    await page.click("[data-pay='cash']")
    await expect(page.locator("#receipt")).to_be_visible()
    await expect(page.locator("#receipt-method")).to_have_text("现金")
    assert await wallet(city["pricing"], city["admin"], "CPOOR") == 300


async def test_a_payment_pending_too_long_frees_the_till_and_can_be_checked_later(stack: Stack, token, browser_page) -> None:  # type: ignore[no-untyped-def]
    city = await seed_stack(stack, token)
    page = browser_page
    await page.clock.install()  # the page's timers, fast-forwarded past its 30 s of waiting
    await open_till(page, stack, city["till"])
    # pricing is down and comes back within the wait: the 202 settles confirmed and the receipt shows
    await _basket(page, "C75")
    await _pay_while_pricing_is_down(page, stack)
    await _pricing_up(stack)
    await expect(page.locator("#receipt")).to_be_visible(timeout=30000)
    assert await page.text_content("#r-senior-pays") == "8.40"
    await page.click("#next")
    # pricing is down for longer than the till waits: a clear message with the order number, and the till is free again
    await _basket(page, "C66", "9.60")
    await _pricing_down(stack)
    async with page.expect_response(lambda r: "/v1/orders/" in r.url and r.request.method == "GET"):
        await page.click("[data-pay='card_wallet']")  # answered 202 after pricing's timeout; the page starts polling
    await page.clock.fast_forward(31_000)
    box = page.locator("#pending-box")
    await expect(box).to_contain_text("支付结果待确认")
    await expect(box).to_contain_text("稍后可在订单中查询")
    number = (await box.text_content() or "").split("单号 ")[1][:8]
    await expect(page.locator("[data-pay='cash']")).to_be_enabled()
    await expect(page.locator("#check-again")).to_be_enabled()
    await page.click("#pending-next")  # the next customer; the open order stays listed
    await expect(page.locator("#lines-empty")).to_be_visible()
    later = page.locator("#unresolved li")
    await expect(later).to_contain_text(number)
    await _pricing_up(stack)

    async def charged() -> bool:
        return await wallet(city["pricing"], city["admin"], "C66") == 10000 - 960

    await eventually(charged, timeout=30, interval=0.5)

    async def paid() -> bool:
        await later.locator("button").click()
        await asyncio.sleep(0.3)
        return "已支付成功" in (await later.text_content() or "")

    await eventually(paid, timeout=15, interval=0.5)
    await expect(later).to_contain_text(f"单号 {number}：已支付成功，实付 9.60 元（卡内余额）")
    assert await wallet(city["pricing"], city["admin"], "C66") == 10000 - 960, "looking it up charged nothing more"
