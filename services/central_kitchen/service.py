"""Use cases of the central kitchen: take a session and the outbox, never commit."""

from datetime import date
from typing import Any

from sqlalchemy import delete, func
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.central_kitchen.adapters.tables import Diner, KitchenOrder, KitchenOrderLine, MenuItem, Site
from services.central_kitchen.domain import rules
from shared.errors import Problem
from shared.events import CardProfileUpdated, MenuPublished, OrderCancelled, OrderConfirmed, SiteUpserted, utcnow
from shared.events import MenuItem as MenuItemContract
from shared.messaging.outbox import Outbox

SITE_FIELDS = (
    "name",
    "kind",
    "district",
    "operator",
    "lat",
    "lon",
    "supplied_by",
    "breakfast_cutoff",
    "lunch_cutoff",
    "dinner_cutoff",
    "walk_in_default",
)


async def upsert_site(session: AsyncSession, outbox: Outbox, *, site_id: str, data: dict[str, Any]) -> tuple[Site, bool]:
    """Create or replace a site; publishes catalog.site.upserted.v1 when anything changed."""
    supplier: Site | None = None
    supplied_by = data.get("supplied_by")
    if isinstance(supplied_by, str):
        if supplied_by == site_id:
            raise Problem(422, "invalid_supplier", "a site cannot supply itself")
        supplier = await session.get(Site, supplied_by)
    rules.check_site(
        kind=str(data["kind"]),
        district=str(data["district"]),
        supplied_by=supplied_by if isinstance(supplied_by, str) else None,
        supplier_kind=supplier.kind if supplier else None,
        cutoffs={k: str(data[k]) for k in ("breakfast_cutoff", "lunch_cutoff", "dinner_cutoff")},
    )
    site = await session.get(Site, site_id)
    dependents = list((await session.exec(select(Site).where(col(Site.supplied_by) == site_id))).all())
    # every dependent must still accept the new kind as its supplier (not just the first one found)
    stranded = [d for d in dependents if data["kind"] not in rules.SUPPLIERS.get(str(d.kind), set())]
    if stranded:
        raise Problem(
            409,
            "supplier_in_use",
            f"{len(stranded)} sites supplied by {site_id} ({', '.join(sorted(d.site_id for d in stranded))}) "
            f"need it to stay a {site.kind if site else 'supplier'}",
        )
    kitchen_id = site_id if supplier is None else supplier.kitchen_id
    changed = site is None or site.kitchen_id != kitchen_id or any(getattr(site, f) != data[f] for f in SITE_FIELDS)
    if site is None:
        site = Site(site_id=site_id, kitchen_id=kitchen_id, **data)
        session.add(site)
    elif changed:
        for f in SITE_FIELDS:
            setattr(site, f, data[f])
        site.kitchen_id = kitchen_id
    if changed:
        site.updated_at = utcnow()
        await _announce(session, outbox, site)
        for dependent in dependents:  # a canteen moved to another kitchen takes its meal points along
            if dependent.kitchen_id != kitchen_id:
                dependent.kitchen_id = kitchen_id
                await _announce(session, outbox, dependent)
    return site, changed


async def _announce(session: AsyncSession, outbox: Outbox, site: Site) -> None:
    fields: dict[str, Any] = {f: getattr(site, f) for f in SITE_FIELDS}
    await outbox.publish(session, SiteUpserted(site_id=site.site_id, kitchen_id=site.kitchen_id, **fields))


async def get_site(session: AsyncSession, site_id: str) -> Site:
    site = await session.get(Site, site_id)
    if site is None:
        raise Problem(404, "unknown_site", f"no site {site_id!r}")
    return site


async def list_sites(session: AsyncSession) -> list[Site]:
    return list((await session.exec(select(Site).order_by(col(Site.site_id)))).all())


async def _kitchen(session: AsyncSession, kitchen_id: str) -> Site:
    site = await session.get(Site, kitchen_id)
    if site is None or site.kind != "kitchen":
        raise Problem(404, "unknown_kitchen", f"no kitchen {kitchen_id!r}")
    return site


async def publish_menu(
    session: AsyncSession, outbox: Outbox, *, kitchen_id: str, service_date: date, meal_slot: str, items: list[MenuItemContract]
) -> bool:
    """Replace the menu of a kitchen, date and slot; its prices become those of every site it supplies."""
    await _kitchen(session, kitchen_id)
    rules.check_menu_items([(i.menu_item_id, i.diet_variants, i.allergens) for i in items])
    current = await menu_items(session, kitchen_id=kitchen_id, service_date=service_date, meal_slot=meal_slot)
    if [_contract(m) for m in current] == items:
        return False
    await session.execute(
        delete(MenuItem).where(
            col(MenuItem.kitchen_id) == kitchen_id,
            col(MenuItem.service_date) == service_date,
            col(MenuItem.meal_slot) == meal_slot,
        )
    )
    for position, item in enumerate(items):
        session.add(MenuItem(kitchen_id=kitchen_id, service_date=service_date, meal_slot=meal_slot, position=position, **item.model_dump()))
    await outbox.publish(session, MenuPublished(kitchen_id=kitchen_id, service_date=service_date, meal_slot=meal_slot, items=items))
    return True


def _contract(row: MenuItem) -> MenuItemContract:
    return MenuItemContract(
        menu_item_id=row.menu_item_id,
        name=row.name,
        price_fen=row.price_fen,
        diet_variants=list(row.diet_variants),
        allergens=list(row.allergens),
    )


