"""Money in fen with half-up rounding, and the pure ordering rules (dates, cut-offs, the order state machine)."""

from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.order.domain import rules
from shared.errors import Problem
from shared.money import percent_of, round_half_up, yuan


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [(0, 100, 0), (49, 100, 0), (50, 100, 1), (51, 100, 1), (149, 100, 1), (150, 100, 2), (1125, 10, 113), (7, 2, 4)],
)
def test_round_half_up(numerator: int, denominator: int, expected: int) -> None:
    assert round_half_up(numerator, denominator) == expected


def test_rounding_refuses_what_money_never_is() -> None:
    with pytest.raises(ValueError):
        round_half_up(-1, 2)
    with pytest.raises(ValueError):
        round_half_up(1, 0)


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=100))
def test_percent_of_is_within_half_a_fen_of_the_exact_value(amount: int, percent: int) -> None:
    exact = amount * percent / 100
    assert abs(percent_of(amount, percent) - exact) <= 0.5
    assert percent_of(amount, percent) + percent_of(amount, 100 - percent) in (amount, amount + 1)


def test_yuan_display() -> None:
    assert (yuan(1250), yuan(5), yuan(0), yuan(-340)) == ("12.50", "0.05", "0.00", "-3.40")


TODAY = date(2026, 12, 7)


@pytest.mark.parametrize(
    ("day", "channel", "code"),
    [
        (date(2026, 12, 6), "pickup", "service_date_in_past"),
        (date(2026, 12, 15), "pickup", "service_date_too_far"),
        (date(2026, 12, 8), "dine_in", "walk_in_today_only"),
        (date(2026, 12, 8), "cart", "walk_in_today_only"),
    ],
)
def test_dates_a_till_may_not_sell(day: date, channel: str, code: str) -> None:
    with pytest.raises(Problem) as refused:
        rules.check_service_date(service_date=day, today=TODAY, channel=channel)
    assert refused.value.code == code


@pytest.mark.parametrize(("day", "channel"), [(TODAY, "dine_in"), (TODAY, "pickup"), (date(2026, 12, 14), "home_delivery")])
def test_dates_a_till_may_sell(day: date, channel: str) -> None:
    rules.check_service_date(service_date=day, today=TODAY, channel=channel)


@pytest.mark.parametrize(
    ("now", "day", "open_"),
    [
        (datetime(2026, 12, 7, 8, 59), TODAY, True),
        (datetime(2026, 12, 7, 9, 0), TODAY, False),
        (datetime(2026, 12, 7, 23, 0), date(2026, 12, 8), True),
        (datetime(2026, 12, 7, 8, 0), date(2026, 12, 6), False),
    ],
)
def test_the_cutoff_closes_at_the_minute(now: datetime, day: date, open_: bool) -> None:
    assert rules.before_cutoff(now_local=now, service_date=day, cutoff="09:00") is open_


def test_dine_in_still_sells_after_the_cutoff_but_pre_orders_do_not() -> None:
    late = datetime(2026, 12, 7, 10, 0)
    rules.check_preorder_cutoff(channel="dine_in", now_local=late, service_date=TODAY, cutoff="09:00")
    with pytest.raises(Problem) as refused:
        rules.check_preorder_cutoff(channel="pickup", now_local=late, service_date=TODAY, cutoff="09:00")
    assert refused.value.status == 409 and refused.value.code == "cutoff_passed"


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("pending_payment", "confirmed"),
        ("pending_payment", "rejected"),
        ("confirmed", "cancel_pending"),
        ("cancel_pending", "cancelled"),
        ("confirmed", "fulfilled"),
        ("confirmed", "failed"),
    ],
)
def test_the_order_state_machine_allows(current: str, target: str) -> None:
    assert rules.move(current, target) == target


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("rejected", "confirmed"),
        ("cancelled", "confirmed"),
        ("fulfilled", "failed"),
        ("pending_payment", "cancelled"),
        ("failed", "fulfilled"),
    ],
)
def test_the_order_state_machine_refuses(current: str, target: str) -> None:
    with pytest.raises(Problem) as refused:
        rules.move(current, target)
    assert refused.value.status == 409 and refused.value.code == "invalid_transition"
