"""Routes: the delivery manifest (orders to carry, with each senior's diets)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.delivery import service
from services.delivery.api.schemas import DeliveryLine, DeliveryOut
from shared.auth import Principal, requires
from shared.db import SessionDep
from shared.events import Id, MealSlot, ServiceDay

router = APIRouter(prefix="/v1")
Staff = Annotated[Principal, Depends(requires("admin", "kitchen"))]


@router.get("/deliveries", response_model=list[DeliveryOut], tags=["deliveries"])
async def list_deliveries(
    session: SessionDep, principal: Staff, service_date: ServiceDay, meal_slot: MealSlot, kitchen_id: Annotated[Id | None, Query()] = None
) -> list[DeliveryOut]:
    """Confirmed orders that leave the kitchen by vehicle, with diets, allergens and emergency contacts."""
    if principal.role == "kitchen":
        kitchen_id = kitchen_id or principal.scope
        principal.require_scope("kitchen", kitchen_id or "")
    rows = await service.manifest(session, service_date=service_date, meal_slot=meal_slot, kitchen_id=kitchen_id)
    return [
        DeliveryOut(
            order_id=o.order_id,
            site_id=o.site_id,
            kitchen_id=o.kitchen_id,
            channel=o.channel,
            card_id=o.card_id,
            recipient_name=r.name if r else None,
            diets=list(r.diets) if r else [],
            allergens=list(r.allergens) if r else [],
            emergency_contact=r.emergency_contact if r else None,
            status=o.status,
            service_date=o.service_date,
            meal_slot=o.meal_slot,
            items=[DeliveryLine.model_validate(i) for i in o.items],
        )
        for o, r in rows
    ]
