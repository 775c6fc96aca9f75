"""Routes: checkout, orders, cancellation and quotes relayed to pricing."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response

from services.order import service
from services.order.api.schemas import (
    MaterializeOut,
    OrderOut,
    PlaceOrder,
    PortionsIn,
    PortionsOut,
    StandingOrderIn,
    StandingOrderOut,
    StandingOrderPatch,
    TillMenu,
    TillMenuItem,
)
from shared.auth import Principal, requires
from shared.db import SessionDep
from shared.events import Day, Id, MealSlot, QuoteRequest, QuoteResult, local_now
from shared.idempotency import require_key
from shared.problem import problem_response

router = APIRouter(prefix="/v1")
Till = Annotated[Principal, Depends(requires("pos", "admin"))]
Admin = Annotated[Principal, Depends(requires("admin"))]


def checkout(request: Request) -> service.Checkout:
    return request.app.state.checkout  # type: ignore[no-any-return]


@router.post(
    "/orders",
    status_code=201,
    response_model=OrderOut,
    tags=["orders"],
    responses={202: {"model": OrderOut, "description": "payment still pending; poll Location"}},
)
async def place_order(
    body: PlaceOrder, request: Request, principal: Till, idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None
) -> Response:
    """Checkout at a till: priced and charged by pricing; the same Idempotency-Key never charges twice."""
    key = require_key(idempotency_key)
    return (await checkout(request).place(principal=principal, key=key, body=body)).response()


@router.get("/orders/{order_id}", response_model=OrderOut, tags=["orders"])
async def get_order(order_id: uuid.UUID, session: SessionDep, principal: Till) -> OrderOut:
    order, lines = await service.load_order(session, order_id)
    principal.require_scope("pos", order.site_id)
    return service.order_out(order, lines)


@router.post(
    "/orders/{order_id}/cancel",
    response_model=OrderOut,
    tags=["orders"],
    responses={202: {"model": OrderOut, "description": "refund still pending"}},
)
async def cancel_order(order_id: uuid.UUID, request: Request, principal: Till) -> Response:
    """Cancel before the cut-off; the charge is refunded in full."""
    outcome = await checkout(request).cancel(principal=principal, order_id=order_id)
    if outcome.problem is not None:
        return problem_response(outcome.problem)
    status = 202 if outcome.order.status == "cancel_pending" else 200
    return Response(outcome.order.model_dump_json(), status_code=status, media_type="application/json")


@router.post("/quotes", response_model=QuoteResult, tags=["quotes"])
async def post_quote(body: QuoteRequest, request: Request, principal: Till) -> QuoteResult:
    """The breakdown the till shows before the senior pays (relayed to pricing.quote)."""
    return await checkout(request).quote(principal=principal, body=body)


def _standing_out(row: object) -> StandingOrderOut:
    return StandingOrderOut.model_validate(row, from_attributes=True)


@router.post("/standing-orders", response_model=StandingOrderOut, status_code=201, tags=["standing orders"])
async def post_standing_order(body: StandingOrderIn, session: SessionDep, principal: Till) -> StandingOrderOut:
    """A weekly pattern (days, slot, site, channel, items), turned into pre-orders ahead of each cut-off."""
    return _standing_out(await service.create_standing_order(session, body=body, principal=principal))


@router.get("/standing-orders", response_model=list[StandingOrderOut], tags=["standing orders"])
async def get_standing_orders(session: SessionDep, principal: Till, card_id: Id | None = None) -> list[StandingOrderOut]:
    return [_standing_out(r) for r in await service.list_standing_orders(session, principal=principal, card_id=card_id)]


@router.patch("/standing-orders/{standing_order_id}", response_model=StandingOrderOut, tags=["standing orders"])
async def patch_standing_order(
    standing_order_id: uuid.UUID, body: StandingOrderPatch, request: Request, principal: Till
) -> StandingOrderOut:
    """Pause from a date (until `resume_on`, or open-ended), resume, or stop (`active: false`).

    Pre-orders it already made for dates that are now paused (or all of them, when stopped) are cancelled and refunded,
    as long as their cut-off has not passed."""
    row = await checkout(request).update_standing_order(principal=principal, standing_order_id=standing_order_id, patch=body)
    return _standing_out(row)


@router.post("/standing-orders/materialize", response_model=MaterializeOut, tags=["standing orders"])
async def materialize(request: Request, _: Admin) -> MaterializeOut:
    """Run the scheduled materialisation now (it also runs by itself); running it twice creates nothing twice."""
    settings = request.app.state.settings
    return await checkout(request).materialize(now_local=local_now(settings.timezone), horizon_days=settings.standing_order_horizon_days)


@router.get("/sites/{site_id}/menu", response_model=TillMenu, tags=["till"])
async def get_till_menu(site_id: Id, service_date: Day, meal_slot: MealSlot, session: SessionDep, principal: Till) -> TillMenu:
    """The dishes a till can sell for a date and slot (the menu of the kitchen that supplies its site)."""
    principal.require_scope("pos", site_id)
    site = await service.get_site(session, site_id)
    items = await service.menu_for(session, site=site, service_date=service_date, meal_slot=meal_slot)
    left = await service.portions_left(session, service.Sitting(site_id, service_date, meal_slot))
    return TillMenu(
        site_id=site.site_id,
        site_name=site.name,
        site_kind=site.kind,
        service_date=service_date,
        meal_slot=meal_slot,
        items=[
            TillMenuItem.model_validate(
                {**i.model_dump(), "portions_left": left.get(i.menu_item_id), "sold_out": left.get(i.menu_item_id) == 0}
            )
            for i in items
        ],
    )


@router.put("/sites/{site_id}/availability/{service_date}/{meal_slot}/{menu_item_id}", response_model=PortionsOut, tags=["till"])
async def put_portions(
    site_id: Id, service_date: Day, meal_slot: MealSlot, menu_item_id: Id, body: PortionsIn, session: SessionDep, principal: Till
) -> PortionsOut:
    """How many more portions of a dish this site can sell (0 = sold out, null = no limit): a sale beyond it is 409 sold_out."""
    at = service.Sitting(site_id, service_date, meal_slot)
    left = await service.set_portions(session, principal=principal, at=at, menu_item_id=menu_item_id, left=body.portions_left)
    return PortionsOut(menu_item_id=menu_item_id, portions_left=left, sold_out=left == 0)
