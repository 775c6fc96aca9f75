"""Event and request/reply contracts (API.md "Events"): pydantic models, JSON on the wire."""

import re
import secrets
from datetime import UTC, date, datetime
from typing import Annotated, ClassVar, Literal, TypeVar
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from shared.money import Fen

MealSlot = Literal["breakfast", "lunch", "dinner"]
Channel = Literal["dine_in", "pickup", "home_delivery", "cart"]
PaymentMethod = Literal["card_wallet", "cash", "mobile"]
SiteKind = Literal["kitchen", "canteen", "meal_point", "cart"]
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
Qty = Annotated[int, Field(ge=1, le=500, strict=True)]  # a whole number: not 1.0, not true, not "1"
Cutoff = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="HH:MM, the city's time")]
_ISO_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _iso_day(value: object) -> object:
    """Dates are written YYYY-MM-DD; pydantic alone would read 0 or "86400" as seconds since 1970."""
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DAY.match(value)):
        return value
    raise ValueError("a date is written YYYY-MM-DD")


SERVICE_YEARS = (2000, 2100)


def _service_year(value: date) -> date:
    """The kitchen counts weeks back from a service date: year 1 or 9999 is a mistake, not a day to plan."""
    first, last = SERVICE_YEARS
    if not first <= value.year <= last:
        raise ValueError(f"a service date lies in the years {first}..{last}")
    return value


Day = Annotated[date, BeforeValidator(_iso_day)]  # any date written YYYY-MM-DD: a birth date, a policy's first day
ServiceDay = Annotated[Day, AfterValidator(_service_year)]  # the day a meal is served, in every API and event

