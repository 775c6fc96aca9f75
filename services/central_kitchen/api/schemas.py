"""Request and response bodies of the central kitchen API."""

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from shared.events import Id, MealSlot, MenuItem, SiteKind

# a display name: no control characters (PostgreSQL rejects NUL in text, and no till shows them)
Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")]


class SiteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    kind: SiteKind
    district: Id
    operator: Id
    lat: float = Field(ge=-90, le=90, strict=True)
    lon: float = Field(ge=-180, le=180, strict=True)
    supplied_by: Id | None = None
    breakfast_cutoff: str = "06:00"  # HH:MM, checked by the service (invalid_cutoff)
    lunch_cutoff: str = "09:00"
    dinner_cutoff: str = "14:00"
    walk_in_default: int = Field(default=0, ge=0, le=10_000, strict=True)


class SiteOut(SiteIn):
    site_id: str
    kitchen_id: str


class MenuItemIn(MenuItem):
    """A dish as an administrator enters it: the shared contract with a checked name."""

    name: Name


class MenuIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[MenuItemIn] = Field(min_length=1, max_length=100)

    def contract_items(self) -> list[MenuItem]:
        return [MenuItem.model_validate(item.model_dump()) for item in self.items]


class MenuOut(BaseModel):
    items: list[MenuItem]
    kitchen_id: str
    service_date: date
    meal_slot: MealSlot


class PlanLine(BaseModel):
    site_id: str
    menu_item_id: str
    diet_variant: str
    preordered: int
    forecast: int
    to_cook: int
    allergen_alerts: int


class PlanOut(BaseModel):
    kitchen_id: str
    service_date: date
    meal_slot: MealSlot
    buffer_percent: int
    lines: list[PlanLine]
    totals: dict[str, int]