async def menu_items(session: AsyncSession, *, kitchen_id: str, service_date: date, meal_slot: str) -> list[MenuItem]:
    query = (
        select(MenuItem)
        .where(col(MenuItem.kitchen_id) == kitchen_id, col(MenuItem.service_date) == service_date, col(MenuItem.meal_slot) == meal_slot)
        .order_by(col(MenuItem.position))
    )
    return list((await session.exec(query)).all())


async def record_confirmed(session: AsyncSession, event: OrderConfirmed) -> None:
    """An order to cook for (the inbox makes a redelivery a no-op)."""
    if await session.get(KitchenOrder, event.order_id) is not None:
        return
    session.add(
        KitchenOrder(
            order_id=event.order_id,
            site_id=event.site_id,
            kitchen_id=event.kitchen_id,
            channel=event.channel,
            card_id=event.card_id,
            service_date=event.service_date,
            meal_slot=event.meal_slot,
        )
    )
    lines: dict[tuple[str, str], int] = {}
    for line in event.items:
        key = (line.menu_item_id, line.diet_variant)
        lines[key] = lines.get(key, 0) + line.qty
    for (item, diet), qty in lines.items():
        session.add(KitchenOrderLine(order_id=event.order_id, menu_item_id=item, diet_variant=diet, qty=qty))


async def record_diner(session: AsyncSession, event: CardProfileUpdated) -> None:
    """Keep what the kitchen must know about a senior: diets and allergens, for the plan's alerts and labels."""
    diner = await session.get(Diner, event.card_id)
    if diner is None:
        session.add(Diner(card_id=event.card_id, diets=list(event.diets), allergens=list(event.allergens)))
    else:
        diner.diets, diner.allergens, diner.updated_at = list(event.diets), list(event.allergens), utcnow()


async def record_cancelled(session: AsyncSession, event: OrderCancelled) -> None:
    """Consumers of different subjects race: a cancellation read first leaves a tombstone the confirmation respects."""
    order = await session.get(KitchenOrder, event.order_id)
    if order is None:
        session.add(
            KitchenOrder(
                order_id=event.order_id,
                site_id=event.site_id,
                channel=rules.TOMBSTONE,
                service_date=event.service_date,
                meal_slot=event.meal_slot,
                status="cancelled",
            )
        )
    else:
        order.status = "cancelled"


async def production_plan(
    session: AsyncSession, *, kitchen_id: str, service_date: date, meal_slot: str, buffer_percent: int
) -> list[rules.PlanRow]:
    """Pre-orders per site, item and diet, plus each supplied canteen's walk-in forecast."""
    await _kitchen(session, kitchen_id)
    pre = await session.execute(
        sa_select(
            col(KitchenOrder.site_id),
            col(KitchenOrderLine.menu_item_id),
            col(KitchenOrderLine.diet_variant),
            col(KitchenOrderLine.qty),
            col(Diner.allergens),
        )
        .join(KitchenOrderLine, col(KitchenOrderLine.order_id) == col(KitchenOrder.order_id))
        .outerjoin(Diner, col(Diner.card_id) == col(KitchenOrder.card_id))
        .where(
            col(KitchenOrder.kitchen_id) == kitchen_id,
            col(KitchenOrder.service_date) == service_date,
            col(KitchenOrder.meal_slot) == meal_slot,
            col(KitchenOrder.status) == "confirmed",
            col(KitchenOrder.channel) != "dine_in",
        )
    )
    portions = [(s, i, d, int(q), list(a or [])) for s, i, d, q, a in pre.all()]
    preorders = [(s, i, d, q) for s, i, d, q, _ in portions]
    menu = await menu_items(session, kitchen_id=kitchen_id, service_date=service_date, meal_slot=meal_slot)
    item_ids = [m.menu_item_id for m in menu]
    alerts = rules.allergen_alerts(portions, {m.menu_item_id: list(m.allergens) for m in menu})
    canteens = (await session.exec(select(Site).where(col(Site.kitchen_id) == kitchen_id, col(Site.kind) == "canteen"))).all()
    forecasts: dict[tuple[str, str], int] = {}
    for canteen in canteens:
        defaults = rules.split_default(canteen.walk_in_default, item_ids)
        for item in item_ids:
            history = await _weekly_dine_in(session, site_id=canteen.site_id, item=item, service_date=service_date, meal_slot=meal_slot)
            forecasts[(canteen.site_id, item)] = rules.walk_in_forecast(history, defaults.get(item, 0))
    return rules.plan(preorders=preorders, forecasts=forecasts, buffer_percent=buffer_percent, alerts=alerts)


async def _weekly_dine_in(session: AsyncSession, *, site_id: str, item: str, service_date: date, meal_slot: str) -> list[int]:
    """Dine-in sales of an item on the same weekday in each of the last four weeks that had any."""
    days = rules.same_weekday_before(service_date, weeks=4)
    rows = await session.execute(
        select(col(KitchenOrder.service_date), func.sum(KitchenOrderLine.qty))
        .join(KitchenOrderLine, col(KitchenOrderLine.order_id) == KitchenOrder.order_id)
        .where(
            col(KitchenOrder.site_id) == site_id,
            col(KitchenOrder.channel) == "dine_in",
            col(KitchenOrder.status) == "confirmed",
            col(KitchenOrder.meal_slot) == meal_slot,
            col(KitchenOrder.service_date).in_(days),
            col(KitchenOrderLine.menu_item_id) == item,
        )
        .group_by(col(KitchenOrder.service_date))
    )
    by_day = {d: int(q) for d, q in rows.all()}
    return [by_day[d] for d in days if d in by_day]
