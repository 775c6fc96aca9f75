"""The shared contracts: service dates in 2000..2100; what comes over NATS may carry fields this code does not know yet."""

import json
import uuid
from datetime import date

import pytest
from pydantic import BaseModel, ValidationError

from services.central_kitchen.api.schemas import MenuIn
from services.central_kitchen.domain.rules import same_weekday_before
from shared.events import Day, MenuPublished, OrderConfirmed, QuoteRequest, ServiceDay, read_contract


class Served(BaseModel):
    day: ServiceDay


class Born(BaseModel):
    day: Day


@pytest.mark.parametrize("day", ["2000-01-01", "2026-06-17", "2100-12-31"])
def test_a_service_date_in_2000_to_2100_is_accepted(day: str) -> None:
    assert Served.model_validate({"day": day}).day == date.fromisoformat(day)


@pytest.mark.parametrize("day", ["0001-01-05", "1999-12-31", "2101-01-01", "9999-12-31", date(1, 1, 1)])
def test_a_service_date_outside_2000_to_2100_is_refused(day: object) -> None:
    with pytest.raises(ValidationError, match=r"2000\.\.2100"):
        Served.model_validate({"day": day})


def test_a_plain_day_still_takes_a_birth_date() -> None:
    assert Born.model_validate({"day": "1950-03-08"}).day == date(1950, 3, 8)


def test_events_carry_service_dates() -> None:
    with pytest.raises(ValidationError):
        MenuPublished(kitchen_id="k", service_date=date(1, 1, 5), meal_slot="lunch", items=[])


def _order_confirmed_json() -> dict[str, object]:
    line = {"menu_item_id": "set-a", "name": "套餐A", "qty": 1, "price_fen": 1200}
    event = OrderConfirmed.model_validate(
        {
            "order_id": str(uuid.uuid4()),
            "site_id": "ct-a",
            "kitchen_id": "ck-t",
            "card_id": None,
            "channel": "pickup",
            "service_date": "2026-06-17",
            "meal_slot": "lunch",
            "items": [line],
            "list_total_fen": 1200,
            "senior_pays_fen": 840,
            "payment_method": "cash",
        }
    )
    return json.loads(event.model_dump_json())  # type: ignore[no-any-return]


def test_an_event_read_from_nats_ignores_fields_added_by_a_newer_producer() -> None:
    newer = _order_confirmed_json() | {"loyalty_points": 3}
    newer["items"][0]["spice_level"] = 2  # type: ignore[index]
    event = read_contract(OrderConfirmed, json.dumps(newer))
    assert event.items[0].menu_item_id == "set-a" and "loyalty_points" not in event.model_dump()


def test_the_same_models_stay_strict_where_written_or_sent_over_http() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        OrderConfirmed.model_validate_json(json.dumps(_order_confirmed_json() | {"loyalty_points": 3}))
    quote = {"site_id": "s", "service_date": "2026-06-17", "meal_slot": "lunch", "items": [{"menu_item_id": "m", "qty": 1}]}
    with pytest.raises(ValidationError, match="Extra inputs"):
        QuoteRequest.model_validate(quote | {"discount": 100})  # the body of POST /v1/quotes
    item = {"menu_item_id": "m", "name": "饭", "price_fen": 100, "spicy": True}
    with pytest.raises(ValidationError, match="Extra inputs"):
        MenuIn.model_validate({"items": [item]})  # the body of PUT /v1/menus/...


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 6, 17), [date(2026, 5, 20), date(2026, 5, 27), date(2026, 6, 3), date(2026, 6, 10)]),
        (date(1, 1, 5), []),
        (date(1, 1, 20), [date(1, 1, 6), date(1, 1, 13)]),
    ],
)
def test_the_kitchen_looks_back_four_weeks_without_leaving_the_calendar(day: date, expected: list[date]) -> None:
    assert same_weekday_before(day, weeks=4) == expected
