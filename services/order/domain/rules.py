"""Ordering rules: which dates and slots may be sold, cut-offs, and the order state machine."""

from datetime import date, datetime, time, timedelta

from shared.errors import Problem

MAX_DAYS_AHEAD = 7
TRANSITIONS: dict[str, set[str]] = {
    "pending_payment": {"confirmed", "rejected"},
    "confirmed": {"cancel_pending", "fulfilled", "failed"},
    "cancel_pending": {"cancelled"},
    "rejected": set(),
    "cancelled": set(),
    "fulfilled": set(),
    "failed": set(),
}
PREORDER_CHANNELS = {"pickup", "home_delivery"}
SELLING_SITE_KINDS = {"canteen", "meal_point", "cart"}


def move(current: str, target: str) -> str:
    """The next status, or 409 when the order cannot go there from where it is."""
    if target not in TRANSITIONS.get(current, set()):
        raise Problem(409, "invalid_transition", f"an order that is {current} cannot become {target}", status_now=current)
    return target


def check_service_date(*, service_date: date, today: date, channel: str) -> None:
    """Walk-in and cart sales are for today; pre-orders up to seven days ahead, never the past."""
    if service_date < today:
        raise Problem(422, "service_date_in_past", f"{service_date} has passed")
    if (service_date - today).days > MAX_DAYS_AHEAD:
        raise Problem(422, "service_date_too_far", f"pre-orders are taken up to {MAX_DAYS_AHEAD} days ahead")
    if channel not in PREORDER_CHANNELS and service_date != today:
        raise Problem(422, "walk_in_today_only", f"{channel} sales are for today; use pickup or home_delivery to pre-order")


def check_channel(*, channel: str, site_kind: str) -> None:
    if site_kind not in SELLING_SITE_KINDS:
        raise Problem(422, "site_does_not_sell", f"a {site_kind} does not sell meals")
    if channel == "cart" and site_kind != "cart":
        raise Problem(422, "channel_not_offered", "cart sales are made at a mobile cart")
    if channel == "dine_in" and site_kind == "cart":
        raise Problem(422, "channel_not_offered", "a mobile cart sells with channel cart")


def parse_cutoff(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def before_cutoff(*, now_local: datetime, service_date: date, cutoff: str) -> bool:
    """True while pre-orders and cancellations for that date and slot are still taken."""
    if service_date > now_local.date():
        return True
    if service_date < now_local.date():
        return False
    return now_local.time() < parse_cutoff(cutoff)


def check_preorder_cutoff(*, channel: str, now_local: datetime, service_date: date, cutoff: str) -> None:
    if channel in PREORDER_CHANNELS and not before_cutoff(now_local=now_local, service_date=service_date, cutoff=cutoff):
        raise Problem(409, "cutoff_passed", f"pre-orders for {service_date} closed at {cutoff}")


def check_weekdays(weekdays: list[int]) -> list[int]:
    if not weekdays or any(d < 1 or d > 7 for d in weekdays) or len(set(weekdays)) != len(weekdays):
        raise Problem(422, "invalid_weekdays", "weekdays are distinct numbers 1 (Monday) to 7 (Sunday)")
    return sorted(weekdays)


def check_pause(pause_from: date | None, resume_on: date | None) -> None:
    if resume_on is not None and pause_from is None:
        raise Problem(422, "invalid_pause", "a resume date needs a pause date")
    if pause_from is not None and resume_on is not None and resume_on <= pause_from:
        raise Problem(422, "invalid_pause", "resume_on must be after pause_from")


def paused(day: date, pause_from: date | None, resume_on: date | None) -> bool:
    """Paused from `pause_from` (inclusive) until `resume_on` (exclusive; open-ended when None)."""
    if pause_from is None or day < pause_from:
        return False
    return resume_on is None or day < resume_on


def standing_dates(
    *, weekdays: list[int], starts_on: date, pause_from: date | None, resume_on: date | None, today: date, horizon_days: int
) -> list[date]:
    """The service dates, from today to the horizon, that a weekly pattern asks for."""
    days = [today + timedelta(days=n) for n in range(horizon_days + 1)]
    return [d for d in days if d >= starts_on and d.isoweekday() in weekdays and not paused(d, pause_from, resume_on)]
