"""What the pricing tests share: the kitchen and pricing on one real NATS, a small city seeded through their APIs."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
from nats.aio.client import Client
from sqlalchemy import func, select

from services.pricing.adapters.tables import Charge, Posting, Statement
from shared.auth import issue_token
from shared.events import (
    CHARGE_SUBJECT,
    QUOTE_SUBJECT,
    REFUND_SUBJECT,
    ChargeRequest,
    ChargeResult,
    QuoteLine,
    QuoteRequest,
    QuoteResult,
    RefundRequest,
    RefundResult,
)
from shared.messaging.rpc import call
from shared.migrations import upgrade_async
from shared.settings import DEV_SECRET
from tests.conftest import Databases, delete_stream, running_app, settings_for
from tests.helpers import eventually

ADMIN = {"Authorization": "Bearer " + issue_token(DEV_SECRET, sub="test-admin", role="admin")}
PRICES = {"set-a": 1200, "set-b": 1500, "soup": 350}
# kitchen ck-west (xihu) supplies a canteen in shangcheng, which supplies a meal point in xihu; a cart in tonglu
SITES: list[tuple[str, dict[str, Any]]] = [
    ("ck-west", {"name": "西湖中央厨房", "kind": "kitchen", "district": "xihu", "operator": "op-yangguang", "supplied_by": None}),
    (
        "ct-qingbo",
        {"name": "清波街道中心食堂", "kind": "canteen", "district": "shangcheng", "operator": "op-yangguang", "supplied_by": "ck-west"},
    ),
    ("mp-lanli", {"name": "兰里助餐点", "kind": "meal_point", "district": "xihu", "operator": "op-xingfu", "supplied_by": "ct-qingbo"}),
    ("cart-tonglu", {"name": "桐庐流动餐车", "kind": "cart", "district": "tonglu", "operator": "op-fuchun", "supplied_by": "ck-west"}),
]
DEFAULT_TIERS = [
    {"min_age": 60, "max_age": 69, "pay_percent": 80},
    {"min_age": 70, "max_age": 79, "pay_percent": 70},
    {"min_age": 80, "max_age": None, "pay_percent": 50},
]
CITY_POLICY = {"effective_from": "2020-01-01", "age_tiers": DEFAULT_TIERS, "per_slot_limit": 1, "discount_cap_fen": None}
DISTRICT_POLICIES = {
    "shangcheng": {
        "effective_from": "2020-01-01",
        "city_share_percent": 0,
        "group_subsidies": [{"group": "dibao", "amount_fen": 500, "min_spend_fen": 500}, {"group": "tekun", "amount_fen": 800}],
    },
    "xihu": {
        "effective_from": "2020-01-01",
        "city_share_percent": 30,
        "group_subsidies": [{"group": "dibao", "amount_fen": 300, "min_spend_fen": 1000}, {"group": "shineng", "amount_fen": 500}],
    },
    "tonglu": {"effective_from": "2020-01-01", "city_share_percent": 50, "group_subsidies": []},
}


def born(age: int, on: date) -> date:
    """A birth date making someone exactly `age` (their birthday the day after `on`): the youngest of that age."""
    later = on + timedelta(days=1)
    try:
        return later.replace(year=later.year - age - 1)
    except ValueError:  # 29 February in a non-leap year
        return date(later.year - age - 1, 3, 1)


def id_number(n: int) -> str:
    return f"33010619{n % 100:02d}0101{n % 10000:04d}X"[:17] + "X"


@dataclass
class World:
    """Pricing (app and HTTP client) fed by a real central kitchen, and a NATS client to call pricing.* with."""

    app: Any
    pricing: httpx.AsyncClient
    kitchen: httpx.AsyncClient
    nc: Client
    menus: set[tuple[date, str]] = field(default_factory=set)

    # --- seeding through the public APIs ---
    async def put_menu(self, day: date, slot: str = "lunch", prices: dict[str, int] | None = None) -> None:
        items = [{"menu_item_id": k, "name": f"菜品 {k}", "price_fen": v} for k, v in (prices or PRICES).items()]
        r = await self.kitchen.put(f"/v1/menus/ck-west/{day}/{slot}", json={"items": items}, headers=ADMIN)
        assert r.status_code == 200, r.text
        self.menus.add((day, slot))

    async def menus_known(self, wanted: Iterable[tuple[date, str]]) -> None:
        """Wait until pricing learned the menus (and sites) from the kitchen's events."""

        async def known() -> bool:
            for day, slot in wanted:
                body = {
                    "site_id": "cart-tonglu",
                    "service_date": str(day),
                    "meal_slot": slot,
                    "items": [{"menu_item_id": "soup", "qty": 1}],
                }
                if (await self.pricing.post("/v1/quotes", json=body, headers=ADMIN)).status_code != 200:
                    return False
            return True

        await eventually(known, timeout=20)

    async def put_card(
        self,
        card_id: str,
        *,
        birth: date,
        district: str = "shangcheng",
        groups: Sequence[str] = (),
        status: str = "active",
        topup_fen: int = 0,
        **extra: Any,
    ) -> dict[str, Any]:
        body = {
            "name": extra.pop("name", f"长者{card_id}"),
            "birth_date": str(birth),
            "id_number": extra.pop("id_number", id_number(abs(hash(card_id)))),
            "home_district": district,
            "groups": list(groups),
            "status": status,
            **extra,
        }
        r = await self.pricing.put(f"/v1/cards/{card_id}", json=body, headers=ADMIN)
        assert r.status_code == 200, r.text
        if topup_fen:
            await self.topup(card_id, topup_fen)
        return r.json()  # type: ignore[no-any-return]

    async def topup(self, card_id: str, amount_fen: int, key: str | None = None) -> httpx.Response:
        headers = {**ADMIN, "Idempotency-Key": key or str(uuid.uuid4())}
        r = await self.pricing.post(f"/v1/cards/{card_id}/topups", json={"amount_fen": amount_fen}, headers=headers)
        return r

    # --- pricing over NATS, as order calls it ---
    @staticmethod
    def request(
        *,
        day: date,
        card: str | None = None,
        site: str = "ct-qingbo",
        slot: str = "lunch",
        items: Sequence[tuple[str, int]] = (("set-a", 1),),
        pay: str = "cash",
        order_id: uuid.UUID | None = None,
    ) -> ChargeRequest:
        return ChargeRequest(
            order_id=order_id or uuid.uuid4(),
            site_id=site,
            card_id=card,
            service_date=day,
            meal_slot=slot,  # type: ignore[arg-type]
            items=[QuoteLine(menu_item_id=m, qty=q) for m, q in items],
            payment_method=pay,  # type: ignore[arg-type]
        )

    async def charge(self, req: ChargeRequest | None = None, **kwargs: Any) -> ChargeResult:
        return await call(self.nc, CHARGE_SUBJECT, req or self.request(**kwargs), ChargeResult, timeout=15)

    async def refund(self, order_id: uuid.UUID) -> RefundResult:
        return await call(self.nc, REFUND_SUBJECT, RefundRequest(order_id=order_id, reason="test"), RefundResult, timeout=15)

    async def quote_nats(self, req: QuoteRequest) -> QuoteResult:
        return await call(self.nc, QUOTE_SUBJECT, req, QuoteResult, timeout=15)

    # --- what a user can see ---
    async def balance(self, card_id: str) -> int:
        r = await self.pricing.get(f"/v1/cards/{card_id}/wallet", headers=ADMIN)
        assert r.status_code == 200, r.text
        return int(r.json()["balance_fen"])

    async def settlement(self, period: str) -> dict[str, Any]:
        r = await self.pricing.get(f"/v1/settlements/{period}", headers=ADMIN)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    # --- the ledger itself, to prove nothing else was written ---
    async def ledger(self) -> tuple[int, int, int, int]:
        """(charges, postings, sum of all postings, statements)."""
        async with self.app.state.db.sessions() as s:
            charges = await s.scalar(select(func.count()).select_from(Charge))
            postings = await s.scalar(select(func.count()).select_from(Posting))
            total = await s.scalar(select(func.coalesce(func.sum(Posting.amount_fen), 0)))
            statements = await s.scalar(select(func.count()).select_from(Statement))
        return int(charges or 0), int(postings or 0), int(total or 0), int(statements or 0)


