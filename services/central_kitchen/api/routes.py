"""Routes: sites, menus and production plans."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from services.central_kitchen import service
from services.central_kitchen.api.schemas import MenuIn, MenuOut, PlanLine, PlanOut, SiteIn, SiteOut
from shared.auth import Principal, requires
from shared.db import SessionDep
from shared.errors import Problem
from shared.events import Id, MealSlot, MenuItem, ServiceDay

router = APIRouter(prefix="/v1")
Admin = Annotated[Principal, Depends(requires("admin"))]
Staff = Annotated[Principal, Depends(requires("admin", "kitchen"))]


@router.put("/sites/{site_id}", response_model=SiteOut, tags=["sites"])
async def put_site(site_id: Id, body: SiteIn, session: SessionDep, request: Request, _: Admin) -> SiteOut:
    """Create or replace a site of the network (idempotent)."""
    site, _changed = await service.upsert_site(session, request.app.state.outbox, site_id=site_id, data=body.model_dump())
    return SiteOut.model_validate(site, from_attributes=True)


@router.get("/sites", response_model=list[SiteOut], tags=["sites"])
async def get_sites(session: SessionDep, _: Staff) -> list[SiteOut]:
    return [SiteOut.model_validate(s, from_attributes=True) for s in await service.list_sites(session)]


@router.get("/sites/{site_id}", response_model=SiteOut, tags=["sites"])
async def get_site(site_id: Id, session: SessionDep, _: Staff) -> SiteOut:
    return SiteOut.model_validate(await service.get_site(session, site_id), from_attributes=True)


@router.put("/menus/{kitchen_id}/{service_date}/{meal_slot}", response_model=MenuOut, tags=["menus"])
async def put_menu(
    kitchen_id: Id, service_date: ServiceDay, meal_slot: MealSlot, body: MenuIn, session: SessionDep, request: Request, _: Admin
) -> MenuOut:
    """Publish a kitchen's menu for a date and slot; its prices apply at every site it supplies."""
    items = body.contract_items()
    await service.publish_menu(
        session, request.app.state.outbox, kitchen_id=kitchen_id, service_date=service_date, meal_slot=meal_slot, items=items
    )
    return MenuOut(kitchen_id=kitchen_id, service_date=service_date, meal_slot=meal_slot, items=items)


@router.get("/menus/{kitchen_id}/{service_date}/{meal_slot}", response_model=MenuOut, tags=["menus"])
async def get_menu(kitchen_id: Id, service_date: ServiceDay, meal_slot: MealSlot, session: SessionDep, principal: Staff) -> MenuOut:
    principal.require_scope("kitchen", kitchen_id)  # a kitchen reads its own menus; admins any
    rows = await service.menu_items(session, kitchen_id=kitchen_id, service_date=service_date, meal_slot=meal_slot)
    items = [MenuItem.model_validate(r, from_attributes=True) for r in rows]
    if not items:
        raise Problem(404, "menu_not_published", f"no menu for {kitchen_id} {service_date} {meal_slot}")
    return MenuOut(kitchen_id=kitchen_id, service_date=service_date, meal_slot=meal_slot, items=items)


@router.get("/plans/{kitchen_id}/{service_date}/{meal_slot}", response_model=PlanOut, tags=["plans"])
async def get_plan(
    kitchen_id: Id, service_date: ServiceDay, meal_slot: MealSlot, session: SessionDep, request: Request, principal: Staff
) -> PlanOut:
    """What to cook: pre-orders per site, item and diet, plus walk-in forecasts and a safety buffer."""
    principal.require_scope("kitchen", kitchen_id)  # a kitchen plans its own production; admins any
    buffer = request.app.state.settings.plan_buffer_percent
    rows = await service.production_plan(
        session, kitchen_id=kitchen_id, service_date=service_date, meal_slot=meal_slot, buffer_percent=buffer
    )
    lines = [PlanLine(**r.__dict__) for r in rows]
    totals = {
        "preordered": sum(r.preordered for r in rows),
        "forecast": sum(r.forecast for r in rows),
        "to_cook": sum(r.to_cook for r in rows),
        "allergen_alerts": sum(r.allergen_alerts for r in rows),
    }
    return PlanOut(kitchen_id=kitchen_id, service_date=service_date, meal_slot=meal_slot, buffer_percent=buffer, lines=lines, totals=totals)
