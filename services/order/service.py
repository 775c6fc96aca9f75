"""Order use cases and the checkout saga (pending → pricing.charge → confirmed | rejected).

The small use cases take a session and never commit; the saga below owns the transaction
boundaries because its steps straddle a call to pricing (DESIGN.md "The till checkout").
"""

import asyncio
import contextlib
import json
import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.order.adapters.tables import Availability, MealOrder, MealOrderLine, MenuItem, Site, StandingOrder, StandingOrderRun
from services.order.api.schemas import (
    MaterializeOut,
    OrderItemIn,
    OrderItemOut,
    OrderOut,
    PlaceOrder,
    StandingOrderIn,
    StandingOrderPatch,
)
from services.order.domain import rules
from shared.auth import Principal
from shared.db import Database
from shared.errors import Problem
from shared.events import (
    CHARGE_SUBJECT,
    QUOTE_SUBJECT,
    REFUND_SUBJECT,
    ChargeRequest,
    ChargeResult,
    FoodSafetyBreach,
    MenuPublished,
    OrderCancelled,
    OrderConfirmed,
    OrderFailed,
    OrderFulfilled,
    OrderLine,
    QuoteLine,
    QuoteRequest,
    QuoteResult,
    RefundRequest,
    RefundResult,
    SiteUpserted,
    StopDelivered,
    StopFailed,
    local_now,
    utcnow,
)
from shared.idempotency import IdempotencyStore, Reply, Stored, request_hash
from shared.messaging.bus import Bus
from shared.messaging.outbox import Outbox
from shared.messaging.rpc import RpcUnavailable, call
from shared.money import MAX_MEAL_FEN
from shared.settings import Settings

log = logging.getLogger(__name__)
Loaded = tuple[MealOrder, list[MealOrderLine]]  # an order and its lines, as read or just written


# --- copies of the catalog ---
async def record_site(session: AsyncSession, event: SiteUpserted) -> None:
    fields: dict[str, Any] = {
        "name": event.name,
        "kind": event.kind,
        "district": event.district,
        "operator": event.operator,
        "supplied_by": event.supplied_by,
        "kitchen_id": event.kitchen_id,
        "breakfast_cutoff": event.breakfast_cutoff,
        "lunch_cutoff": event.lunch_cutoff,
        "dinner_cutoff": event.dinner_cutoff,
    }
    site = await session.get(Site, event.site_id)
    if site is None:
        session.add(Site(site_id=event.site_id, **fields))
    else:
        for key, value in fields.items():
            setattr(site, key, value)


async def record_menu(session: AsyncSession, event: MenuPublished) -> None:
    await session.execute(
        delete(MenuItem).where(
            col(MenuItem.kitchen_id) == event.kitchen_id,
            col(MenuItem.service_date) == event.service_date,
            col(MenuItem.meal_slot) == event.meal_slot,
        )
    )
    for position, item in enumerate(event.items):
        session.add(
            MenuItem(
                kitchen_id=event.kitchen_id,
                service_date=event.service_date,
                meal_slot=event.meal_slot,
                position=position,
                **item.model_dump(),
            )
        )


# --- reads ---
async def get_site(session: AsyncSession, site_id: str) -> Site:
    site = await session.get(Site, site_id)
    if site is None:
        raise Problem(422, "unknown_site", f"no site {site_id!r}")
    return site


async def menu_for(session: AsyncSession, *, site: Site, service_date: object, meal_slot: str) -> list[MenuItem]:
    kitchen_id = site.kitchen_id
    query = (
        select(MenuItem)
        .where(col(MenuItem.kitchen_id) == kitchen_id, col(MenuItem.service_date) == service_date, col(MenuItem.meal_slot) == meal_slot)
        .order_by(col(MenuItem.position))
    )
    return list((await session.exec(query)).all())


async def load_order(session: AsyncSession, order_id: uuid.UUID, *, for_update: bool = False) -> tuple[MealOrder, list[MealOrderLine]]:
    query = select(MealOrder).where(col(MealOrder.order_id) == order_id)
    if for_update:
        query = query.with_for_update()
    order = (await session.exec(query)).first()
    if order is None:
        raise Problem(404, "unknown_order", f"no order {order_id}")
    lines = (
        await session.exec(select(MealOrderLine).where(col(MealOrderLine.order_id) == order_id).order_by(col(MealOrderLine.line_no)))
    ).all()
    return order, list(lines)


