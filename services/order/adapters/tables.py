"""The order service's tables (its own registry and Alembic history)."""

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


class Site(Row, table=True):
    """The order service's copy of the network (from catalog.site.upserted.v1)."""

    site_id: str = Field(primary_key=True, max_length=64)
    name: str
    kind: str = Field(max_length=16)
    district: str = Field(max_length=64)
    operator: str = Field(max_length=64)
    supplied_by: str | None = Field(default=None, max_length=64)
    kitchen_id: str = Field(max_length=64)
    breakfast_cutoff: str = "06:00"
    lunch_cutoff: str = "09:00"
    dinner_cutoff: str = "14:00"


class MenuItem(Row, table=True):
    """The order service's copy of published menus (from catalog.menu.published.v1)."""

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


class MealOrder(Row, table=True):
    __tablename__ = "meal_order"
    __table_args__ = (
        Index("ix_meal_order_status_updated", "status", "updated_at"),
        Index("ix_meal_order_site_day", "site_id", "service_date", "meal_slot"),
    )
    order_id: uuid.UUID = Field(primary_key=True, default_factory=uuid.uuid4)
    site_id: str = Field(max_length=64, index=True)
    kitchen_id: str = Field(max_length=64)
    card_id: str | None = Field(default=None, max_length=64, index=True)
    channel: str = Field(max_length=16)
    service_date: date
    meal_slot: str = Field(max_length=16)
    payment_method: str = Field(max_length=16)
    status: str = Field(default="pending_payment", max_length=16)
    reason: str | None = Field(default=None, max_length=64)
    list_total_fen: int = 0
    age_discount_fen: int = 0
    group_subsidy_fen: int = 0
    senior_pays_fen: int = 0
    pay_percent: int = 100
    funder_district: str | None = Field(default=None, max_length=64)
    city_part_fen: int = 0
    district_part_fen: int = 0
    reasons: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    wallet_balance_fen: int | None = None
    charge_attempts: int = 0
    refund_due: bool = False  # a failed paid order waits here until pricing.refund answers
    standing_order_id: uuid.UUID | None = Field(default=None, index=True)
    created_by: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MealOrderLine(Row, table=True):
    __tablename__ = "meal_order_line"
    order_id: uuid.UUID = Field(primary_key=True, foreign_key="meal_order.order_id")
    line_no: int = Field(primary_key=True)
    menu_item_id: str = Field(max_length=64)
    name: str
    qty: int
    diet_variant: str = Field(default="regular", max_length=16)
    price_fen: int


class StandingOrder(Row, table=True):
    """A senior's weekly habit (the Meals-on-Wheels pattern), turned into pre-orders ahead of each cut-off."""

    __tablename__ = "standing_order"
    standing_order_id: uuid.UUID = Field(primary_key=True, default_factory=uuid.uuid4)
    card_id: str = Field(max_length=64, index=True)
    site_id: str = Field(max_length=64)
    channel: str = Field(max_length=16)
    meal_slot: str = Field(max_length=16)
    weekdays: list[int] = Field(sa_column=Column(JSON, nullable=False))  # 1 = Monday … 7 = Sunday
    items: list[dict[str, object]] = Field(sa_column=Column(JSON, nullable=False))
    payment_method: str = Field(max_length=16)
    starts_on: date
    pause_from: date | None = None
    resume_on: date | None = None
    active: bool = True
    created_by: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class StandingOrderRun(Row, table=True):
    """One materialisation per standing order, date and slot: the primary key makes it happen once."""

    __tablename__ = "standing_order_run"
    standing_order_id: uuid.UUID = Field(primary_key=True, foreign_key="standing_order.standing_order_id")
    service_date: date = Field(primary_key=True)
    order_id: uuid.UUID | None = None
    outcome: str = Field(default="created", max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Availability(Row, table=True):
    """How many portions of a dish a site may sell for a date and slot (set at its till); no row: no limit."""

    __tablename__ = "availability"
    site_id: str = Field(primary_key=True, max_length=64)
    service_date: date = Field(primary_key=True)
    meal_slot: str = Field(primary_key=True, max_length=16)
    menu_item_id: str = Field(primary_key=True, max_length=64)
    portions_total: int  # sold when it was set + what the till said was left
    updated_by: str = Field(default="", max_length=64)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
