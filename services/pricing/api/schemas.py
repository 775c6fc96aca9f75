"""Request and response bodies of the pricing API."""

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from shared.events import Day
from shared.money import Fen

IdNumber = Annotated[str, Field(pattern=r"^[0-9]{17}[0-9Xx]$", description="18-character resident identity number")]
# display text: no control characters (PostgreSQL rejects NUL in text, and no screen shows them)
PlainText = r"^[^\x00-\x1f\x7f]*$"
Percent = Annotated[int, Field(ge=0, le=100, strict=True)]


def _first_seen(codes: list[str]) -> list[str]:
    return list(dict.fromkeys(codes))


# a card's groups, diets or allergens: each stored once, in the order first given
Codes = Annotated[list[str], Field(max_length=10), AfterValidator(_first_seen)]


class CardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=50, pattern=PlainText)
    birth_date: Day
    id_number: IdNumber
    home_district: str = Field(min_length=1, max_length=64)
    groups: Codes = Field(default_factory=list)
    diets: Codes = Field(default_factory=list)
    allergens: Codes = Field(default_factory=list)
    emergency_contact: str = Field(default="", max_length=100, pattern=PlainText)
    status: Literal["active", "suspended", "reported_lost"] | None = Field(
        default=None, description="omitted (or null): the card keeps its status; a new card is active"
    )


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
    amount_fen: Annotated[int, Field(ge=1, le=1_000_000, strict=True, description="fen, a whole number; at most 10,000 yuan per top-up")]


class TopupOut(BaseModel):
    card_id: str
    amount_fen: int
    balance_fen: int


class WalletOut(BaseModel):
    card_id: str
    balance_fen: int


class AgeTierIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_age: Annotated[int, Field(ge=0, le=150, strict=True)]
    max_age: Annotated[int, Field(ge=0, le=150, strict=True)] | None = None
    pay_percent: Percent


class CityPolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    effective_from: Day
    age_tiers: list[AgeTierIn] = Field(min_length=1, max_length=20)
    per_slot_limit: Annotated[int, Field(ge=0, le=10, strict=True)] = 1
    discount_cap_fen: Fen | None = None


class GroupSubsidyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    group: str = Field(min_length=1, max_length=32)
    amount_fen: Annotated[int, Field(ge=0, le=100_000, strict=True)]
    min_spend_fen: Annotated[int, Field(ge=0, le=100_000, strict=True)] = 0


class DistrictPolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    effective_from: Day
    city_share_percent: Percent = 0
    group_subsidies: list[GroupSubsidyIn] = Field(default_factory=list, max_length=20)


class DistrictPolicyOut(DistrictPolicyIn):
    district: str


class TopupLine(BaseModel):
    amount_fen: int
    balance_after_fen: int
    created_at: datetime


class WalletWithTopups(WalletOut):
    recent_topups: list[TopupLine] = Field(default_factory=list, description="the latest top-ups, newest first")


class MealOut(BaseModel):
    """One of a card's charges, as the admin page lists them."""

    order_id: UUID
    service_date: date
    meal_slot: str
    site_id: str
    site_name: str | None
    site_district: str | None
    list_total_fen: int
    senior_pays_fen: int
    subsidy_fen: int
    group_subsidy_fen: int
    pay_percent: int
    payment_method: str
    status: Literal["charged", "refunded"]
    created_at: datetime
    refunded_at: datetime | None


class AgeTierOut(BaseModel):
    min_age: int
    max_age: int | None
    pay_percent: int


class CityPolicyOut(BaseModel):
    effective_from: date
    age_tiers: list[AgeTierOut]
    per_slot_limit: int
    discount_cap_fen: int | None
    in_force: bool = Field(description="the version that applies to meals served today")


class GroupSubsidyOut(BaseModel):
    group: str
    amount_fen: int
    min_spend_fen: int


class DistrictPolicyVersionOut(BaseModel):
    district: str
    effective_from: date
    city_share_percent: int
    group_subsidies: list[GroupSubsidyOut]
    in_force: bool = Field(description="the version that applies to meals served today")


class Amounts(BaseModel):
    meals: int
    list_total_fen: int
    senior_paid_fen: int
    age_discount_fen: int
    group_subsidy_fen: int
    subsidy_fen: int
    city_part_fen: int
    district_part_fen: int


class SettlementRow(Amounts):
    operator: str
    funder_district: str


class FunderRow(Amounts):
    funder_district: str


class OperatorRow(Amounts):
    operator: str


class MatrixCell(BaseModel):
    site_district: str = Field(description="where the meals were eaten")
    home_district: str = Field(description="where the seniors live (who funds their subsidy)")
    meals: int
    subsidy_fen: int


class Matrix(BaseModel):
    site_districts: list[str]
    home_districts: list[str]
    cells: list[MatrixCell]


class FullPrice(BaseModel):
    meals: int
    list_total_fen: int
    senior_paid_fen: int


class LedgerCheck(BaseModel):
    subsidy_receivable_fen: int = Field(description="operators' subsidy claims posted in the month")
    district_payable_fen: int
    city_payable_fen: int
    postings_sum_fen: int = Field(description="all postings of the month; always 0")
    agrees: bool = Field(description="claims = district + city payables = settled subsidy, each counted once")


class SettlementOut(BaseModel):
    """A month's settlement: subsidised meals per operator × funding (home) district; refunds count in the month they land in."""

    period: str
    currency: Literal["fen"]
    rows: list[SettlementRow]
    by_funder: list[FunderRow]
    by_operator: list[OperatorRow]
    matrix: Matrix
    totals: Amounts
    full_price: FullPrice
    ledger: LedgerCheck
    closed: bool
    checksum: str | None = Field(description="sha256 of the stored statement body (every field above but closed, checksum, closed_at)")
    closed_at: datetime | None