def order_out(order: MealOrder, lines: list[MealOrderLine]) -> OrderOut:
    items = [
        OrderItemOut(menu_item_id=li.menu_item_id, name=li.name, qty=li.qty, diet_variant=li.diet_variant, price_fen=li.price_fen)
        for li in lines
    ]
    return OrderOut.model_validate({**order.model_dump(), "items": items})


# --- placing an order (validation and the pending row) ---
def cutoff_of(site: Site, meal_slot: str) -> str:
    return str(getattr(site, f"{meal_slot}_cutoff"))


async def create_pending(session: AsyncSession, *, body: PlaceOrder, now_local: datetime, created_by: str) -> Loaded:
    """Validate against the site, its kitchen's menu and the cut-off; store the order pending_payment."""
    site = await get_site(session, body.site_id)
    rules.check_channel(channel=body.channel, site_kind=site.kind)
    rules.check_service_date(service_date=body.service_date, today=now_local.date(), channel=body.channel)
    rules.check_preorder_cutoff(
        channel=body.channel, now_local=now_local, service_date=body.service_date, cutoff=cutoff_of(site, body.meal_slot)
    )
    menu = {m.menu_item_id: m for m in await menu_for(session, site=site, service_date=body.service_date, meal_slot=body.meal_slot)}
    if not menu:
        raise Problem(422, "menu_not_published", f"no menu published for {site.site_id} on {body.service_date} {body.meal_slot}")
    order = MealOrder(
        site_id=site.site_id,
        kitchen_id=site.kitchen_id,
        card_id=body.card_id,
        channel=body.channel,
        service_date=body.service_date,
        meal_slot=body.meal_slot,
        payment_method=body.payment_method,
        created_by=created_by,
    )
    if body.payment_method == "card_wallet" and body.card_id is None:
        raise Problem(422, "wallet_needs_card", "wallet payment needs a card")
    session.add(order)
    lines: list[MealOrderLine] = []
    total = 0
    for line_no, item in enumerate(body.items):
        dish = menu.get(item.menu_item_id)
        if dish is None:
            raise Problem(422, "unknown_menu_item", f"{item.menu_item_id!r} is not on this menu", menu_item_id=item.menu_item_id)
        if item.diet_variant not in dish.diet_variants:
            raise Problem(
                422, "diet_variant_unavailable", f"{dish.name} comes as {', '.join(dish.diet_variants)}", menu_item_id=item.menu_item_id
            )
        total += dish.price_fen * item.qty
        if total > MAX_MEAL_FEN:
            raise Problem(422, "meal_total_too_large", f"a meal totals at most {MAX_MEAL_FEN} fen", list_total_fen=total)
        lines.append(
            MealOrderLine(
                order_id=order.order_id,
                line_no=line_no,
                menu_item_id=dish.menu_item_id,
                name=dish.name,
                qty=item.qty,
                diet_variant=item.diet_variant,
                price_fen=dish.price_fen,
            )
        )
    await check_portions(session, body)
    session.add_all(lines)
    return order, lines


# --- portions: a dish a site may sell only so many of (a cart's load, what is left at a canteen) ---
HOLDING = ("pending_payment", "confirmed", "cancel_pending", "fulfilled")  # orders that hold their portions


@dataclass(frozen=True)
class Sitting:
    """One site's meal: a date and a slot."""

    site_id: str
    service_date: date
    meal_slot: str


async def sold_counts(session: AsyncSession, at: Sitting, menu_item_ids: list[str]) -> dict[str, int]:
    query = (
        select(MealOrderLine.menu_item_id, func.sum(MealOrderLine.qty))
        .join(MealOrder, col(MealOrder.order_id) == col(MealOrderLine.order_id))
        .where(
            col(MealOrder.site_id) == at.site_id,
            col(MealOrder.service_date) == at.service_date,
            col(MealOrder.meal_slot) == at.meal_slot,
            col(MealOrder.status).in_(HOLDING),
            col(MealOrderLine.menu_item_id).in_(menu_item_ids),
        )
        .group_by(col(MealOrderLine.menu_item_id))
    )
    return {item: int(total or 0) for item, total in (await session.execute(query)).all()}


