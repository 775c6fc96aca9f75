"""Request and response bodies of the pricing API."""

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.money import Fen

IdNumber = Annotated[str, Field(pattern=r"^\d{17}[\dXx]$", description="18-character resident identity number")]
Percent = Annotated[int, Field(ge=0, le=100)]


class CardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=50)
    birth_date: date
    id_number: IdNumber
    home_district: str = Field(min_length=1, max_length=64)
    groups: list[str] = Field(default_factory=list, max_length=10)
    diets: list[str] = Field(default_factory=list, max_length=10)
    allergens: list[str] = Field(default_factory=list, max_length=10)
    emergency_contact: str = Field(default="", max_length=100)
    status: Literal["active", "suspended", "reported_lost"] = "active"


class CardOut(BaseModel):
    card_id: str
    name: str
    birth_date: date
    id_last4: str
    home_district: str
    groups: list[str]
    diets: list[str]
    allergens: list[str]
    emergency_contact: str
    status: str
    balance_fen: int
    updated_at: datetime


class TopupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount_fen: Annotated[int, Field(ge=1, le=1_000_000, description="at most 10,000 yuan per top-up")]


class TopupOut(BaseModel):
    card_id: str
    amount_fen: int
    balance_fen: int


class WalletOut(BaseModel):
    card_id: str
    balance_fen: int


class AgeTierIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_age: Annotated[int, Field(ge=0, le=150)]
    max_age: Annotated[int, Field(ge=0, le=150)] | None = None
    pay_percent: Percent


class CityPolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    effective_from: date
    age_tiers: list[AgeTierIn] = Field(min_length=1, max_length=20)
    per_slot_limit: Annotated[int, Field(ge=0, le=10)] = 1
    discount_cap_fen: Fen | None = None


class GroupSubsidyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    group: str = Field(min_length=1, max_length=32)
    amount_fen: Annotated[int, Field(ge=0, le=100_000)]
    min_spend_fen: Annotated[int, Field(ge=0, le=100_000)] = 0


class DistrictPolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    effective_from: date
    city_share_percent: Percent = 0
    group_subsidies: list[GroupSubsidyIn] = Field(default_factory=list, max_length=20)


class DistrictPolicyOut(DistrictPolicyIn):
    district: str
