"""Sold out at the till: staff set a dish's remaining portions from the page; every till of the site then sees and obeys it."""

import pytest
from playwright.async_api import expect

from shared.devstack import Stack
from tests.browser.test_pos import open_till
from tests.world import seed_stack

pytestmark = pytest.mark.timeout(120)


async def test_a_dish_marked_sold_out_cannot_be_sold_at_any_till(stack: Stack, token, browser_page) -> None:  # type: ignore[no-untyped-def]
    city = await seed_stack(stack, token)
    first = browser_page
    await open_till(first, stack, city["till"])
    await first.click("button.dish[data-item='set-b']")  # a diner's order on the first till, before the dish runs out
    await expect(first.locator("#senior-pays")).to_have_text("14.00")
    second = await first.context.new_page()  # a second till of the same canteen
    await open_till(second, stack, city["till"])

    # staff on the second till: two portions of set-a left, set-b sold out
    await second.click("#portions-toggle")
    await second.fill("input[data-portions='set-a']", "2")
    await second.click("[data-portions-save='set-a']")
    await expect(second.locator("#portions-message")).to_contain_text("已保存：套餐A·红烧肉 余 2 份")
    await second.click("[data-sold-out='set-b']")
    set_b = second.locator("button.dish[data-item='set-b']")
    await expect(set_b).to_be_disabled()
    await expect(set_b.locator(".stock")).to_have_text("售罄")
    await expect(second.locator("button.dish[data-item='set-a'] .stock")).to_have_text("余 2 份")
    await expect(second.locator("input[data-portions='set-b']")).to_have_value("0")
    await second.click("#portions-toggle")
    await expect(second.locator("#portions")).to_be_hidden()
    today = (await second.text_content("#today")) or ""
    menu = (await city["order"].get(f"/v1/sites/ct-a/menu?service_date={today}&meal_slot=lunch", headers=city["till"])).json()
    left = {i["menu_item_id"]: (i["portions_left"], i["sold_out"]) for i in menu["items"]}
    assert left == {"set-a": (2, False), "set-b": (0, True), "soup": (None, False)}

    # the first till still shows set-b; selling it is refused in Chinese, nothing is sold, and its menu catches up
    await first.click("[data-pay='cash']")
    await expect(first.locator("#message")).to_contain_text("套餐B·清蒸鲈鱼 已售罄")
    assert await first.is_hidden("#receipt")
    await expect(first.locator("button.dish[data-item='set-b']")).to_be_disabled()
    await expect(first.locator("button.dish[data-item='set-b'] .stock")).to_have_text("售罄")

    # the last two portions of set-a: a third tap is refused on the page, a sale counts down, then it is sold out
    await first.click("#lines [aria-label='−']")
    for _ in range(3):
        await first.click("button.dish[data-item='set-a']")
    await expect(first.locator("#lines .qty")).to_have_text(["2"])
    await expect(first.locator("#message")).to_contain_text("套餐A·红烧肉 只剩 2 份")
    await first.click("[data-pay='cash']")
    await expect(first.locator("#receipt")).to_be_visible()
    await first.click("#next")
    await expect(first.locator("button.dish[data-item='set-a']")).to_be_disabled()
    await expect(first.locator("button.dish[data-item='set-a'] .stock")).to_have_text("售罄")
    await first.click("#lang-toggle")
    await expect(first.locator("button.dish[data-item='set-a'] .stock")).to_have_text("Sold out")
    await first.click("#lang-toggle")

    # lifting the limit (an empty field) sells set-b again
    await second.reload()
    await expect(second.locator("#site-name")).to_have_text("测试中心食堂")
    await second.select_option("#slot", "lunch")
    await second.click("#portions-toggle")
    await second.fill("input[data-portions='set-b']", "")
    await second.press("input[data-portions='set-b']", "Enter")
    await expect(second.locator("#portions-message")).to_contain_text("不限")
    await expect(second.locator("button.dish[data-item='set-b']")).to_be_enabled()
    await expect(second.locator("button.dish[data-item='set-b'] .stock")).to_have_count(0)