async def limits_for(
    session: AsyncSession, at: Sitting, menu_item_ids: list[str] | None = None, *, lock: bool = False
) -> dict[str, Availability]:
    query = select(Availability).where(
        col(Availability.site_id) == at.site_id,
        col(Availability.service_date) == at.service_date,
        col(Availability.meal_slot) == at.meal_slot,
    )
    if menu_item_ids is not None:
        query = query.where(col(Availability.menu_item_id).in_(menu_item_ids))
    if lock:  # one till at a time sells the last portions (rows locked in one order: no deadlock)
        query = query.order_by(col(Availability.menu_item_id)).with_for_update()
    return {row.menu_item_id: row for row in (await session.exec(query)).all()}


async def portions_left(session: AsyncSession, at: Sitting) -> dict[str, int]:
    """What each limited dish has left at a site (dishes without a limit are absent)."""
    limits = await limits_for(session, at)
    if not limits:
        return {}
    sold = await sold_counts(session, at, list(limits))
    return {item: max(0, row.portions_total - sold.get(item, 0)) for item, row in limits.items()}


async def check_portions(session: AsyncSession, body: PlaceOrder) -> None:
    wanted: dict[str, int] = {}
    for line in body.items:
        wanted[line.menu_item_id] = wanted.get(line.menu_item_id, 0) + line.qty
    at = Sitting(body.site_id, body.service_date, body.meal_slot)
    limits = await limits_for(session, at, list(wanted), lock=True)
    if not limits:
        return
    sold = await sold_counts(session, at, list(limits))
    for item, row in sorted(limits.items()):
        left = max(0, row.portions_total - sold.get(item, 0))
        if wanted[item] > left:
            raise Problem(409, "sold_out", f"{item!r} has {left} portions left here", menu_item_id=item, portions_left=left)


async def set_portions(session: AsyncSession, *, principal: Principal, at: Sitting, menu_item_id: str, left: int | None) -> int | None:
    """The till says how many more portions of a dish it can sell (0: sold out; None: no limit); returns what is left."""
    principal.require_scope("pos", at.site_id)
    site = await get_site(session, at.site_id)
    menu = await menu_for(session, site=site, service_date=at.service_date, meal_slot=at.meal_slot)
    if menu_item_id not in {m.menu_item_id for m in menu}:
        raise Problem(422, "unknown_menu_item", f"{menu_item_id!r} is not on this menu", menu_item_id=menu_item_id)
    row = (await limits_for(session, at, [menu_item_id], lock=True)).get(menu_item_id)
    if left is None:
        if row is not None:
            await session.delete(row)
        return None
    total = (await sold_counts(session, at, [menu_item_id])).get(menu_item_id, 0) + left
    if row is None:
        row = Availability(
            site_id=at.site_id, service_date=at.service_date, meal_slot=at.meal_slot, menu_item_id=menu_item_id, portions_total=total
        )
        session.add(row)
    row.portions_total = total
    row.updated_by = principal.sub
    row.updated_at = utcnow()
    return left


async def confirm(session: AsyncSession, outbox: Outbox, *, order_id: uuid.UUID, result: ChargeResult) -> Loaded:
    """The charge succeeded: confirm and emit order.confirmed.v1 (once, whoever gets here first)."""
    order, lines = await load_order(session, order_id, for_update=True)
    if order.status != "pending_payment":
        return order, lines
    order.status = rules.move(order.status, "confirmed")
    for field in (
        "list_total_fen",
        "age_discount_fen",
        "group_subsidy_fen",
        "senior_pays_fen",
        "pay_percent",
        "funder_district",
        "city_part_fen",
        "district_part_fen",
        "wallet_balance_fen",
    ):
        setattr(order, field, getattr(result, field))
    order.reasons = list(result.reasons)
    order.updated_at = utcnow()
    await outbox.publish(
        session,
        OrderConfirmed(
            order_id=order.order_id,
            site_id=order.site_id,
            kitchen_id=order.kitchen_id,
            card_id=order.card_id,
            channel=order.channel,
            service_date=order.service_date,
            meal_slot=order.meal_slot,
            payment_method=order.payment_method,
            items=[
                OrderLine(menu_item_id=li.menu_item_id, name=li.name, qty=li.qty, diet_variant=li.diet_variant, price_fen=li.price_fen)
                for li in lines
            ],
            list_total_fen=order.list_total_fen,
            senior_pays_fen=order.senior_pays_fen,
        ),
    )
    return order, lines


