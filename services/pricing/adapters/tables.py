"""Pricing's tables (its own registry and Alembic history)."""

import uuid
from datetime import date, datetime

from sqlalchemy import JSON, Column, Index, UniqueConstraint
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
    """Pricing's copy of the network (from catalog.site.upserted.v1)."""

    site_id: str = Field(primary_key=True, max_length=64)
    name: str
    kind: str = Field(max_length=16)
    district: str = Field(max_length=64)
    operator: str = Field(max_length=64)
    supplied_by: str | None = Field(default=None, max_length=64)
    kitchen_id: str = Field(max_length=64)


class MenuPrice(Row, table=True):
    """Pricing's copy of published menus (from catalog.menu.published.v1)."""

    __tablename__ = "menu_price"
    kitchen_id: str = Field(primary_key=True, max_length=64)
    service_date: date = Field(primary_key=True)
    meal_slot: str = Field(primary_key=True, max_length=16)
    menu_item_id: str = Field(primary_key=True, max_length=64)
    name: str
    price_fen: int


class Card(Row, table=True):
    card_id: str = Field(primary_key=True, max_length=64)
    name: str
    birth_date: date
    id_hash: str = Field(max_length=64)
    id_last4: str = Field(max_length=4)
    home_district: str = Field(max_length=64, index=True)
    groups: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    diets: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    allergens: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    emergency_contact: str = ""
    status: str = Field(default="active", max_length=16)
    balance_fen: int = 0
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CityPolicyVersion(Row, table=True):
    __tablename__ = "city_policy"
    effective_from: date = Field(primary_key=True)
    age_tiers: list[dict[str, int | None]] = Field(sa_column=Column(JSON, nullable=False))
    per_slot_limit: int = 1
    discount_cap_fen: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DistrictPolicyVersion(Row, table=True):
    __tablename__ = "district_policy"
    district: str = Field(primary_key=True, max_length=64)
    effective_from: date = Field(primary_key=True)
    city_share_percent: int = 0
    group_subsidies: list[dict[str, int | str]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Charge(Row, table=True):
    """One order's charge, keyed by order_id: the first result is the result."""

    __table_args__ = (Index("ix_charge_card_slot", "card_id", "service_date", "meal_slot"),)
    order_id: uuid.UUID = Field(primary_key=True)
    card_id: str | None = Field(default=None, max_length=64)
    site_id: str = Field(max_length=64)
    site_district: str | None = Field(default=None, max_length=64)  # where the meal was eaten, for the cross-district matrix
    operator: str = Field(max_length=64)
    funder_district: str | None = Field(default=None, max_length=64)
    service_date: date
    meal_slot: str = Field(max_length=16)
    payment_method: str = Field(max_length=16)
    list_total_fen: int
    age_discount_fen: int
    group_subsidy_fen: int
    senior_pays_fen: int
    city_part_fen: int
    district_part_fen: int
    pay_percent: int
    subsidised: bool = False
    group_name: str | None = Field(default=None, max_length=32)
    status: str = Field(default="charged", max_length=16)
    result: str  # the ChargeResult JSON returned the first time
    period: str = Field(max_length=7, index=True)  # the month whose settlement counts the charge
    refund_period: str | None = Field(default=None, max_length=7, index=True)  # the (open) month the refund landed in
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    refunded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    refund_result: str | None = None  # the RefundResult JSON returned the first time


class Posting(Row, table=True):
    """A double-entry line: debit positive, credit negative; each entry sums to zero."""

    id: int | None = Field(default=None, primary_key=True)
    entry: str = Field(max_length=80, index=True)  # charge:<order>, refund:<order>, topup:<key>
    account: str = Field(max_length=120, index=True)
    amount_fen: int
    period: str = Field(max_length=7, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Topup(Row, table=True):
    __table_args__ = (UniqueConstraint("card_id", "idempotency_key"),)
    id: int | None = Field(default=None, primary_key=True)
    card_id: str = Field(max_length=64, foreign_key="card.card_id")
    idempotency_key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    amount_fen: int
    balance_after_fen: int
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Statement(Row, table=True):
    """A closed month's settlement, frozen with a checksum."""

    period: str = Field(primary_key=True, max_length=7)
    body: str
    checksum: str = Field(max_length=64)
    closed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
