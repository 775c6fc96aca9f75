"""The central kitchen's tables (its own registry and Alembic history)."""

import uuid
from datetime import date, datetime

from sqlalchemy import JSON, Column
from sqlalchemy.orm import registry as sa_registry
from sqlmodel import Field, SQLModel

from shared.events import utcnow
from shared.messaging.tables import UTCDateTime, define_messaging_tables

registry = sa_registry()
metadata = registry.metadata
messaging = define_messaging_tables(metadata)


class Row(SQLModel, registry=registry):
    """Base of this service's tables: its own metadata, its own Alembic history."""


class Site(Row, table=True):
    site_id: str = Field(primary_key=True, max_length=64)
    name: str
    kind: str = Field(max_length=16)
    district: str = Field(max_length=64)
    operator: str = Field(max_length=64)
    lat: float
    lon: float
    supplied_by: str | None = Field(default=None, max_length=64, index=True)
    kitchen_id: str = Field(max_length=64, index=True)
    breakfast_cutoff: str = "06:00"
    lunch_cutoff: str = "09:00"
    dinner_cutoff: str = "14:00"
    walk_in_default: int = 0
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MenuItem(Row, table=True):
    __tablename__ = "menu_item"
    kitchen_id: str = Field(primary_key=True, max_length=64)
    service_date: date = Field(primary_key=True)
    meal_slot: str = Field(primary_key=True, max_length=16)
    menu_item_id: str = Field(primary_key=True, max_length=64)
    position: int = 0
    name: str
    price_fen: int
    diet_variants: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    allergens: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    published_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class KitchenOrder(Row, table=True):
    """A confirmed order as the kitchen sees it: what to cook, for which site."""

    __tablename__ = "kitchen_order"
    order_id: uuid.UUID = Field(primary_key=True)
    site_id: str = Field(max_length=64)
    kitchen_id: str | None = Field(default=None, max_length=64, index=True)
    channel: str = Field(max_length=16)
    card_id: str | None = Field(default=None, max_length=64)
    service_date: date = Field(index=True)
    meal_slot: str = Field(max_length=16)
    status: str = Field(default="confirmed", max_length=16)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class KitchenOrderLine(Row, table=True):
    __tablename__ = "kitchen_order_line"
    order_id: uuid.UUID = Field(primary_key=True, foreign_key="kitchen_order.order_id")
    menu_item_id: str = Field(primary_key=True, max_length=64)
    diet_variant: str = Field(primary_key=True, max_length=16)
    qty: int


class Diner(Row, table=True):
    """A senior's diets and allergens as the kitchen needs them (from card.profile.updated.v1; nothing else)."""

    card_id: str = Field(primary_key=True, max_length=64)
    diets: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    allergens: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