async def reject(session: AsyncSession, *, order_id: uuid.UUID, problem: Problem) -> Loaded:
    order, lines = await load_order(session, order_id, for_update=True)
    if order.status == "pending_payment":
        order.status = rules.move(order.status, "rejected")
        order.reason = problem.code
        order.updated_at = utcnow()
    return order, lines


def charge_request(order: MealOrder, lines: list[MealOrderLine]) -> ChargeRequest:
    return ChargeRequest(
        order_id=order.order_id,
        site_id=order.site_id,
        card_id=order.card_id,
        service_date=order.service_date,
        meal_slot=order.meal_slot,
        payment_method=order.payment_method,
        items=[QuoteLine(menu_item_id=li.menu_item_id, qty=li.qty) for li in lines],
    )


# --- outcomes reported by delivery ---
async def record_delivered(session: AsyncSession, event: StopDelivered, *, outbox: Outbox) -> None:
    """Delivered at the stop: the orders are fulfilled."""
    for order_id in event.order_ids:
        order = await session.get(MealOrder, order_id)
        if order is not None and order.status == "confirmed":
            order.status = rules.move(order.status, "fulfilled")
            order.updated_at = utcnow()
            await outbox.publish(session, OrderFulfilled(order_id=order_id))


async def fail_orders(session: AsyncSession, order_ids: list[uuid.UUID], reason: str, *, outbox: Outbox) -> None:
    """The meal never reached the senior: the order fails and its charge is refunded (by the recovery loop)."""
    for order_id in order_ids:
        order = await session.get(MealOrder, order_id)
        if order is not None and order.status == "confirmed":
            order.status = rules.move(order.status, "failed")
            order.reason = reason[:64]
            order.refund_due = True
            order.updated_at = utcnow()
            await outbox.publish(session, OrderFailed(order_id=order_id, reason=reason))


async def record_stop_failed(session: AsyncSession, event: StopFailed, *, outbox: Outbox) -> None:
    await fail_orders(session, event.order_ids, event.reason or "delivery_failed", outbox=outbox)


async def record_breach(session: AsyncSession, event: FoodSafetyBreach, *, outbox: Outbox) -> None:
    await fail_orders(session, event.order_ids, "food_safety_breach", outbox=outbox)


# --- standing orders ---
async def create_standing_order(session: AsyncSession, *, body: StandingOrderIn, principal: Principal) -> StandingOrder:
    principal.require_scope("pos", body.site_id)
    site = await get_site(session, body.site_id)
    rules.check_channel(channel=body.channel, site_kind=site.kind)
    rules.check_pause(body.pause_from, body.resume_on)
    if body.payment_method == "card_wallet" and not body.card_id:
        raise Problem(422, "wallet_needs_card", "wallet payment needs a card")
    row = StandingOrder(
        **body.model_dump(exclude={"weekdays", "items"}),
        weekdays=rules.check_weekdays(body.weekdays),
        items=[i.model_dump() for i in body.items],
        created_by=principal.sub,
    )
    session.add(row)
    return row


async def get_standing_order(session: AsyncSession, standing_order_id: uuid.UUID, principal: Principal) -> StandingOrder:
    row = await session.get(StandingOrder, standing_order_id)
    if row is None:
        raise Problem(404, "unknown_standing_order", f"no standing order {standing_order_id}")
    principal.require_scope("pos", row.site_id)
    return row


async def update_standing_order(
    session: AsyncSession, *, standing_order_id: uuid.UUID, patch: StandingOrderPatch, principal: Principal
) -> StandingOrder:
    row = await get_standing_order(session, standing_order_id, principal)
    changes = patch.model_dump(exclude_unset=True)
    pause_from = changes.get("pause_from", row.pause_from)
    resume_on = changes.get("resume_on", row.resume_on)
    rules.check_pause(pause_from, resume_on)
    for key, value in changes.items():
        setattr(row, key, value)
    row.updated_at = utcnow()
    return row