STREAM_SUBJECTS = ["order.>", "catalog.>", "kitchen.>", "delivery.>", "food_safety.>", "card.>"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def local_now(tz: str) -> datetime:
    """Now in the city's time zone: service dates, cut-offs and months are local."""
    return utcnow().astimezone(ZoneInfo(tz))


def new_traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


class Contract(BaseModel):
    """Strict as written (a typo in a producer, an unknown field in an HTTP body fails); see `read_contract`."""

    model_config = ConfigDict(extra="forbid")


C = TypeVar("C", bound=BaseModel)


def read_contract(model: type[C], data: str | bytes) -> C:
    """What a service reads from another over NATS: fields a newer producer added are ignored (API.md: add fields freely)."""
    return model.model_validate_json(data, extra="ignore")


class Event(Contract):
    """A fact that happened; `event_id` is the JetStream Nats-Msg-Id."""

    SUBJECT: ClassVar[str]
    event_id: UUID = Field(default_factory=uuid4)
    occurred_at: datetime = Field(default_factory=utcnow)


# --- catalog (central-kitchen owns sites and menus) ---
class SiteUpserted(Event):
    SUBJECT: ClassVar[str] = "catalog.site.upserted.v1"
    site_id: Id
    name: str
    kind: SiteKind
    district: Id
    operator: Id
    lat: float
    lon: float
    supplied_by: Id | None
    kitchen_id: Id  # the kitchen at the root of the supply chain (itself for a kitchen)
    lunch_cutoff: Cutoff
    dinner_cutoff: Cutoff
    breakfast_cutoff: Cutoff = "06:00"
    walk_in_default: int = 0


class MenuItem(Contract):
    menu_item_id: Id
    name: str
    price_fen: Fen
    diet_variants: list[str] = Field(default_factory=lambda: ["regular"])
    allergens: list[str] = Field(default_factory=list)


class MenuPublished(Event):
    SUBJECT: ClassVar[str] = "catalog.menu.published.v1"
    kitchen_id: Id
    service_date: ServiceDay
    meal_slot: MealSlot
    items: list[MenuItem]


# --- cards (pricing owns them; no identity number ever leaves pricing) ---
class CardProfileUpdated(Event):
    SUBJECT: ClassVar[str] = "card.profile.updated.v1"
    card_id: Id
    name: str
    home_district: Id
    status: str
    diets: list[str] = Field(default_factory=list)
    allergens: list[str] = Field(default_factory=list)
    emergency_contact: str = ""


# --- orders ---
class OrderLine(Contract):
    menu_item_id: Id
    name: str
    qty: Qty
    diet_variant: str = "regular"
    price_fen: Fen


class OrderConfirmed(Event):
    SUBJECT: ClassVar[str] = "order.confirmed.v1"
    order_id: UUID
    site_id: Id
    kitchen_id: Id | None
    card_id: Id | None
    channel: Channel
    service_date: ServiceDay
    meal_slot: MealSlot
    items: list[OrderLine]
    list_total_fen: Fen
    senior_pays_fen: Fen
    payment_method: PaymentMethod


class OrderCancelled(Event):
    SUBJECT: ClassVar[str] = "order.cancelled.v1"
    order_id: UUID
    site_id: Id
    service_date: ServiceDay
    meal_slot: MealSlot
    reason: str = ""


class OrderFulfilled(Event):
    SUBJECT: ClassVar[str] = "order.fulfilled.v1"
    order_id: UUID


class OrderFailed(Event):
    SUBJECT: ClassVar[str] = "order.failed.v1"
    order_id: UUID
    reason: str


# --- kitchen ---
class BatchStatus(Event):
    SUBJECT: ClassVar[str] = "kitchen.batch.status.v1"
    batch_id: Id
    kitchen_id: Id
    menu_item_id: Id
    status: Literal["planned", "cooking", "cooked", "packed", "dispatched", "delivered"]
    cooked_at: datetime | None = None


class DispatchRequested(Event):
    SUBJECT: ClassVar[str] = "kitchen.dispatch.requested.v1"
    kitchen_id: Id
    service_date: ServiceDay
    meal_slot: MealSlot
    batch_ids: list[Id]
    cooked_at: datetime


# --- delivery ---
class StopDelivered(Event):
    SUBJECT: ClassVar[str] = "delivery.stop.delivered.v1"
    trip_id: Id
    stop_id: Id
    order_ids: list[UUID]
    temperature_c: float | None = None


class StopFailed(Event):
    SUBJECT: ClassVar[str] = "delivery.stop.failed.v1"
    trip_id: Id
    stop_id: Id
    order_ids: list[UUID]
    reason: str


class WelfareCheck(Event):
    SUBJECT: ClassVar[str] = "delivery.welfare_check.v1"
    trip_id: Id
    stop_id: Id
    card_id: Id
    emergency_contact: str
    note: str = ""


class FoodSafetyBreach(Event):
    SUBJECT: ClassVar[str] = "food_safety.breach.v1"
    kitchen_id: Id
    trip_id: Id
    stop_id: Id
    order_ids: list[UUID]
    detail: str


EVENT_TYPES: dict[str, type[Event]] = {
    cls.SUBJECT: cls
    for cls in (
        SiteUpserted,
        MenuPublished,
        CardProfileUpdated,
        OrderConfirmed,
        OrderCancelled,
        OrderFulfilled,
        OrderFailed,
        BatchStatus,
        DispatchRequested,
        StopDelivered,
        StopFailed,
        WelfareCheck,
        FoodSafetyBreach,
    )
}


# --- request/reply with pricing (NATS micro service "pricing") ---
QUOTE_SUBJECT = "pricing.quote"
CHARGE_SUBJECT = "pricing.charge"
REFUND_SUBJECT = "pricing.refund"


class QuoteLine(Contract):
    menu_item_id: Id
    qty: Qty


class QuoteRequest(Contract):
    site_id: Id
    card_id: Id | None = None
    service_date: ServiceDay
    meal_slot: MealSlot
    items: list[QuoteLine] = Field(min_length=1, max_length=50)


class PricedLine(Contract):
    menu_item_id: Id
    name: str
    qty: int
    price_fen: int


class QuoteResult(Contract):
    list_total_fen: int
    age_discount_fen: int
    group_subsidy_fen: int
    senior_pays_fen: int
    pay_percent: int
    funder_district: str | None
    city_part_fen: int
    district_part_fen: int
    reasons: list[str]
    lines: list[PricedLine] = Field(default_factory=list)
    kitchen_id: str | None = None
    wallet_balance_fen: int | None = None  # a quote: the card's wallet now; a charge: after this meal


class ChargeRequest(QuoteRequest):
    order_id: UUID
    payment_method: PaymentMethod


class ChargeResult(QuoteResult):
    order_id: UUID
    charged: bool


class RefundRequest(Contract):
    order_id: UUID
    reason: str = ""


class RefundResult(Contract):
    order_id: UUID
    refunded: bool
    refunded_fen: int
    wallet_balance_fen: int | None = None
