"""Delivery use cases: take a session, never commit."""

from datetime import date
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.delivery.adapters.tables import DeliveryOrder, Recipient
from services.delivery.domain.rules import TOMBSTONE, needs_delivery
from shared.events import CardProfileUpdated, OrderCancelled, OrderConfirmed, utcnow


async def record_confirmed(session: AsyncSession, event: OrderConfirmed) -> None:
    if not needs_delivery(event.channel) or await session.get(DeliveryOrder, event.order_id) is not None:
        return
    session.add(
        DeliveryOrder(
            order_id=event.order_id,
            site_id=event.site_id,
            kitchen_id=event.kitchen_id,
            card_id=event.card_id,
            channel=event.channel,
            service_date=event.service_date,
            meal_slot=event.meal_slot,
            items=[line.model_dump() for line in event.items],
        )
    )


async def record_cancelled(session: AsyncSession, event: OrderCancelled) -> None:
    """Consumers of different subjects race: a cancellation read first leaves a tombstone the confirmation respects."""
    order = await session.get(DeliveryOrder, event.order_id)
    if order is None:
        session.add(
            DeliveryOrder(
                order_id=event.order_id,
                site_id=event.site_id,
                channel=TOMBSTONE,
                service_date=event.service_date,
                meal_slot=event.meal_slot,
                status="cancelled",
            )
        )
    else:
        order.status = "cancelled"


async def record_recipient(session: AsyncSession, event: CardProfileUpdated) -> None:
    fields: dict[str, Any] = {
        "name": event.name,
        "home_district": event.home_district,
        "diets": event.diets,
        "allergens": event.allergens,
        "emergency_contact": event.emergency_contact,
        "updated_at": utcnow(),
    }
    row = await session.get(Recipient, event.card_id)
    if row is None:
        session.add(Recipient(card_id=event.card_id, **fields))
    else:
        for key, value in fields.items():
            setattr(row, key, value)


async def manifest(
    session: AsyncSession, *, service_date: date, meal_slot: str, kitchen_id: str | None
) -> list[tuple[DeliveryOrder, Recipient | None]]:
    """Orders to carry for a date and slot, with each senior's diets, allergens and emergency contact."""
    query = select(DeliveryOrder, Recipient).outerjoin(Recipient, col(Recipient.card_id) == DeliveryOrder.card_id)
    query = query.where(col(DeliveryOrder.service_date) == service_date, col(DeliveryOrder.meal_slot) == meal_slot)
    if kitchen_id is not None:
        query = query.where(col(DeliveryOrder.kitchen_id) == kitchen_id)
    rows = await session.exec(query.order_by(col(DeliveryOrder.site_id), col(DeliveryOrder.received_at)))
    return [(order, recipient) for order, recipient in rows.all()]