async def list_standing_orders(session: AsyncSession, *, principal: Principal, card_id: str | None) -> list[StandingOrder]:
    query = select(StandingOrder).order_by(col(StandingOrder.created_at))
    if principal.role == "pos":
        query = query.where(col(StandingOrder.site_id) == principal.scope)
    if card_id:
        query = query.where(col(StandingOrder.card_id) == card_id)
    return list((await session.exec(query)).all())


async def _unchanged(session: AsyncSession, order_id: uuid.UUID) -> Loaded:
    """Another pass (the recovery loop) settled this order first."""
    return await load_order(session, order_id)


async def _still_pending(session: AsyncSession, order_id: uuid.UUID) -> Loaded:
    order, lines = await load_order(session, order_id, for_update=True)
    order.charge_attempts += 1
    order.updated_at = utcnow()
    return order, lines


@dataclass
class Outcome:
    order: OrderOut
    problem: Problem | None = None


Settle = Callable[[AsyncSession, "Outcome"], Awaitable[None]]


class Checkout:
    """The orchestrated saga with the charge as pivot; safe to re-drive because the charge is idempotent."""

    def __init__(self, *, db: Database, outbox: Outbox, bus: Bus, idempotency: IdempotencyStore, settings: Settings) -> None:
        self.db = db
        self.outbox = outbox
        self.bus = bus
        self.idempotency = idempotency
        self.settings = settings

    async def place(self, *, principal: Principal, key: str, body: PlaceOrder) -> Reply:
        principal.require_scope("pos", body.site_id)
        scope, digest = f"{principal.role}:{principal.sub}", request_hash(body.model_dump(mode="json"))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 3 * (self.settings.rpc_timeout_s + 2)
        while loop.time() < deadline:
            created = await self._claim(principal=principal, scope=scope, key=key, digest=digest, body=body)
            if created is None:  # a twin holds the key: its answer is ours
                replay = await self._replay(scope=scope, key=key, digest=digest)
                if replay is not None:
                    return replay
                continue  # the twin failed and freed the key: this request takes its turn
            return await self._drive_new(created, scope=scope, key=key)
        raise Problem(409, "request_in_progress", "requests with this key keep failing one after another; send it again")

    async def _drive_new(self, created: Loaded, *, scope: str, key: str) -> Reply:
        answer: list[Reply] = []

        async def settle(session: AsyncSession, outcome: Outcome) -> None:
            """In the transaction that settles the order: keep the response for replays, or free the key."""
            reply = self._respond(outcome)
            answer.append(reply)
            if outcome.problem is not None:
                await self.idempotency.release(session, scope=scope, key=key)
            else:
                await self.idempotency.complete(
                    session, scope=scope, key=key, status_code=reply.status_code, body=reply.body, headers=reply.headers
                )

        await self.drive(created[0].order_id, settle=settle, loaded=created)
        return answer[0]

    async def _claim(self, *, principal: Principal, scope: str, key: str, digest: str, body: PlaceOrder) -> Loaded | None:
        """Store the order pending_payment and claim the key in one transaction; None when the key is already taken."""
        try:
            async with self.db.transaction() as session:
                if await self.idempotency.find(session, scope=scope, key=key, digest=digest) is not None:
                    return None
                pending = await create_pending(session, body=body, now_local=local_now(self.settings.timezone), created_by=principal.sub)
                await self.idempotency.claim(session, scope=scope, key=key, digest=digest, resource_id=str(pending[0].order_id))
            return pending  # committed: the key and the order are ours
        except IntegrityError:
            return None  # a twin request claimed the key first

    def _respond(self, outcome: Outcome) -> Reply:
        if outcome.problem is None and outcome.order.status == "rejected":  # the recovery loop settled it first
            outcome = Outcome(outcome.order, Problem(409, outcome.order.reason or "rejected", "pricing declined this order"))
        location = {"Location": f"/v1/orders/{outcome.order.order_id}"}
        if outcome.problem is not None:
            problem = Problem(
                outcome.problem.status,
                outcome.problem.code,
                outcome.problem.detail,
                **outcome.problem.extra,
                order_id=str(outcome.order.order_id),
                order_status=outcome.order.status,
            )
            return Reply(problem.status, json.dumps(problem.body(), ensure_ascii=False, default=str), {})
        body = outcome.order.model_dump_json()
        if outcome.order.status == "pending_payment":
            return Reply(202, body, {**location, "Retry-After": "1"})
        return Reply(201, body, location)

    async def _replay(self, *, scope: str, key: str, digest: str) -> Reply | None:
        """The same key again: the first response byte for byte, once the first request finished; None if it failed."""
        deadline = asyncio.get_running_loop().time() + self.settings.rpc_timeout_s + 2
        while True:
            async with self.db.sessions() as session:
                stored = await self.idempotency.find(session, scope=scope, key=key, digest=digest)
            if stored is None:
                return None
            if stored.status_code is not None:
                return stored.reply()
            if asyncio.get_running_loop().time() > deadline:
                return _accepted(stored)
            await asyncio.sleep(0.05)

    async def drive(self, order_id: uuid.UUID, *, settle: Settle | None = None, loaded: Loaded | None = None) -> Outcome:
        """Ask pricing to charge; settle the order on its answer, leave it pending if it is silent.

        `settle` runs inside the transaction that records the outcome (the checkout stores its response there);
        without one (a recovery pass), a request that never got its answer has it stored now, for its replays.
        `loaded` is the order as its creator just wrote it, which spares the hot path a read.
        """
        if settle is None:
            settle = self._settle_unanswered
        if loaded is None:
            async with self.db.sessions() as session:
                loaded = await load_order(session, order_id)
        order, lines = loaded
        if order.status != "pending_payment":
            return await self._record(order_id, settle, lambda s: _unchanged(s, order_id))
        try:
            result = await call(
                self.bus.nc, CHARGE_SUBJECT, charge_request(order, lines), ChargeResult, timeout=self.settings.rpc_timeout_s
            )
        except RpcUnavailable as exc:
            log.warning("pricing did not answer for order %s: %s", order_id, exc)
            return await self._record(order_id, settle, lambda s: _still_pending(s, order_id))
        except Problem as problem:
            declined = problem
        else:
            if self.settings.chaos_exit_after_charge:
                os._exit(137)  # chaos drill: die between the charge and the confirm (tests the recovery loop)
            return await self._record(order_id, settle, lambda s: confirm(s, self.outbox, order_id=order_id, result=result))
        if declined.status >= 500:
            return await self._record(order_id, settle, lambda s: _still_pending(s, order_id))
        return await self._record(order_id, settle, lambda s: reject(s, order_id=order_id, problem=declined), declined)

    async def _settle_unanswered(self, session: AsyncSession, outcome: Outcome) -> None:
        if outcome.order.status == "pending_payment":
            return  # still open: a replay keeps waiting for the outcome
        reply = self._respond(outcome)
        await self.idempotency.settle_unanswered(
            session, resource_id=str(outcome.order.order_id), reply=None if reply.status_code >= 400 else reply
        )

    async def _record(
        self,
        order_id: uuid.UUID,
        settle: Settle,
        change: Callable[[AsyncSession], Awaitable[Loaded]],
        problem: Problem | None = None,
    ) -> Outcome:
        async with self.db.transaction() as session:
            order, lines = await change(session)
            outcome = Outcome(order_out(order, lines), problem)
            await settle(session, outcome)
        return outcome

    async def cancel(self, *, principal: Principal, order_id: uuid.UUID) -> Outcome:
        """Before the cut-off: cancel_pending → pricing.refund → cancelled + order.cancelled.v1."""
        async with self.db.transaction() as session:
            order, _ = await load_order(session, order_id, for_update=True)
            principal.require_scope("pos", order.site_id)
            if order.status in ("cancelled", "cancel_pending"):
                pass
            else:
                site = await get_site(session, order.site_id)
                if not rules.before_cutoff(
                    now_local=local_now(self.settings.timezone), service_date=order.service_date, cutoff=cutoff_of(site, order.meal_slot)
                ):
                    raise Problem(
                        409,
                        "cutoff_passed",
                        f"cancellations for {order.service_date} {order.meal_slot} closed at {cutoff_of(site, order.meal_slot)}",
                    )
                order.status = rules.move(order.status, "cancel_pending")
                order.updated_at = utcnow()
        return await self.drive_refund(order_id)

    async def drive_refund(self, order_id: uuid.UUID) -> Outcome:
        async with self.db.sessions() as session:
            order, lines = await load_order(session, order_id)
        if order.status != "cancel_pending":
            return Outcome(order_out(order, lines))
        try:
            result = await call(
                self.bus.nc,
                REFUND_SUBJECT,
                RefundRequest(order_id=order_id, reason="cancelled"),
                RefundResult,
                timeout=self.settings.rpc_timeout_s,
            )
        except (RpcUnavailable, Problem) as exc:
            log.warning("refund of %s not done yet: %s", order_id, exc)
            return Outcome(order_out(order, lines))
        async with self.db.transaction() as session:
            order, lines = await load_order(session, order_id, for_update=True)
            if order.status == "cancel_pending":
                order.status = rules.move(order.status, "cancelled")
                order.wallet_balance_fen = result.wallet_balance_fen
                order.updated_at = utcnow()
                await self.outbox.publish(
                    session,
                    OrderCancelled(
                        order_id=order.order_id,
                        site_id=order.site_id,
                        service_date=order.service_date,
                        meal_slot=order.meal_slot,
                        reason="cancelled",
                    ),
                )
        return Outcome(order_out(order, lines))

    async def drive_failure_refund(self, order_id: uuid.UUID) -> None:
        try:
            await call(
                self.bus.nc,
                REFUND_SUBJECT,
                RefundRequest(order_id=order_id, reason="failed"),
                RefundResult,
                timeout=self.settings.rpc_timeout_s,
            )
        except Problem as problem:
            if problem.code != "unknown_charge":
                log.warning("refund of failed order %s not done yet: %s", order_id, problem)
                return
        except RpcUnavailable as exc:
            log.warning("refund of failed order %s not done yet: %s", order_id, exc)
            return
        async with self.db.transaction() as session:
            order, _ = await load_order(session, order_id, for_update=True)
            order.refund_due = False
            order.updated_at = utcnow()

    async def materialize(self, *, now_local: datetime, horizon_days: int) -> MaterializeOut:
        """Turn standing orders into pre-orders for the coming days, exactly once per order and date."""
        async with self.db.sessions() as session:
            patterns = list((await session.exec(select(StandingOrder).where(col(StandingOrder.active).is_(True)))).all())
        created: list[uuid.UUID] = []
        skipped = 0
        for pattern in patterns:
            dates = rules.standing_dates(
                weekdays=pattern.weekdays,
                starts_on=pattern.starts_on,
                pause_from=pattern.pause_from,
                resume_on=pattern.resume_on,
                today=now_local.date(),
                horizon_days=horizon_days,
            )
            for day in dates:
                order_id = await self._materialize_one(pattern, day, now_local)
                if order_id is None:
                    skipped += 1
                else:
                    created.append(order_id)
        for order_id in created:
            await self.drive(order_id)
        return MaterializeOut(created=len(created), skipped=skipped, orders=created)

    async def _materialize_one(self, pattern: StandingOrder, day: Any, now_local: datetime) -> uuid.UUID | None:
        """One date of a pattern, once: a date that could not be ordered yet (no menu, say) is tried again next pass."""
        body = PlaceOrder(
            site_id=pattern.site_id,
            card_id=pattern.card_id,
            channel=pattern.channel,
            service_date=day,  # type: ignore[arg-type]
            meal_slot=pattern.meal_slot,
            payment_method=pattern.payment_method,  # type: ignore[arg-type]
            items=[OrderItemIn.model_validate(i) for i in pattern.items],
        )
        key = (pattern.standing_order_id, day)
        try:
            async with self.db.transaction() as session:
                run = (
                    await session.exec(
                        select(StandingOrderRun)
                        .where(col(StandingOrderRun.standing_order_id) == key[0], col(StandingOrderRun.service_date) == day)
                        .with_for_update()  # a twin pass (another replica) waits here, then sees the order it made
                        .execution_options(populate_existing=True)
                    )
                ).first()
                if run is not None and run.order_id is not None:
                    return None
                if run is None:
                    run = StandingOrderRun(standing_order_id=key[0], service_date=day)
                    session.add(run)
                    await session.flush()  # a twin run that inserted first collides here
                order, _ = await create_pending(session, body=body, now_local=now_local, created_by=f"standing:{pattern.standing_order_id}")
                order.standing_order_id = pattern.standing_order_id
                run.order_id, run.outcome = order.order_id, "created"
                return order.order_id
        except IntegrityError:
            return None
        except Problem as problem:
            if problem.code != "cutoff_passed":  # keep why, for the staff; the next pass tries again until the cut-off
                await self._note_run(key, problem.code)
            return None

    async def _note_run(self, key: tuple[uuid.UUID, Any], outcome: str) -> None:
        with contextlib.suppress(IntegrityError):
            async with self.db.transaction() as session:
                run = await session.get(StandingOrderRun, key)
                if run is None:
                    session.add(StandingOrderRun(standing_order_id=key[0], service_date=key[1], outcome=outcome))
                elif run.order_id is None:
                    run.outcome = outcome

    async def update_standing_order(
        self, *, principal: Principal, standing_order_id: uuid.UUID, patch: StandingOrderPatch
    ) -> StandingOrder:
        """Pause, resume or stop; pre-orders already made for dates now paused are cancelled and refunded (before their cut-off)."""
        now_local = local_now(self.settings.timezone)
        async with self.db.transaction() as session:
            row = await update_standing_order(session, standing_order_id=standing_order_id, patch=patch, principal=principal)
            runs = (
                await session.exec(
                    select(StandingOrderRun).where(
                        col(StandingOrderRun.standing_order_id) == standing_order_id,
                        col(StandingOrderRun.service_date) >= now_local.date(),
                        col(StandingOrderRun.order_id).is_not(None),
                    )
                )
            ).all()
            withdrawn: list[uuid.UUID] = []
            for run in runs:
                if row.active and not rules.paused(run.service_date, row.pause_from, row.resume_on):
                    continue
                assert run.order_id is not None
                order, _ = await load_order(session, run.order_id, for_update=True)
                site = await get_site(session, order.site_id)
                if order.status != "confirmed" or not rules.before_cutoff(
                    now_local=now_local, service_date=order.service_date, cutoff=cutoff_of(site, order.meal_slot)
                ):
                    continue
                order.status = rules.move(order.status, "cancel_pending")
                order.updated_at = utcnow()
                await session.delete(run)  # a later resume orders that date afresh
                withdrawn.append(order.order_id)
        for order_id in withdrawn:
            await self.drive_refund(order_id)
        return row

    async def recover_once(self, *, older_than: timedelta) -> int:
        """Re-drive orders left pending (pricing was silent, or the process died mid-saga)."""
        cutoff = utcnow() - older_than
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(MealOrder.order_id, MealOrder.status)
                    .where(col(MealOrder.status).in_(["pending_payment", "cancel_pending"]), col(MealOrder.updated_at) < cutoff)
                    .order_by(col(MealOrder.updated_at))
                    .limit(100)
                )
            ).all()
        for order_id, status in rows:
            if status == "pending_payment":
                await self.drive(order_id)
            else:
                await self.drive_refund(order_id)
        async with self.db.sessions() as session:
            failed = (await session.exec(select(MealOrder.order_id).where(col(MealOrder.refund_due).is_(True)).limit(100))).all()
        for order_id in failed:
            await self.drive_failure_refund(order_id)
        return len(rows) + len(failed)

    async def quote(self, *, principal: Principal, body: QuoteRequest) -> QuoteResult:
        principal.require_scope("pos", body.site_id)
        try:
            return await call(self.bus.nc, QUOTE_SUBJECT, body, QuoteResult, timeout=self.settings.rpc_timeout_s)
        except RpcUnavailable as exc:
            raise Problem(503, "pricing_unavailable", "pricing did not answer; try again") from exc


def _accepted(stored: Stored) -> Reply:
    """A twin still waiting on pricing: the order is taken, its outcome comes at its Location."""
    return Reply(
        202,
        json.dumps({"order_id": stored.resource_id, "status": "pending_payment"}),
        {"Location": f"/v1/orders/{stored.resource_id}", "Retry-After": "1"},
    )
