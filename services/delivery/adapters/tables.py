"""Delivery's tables (its own registry and Alembic history)."""

import uuid
from datetime import date, datetime

from sqlalchemy import JSON, Column, Index
from sqlalchemy.orm import registry as sa_registry
from sqlmodel import Field, SQLModel

from shared.events import utcnow
from shared.messaging.tables import UTCDateTime, define_messaging_tables

registry = sa_registry()
metadata = registry.metadata
messaging = define_messaging_tables(metadata)


class Row(SQLModel, registry=registry):
    """Base of this service's tables: its own metadata, its own Alembic history."""


class DeliveryOrder(Row, table=True):
    """A confirmed order that leaves the kitchen in a vehicle (from order.confirmed.v1)."""

    __tablename__ = "delivery_order"
    __table_args__ = (Index("ix_delivery_order_day", "kitchen_id", "service_date", "meal_slot"),)
    order_id: uuid.UUID = Field(primary_key=True)
    site_id: str = Field(max_length=64)
    kitchen_id: str | None = Field(default=None, max_length=64)
    card_id: str | None = Field(default=None, max_length=64)
    channel: str = Field(max_length=16)
    service_date: date
    meal_slot: str = Field(max_length=16)
    items: list[dict[str, object]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="to_deliver", max_length=16)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Recipient(Row, table=True):
    """What a driver must know about a senior (from card.profile.updated.v1; no identity number)."""

    card_id: str = Field(primary_key=True, max_length=64)
    name: str
    home_district: str = Field(max_length=64)
    diets: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    allergens: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    emergency_contact: str = ""
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
