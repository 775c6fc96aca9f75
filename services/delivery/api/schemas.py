"""Response bodies of the delivery API."""

import uuid
from datetime import date

from pydantic import BaseModel


class DeliveryLine(BaseModel):
    menu_item_id: str
    name: str
    qty: int
    diet_variant: str


class DeliveryOut(BaseModel):
    order_id: uuid.UUID
    site_id: str
    kitchen_id: str | None
    channel: str
    card_id: str | None
    recipient_name: str | None
    diets: list[str]
    allergens: list[str]
    emergency_contact: str | None
    status: str
    service_date: date
    meal_slot: str
    items: list[DeliveryLine]
