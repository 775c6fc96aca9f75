"""Request and response bodies of the order API."""

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from shared.events import Channel, Day, Id, MealSlot, PaymentMethod, Qty


class OrderItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    menu_item_id: Id
    qty: Qty
    diet_variant: str = Field(default="regular", max_length=16)


class PlaceOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site_id: Id
    card_id: Id | None = None
    channel: Channel
    service_date: Day
    meal_slot: MealSlot
    items: list[OrderItemIn] = Field(min_length=1, max_length=50)
    payment_method: PaymentMethod


class OrderItemOut(BaseModel):
    menu_item_id: str
    name: str
    qty: int
    diet_variant: str
    price_fen: int


class OrderOut(BaseModel):
    order_id: uuid.UUID
    status: str
    reason: str | None
    site_id: str
    kitchen_id: str
    card_id: str | None
    channel: str
    service_date: date
    meal_slot: str
    payment_method: str
    items: list[OrderItemOut]
    list_total_fen: int
    age_discount_fen: int
    group_subsidy_fen: int
    senior_pays_fen: int
    pay_percent: int
    funder_district: str | None
    city_part_fen: int
    district_part_fen: int
    reasons: list[str]
    wallet_balance_fen: int | None
    created_at: datetime
    updated_at: datetime


class StandingOrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    card_id: Id
    site_id: Id
    channel: Literal["pickup", "home_delivery"]
    meal_slot: MealSlot
    weekdays: list[Annotated[int, Field(strict=True)]] = Field(min_length=1, max_length=7, description="1 = Monday … 7 = Sunday")
    items: list[OrderItemIn] = Field(min_length=1, max_length=10)
    payment_method: PaymentMethod = "card_wallet"
    starts_on: Day
    pause_from: Day | None = None
    resume_on: Day | None = None


class StandingOrderPatch(BaseModel):
    """Pause (from a date, until a resume date or open-ended), resume, or stop a standing order."""

    model_config = ConfigDict(extra="forbid")
    pause_from: Day | None = None
    resume_on: Day | None = None
    active: StrictBool = True  # only what the request sets is applied; an explicit null is refused


class StandingOrderOut(BaseModel):
    standing_order_id: uuid.UUID
    card_id: str
    site_id: str
    channel: str
    meal_slot: str
    weekdays: list[int]
    items: list[OrderItemIn]
    payment_method: str
    starts_on: date
    pause_from: date | None
    resume_on: date | None
    active: bool


class MaterializeOut(BaseModel):
    created: int
    skipped: int
    orders: list[uuid.UUID]


class TillMenuItem(BaseModel):
    menu_item_id: str
    name: str
    price_fen: int
    diet_variants: list[str]
    allergens: list[str]
    portions_left: int | None = Field(default=None, description="what this site may still sell; null: no limit set")
    sold_out: bool = False


class PortionsIn(BaseModel):
    """How many more portions of a dish this site can sell: 0 marks it sold out, null lifts the limit."""

    model_config = ConfigDict(extra="forbid")
    portions_left: Annotated[int, Field(ge=0, le=100_000, strict=True)] | None


class PortionsOut(BaseModel):
    menu_item_id: str
    portions_left: int | None
    sold_out: bool


class TillMenu(BaseModel):
    """What a till sells: its site, and the menu of the kitchen that supplies it, for a date and slot."""

    site_id: str
    site_name: str
    site_kind: str
    service_date: date
    meal_slot: str
    items: list[TillMenuItem]