async def build_world(start_service: Callable[..., Any], *, menus: Iterable[tuple[date, str]] = ()) -> World:
    """Kitchen and pricing in-process on fresh databases, the test city's sites, policies and menus loaded."""
    _, kitchen = await start_service("central_kitchen")
    app, pricing = await start_service("pricing")
    nc = await nats.connect(app.state.settings.nats_url)
    world = World(app=app, pricing=pricing, kitchen=kitchen, nc=nc)
    for site_id, site in SITES:
        r = await kitchen.put(f"/v1/sites/{site_id}", json={**site, "lat": 30.25, "lon": 120.15}, headers=ADMIN)
        assert r.status_code == 200, r.text
    assert (await pricing.put("/v1/policies/city", json=CITY_POLICY, headers=ADMIN)).status_code == 200
    for district, policy in DISTRICT_POLICIES.items():
        r = await pricing.put(f"/v1/policies/districts/{district}", json=policy, headers=ADMIN)
        assert r.status_code == 200, r.text
    wanted = list(menus)
    await asyncio.gather(*(world.put_menu(day, slot) for day, slot in wanted))
    await world.menus_known(wanted)
    return world


@asynccontextmanager
async def world_for(backend: str, tmp_path: Path, nats_url: str, *, menus: Iterable[tuple[date, str]] = ()) -> AsyncIterator[World]:
    """The same world outside the function-scoped fixtures, for a module that shares one (on a fresh stream)."""
    await delete_stream(nats_url)
    databases = Databases(backend, tmp_path)
    try:
        async with AsyncExitStack() as stack:

            async def start(service: str) -> tuple[Any, httpx.AsyncClient]:
                url = await databases.new(service)
                await upgrade_async(service, url)
                module = __import__(f"services.{service}.main", fromlist=["create_app"])
                app = module.create_app(settings_for(service, database_url=url, nats_url=nats_url))
                return app, await stack.enter_async_context(running_app(app))

            world = await build_world(start, menus=menus)
            try:
                yield world
            finally:
                await world.nc.close()
    finally:
        await databases.drop_all()
