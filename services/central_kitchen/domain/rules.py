"""Site and menu rules and the production plan arithmetic (no I/O)."""

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from shared.catalog import ALLERGENS, DIET_VARIANTS, DISTRICTS
from shared.errors import Problem

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
# the chain 中央厨房 → 中心食堂 → 助餐点: central canteens also redistribute to meal points and carts
TOMBSTONE = "unknown"  # the channel of an order known only from its cancellation (it arrived before the confirmation)
SUPPLIERS: dict[str, set[str]] = {"canteen": {"kitchen"}, "meal_point": {"kitchen", "canteen"}, "cart": {"kitchen", "canteen"}}


def check_cutoff(name: str, value: str) -> None:
    if not _HHMM.fullmatch(value):  # match() with `$` would let "09:00\n" through
        raise Problem(422, "invalid_cutoff", f"{name} must be HH:MM (24h), got {value!r}")


def check_site(*, kind: str, district: str, supplied_by: str | None, supplier_kind: str | None, cutoffs: dict[str, str]) -> None:
    """A kitchen has no supplier; a canteen is supplied by a kitchen; meal points and carts by either."""
    if district not in DISTRICTS:
        raise Problem(422, "unknown_district", f"unknown district {district!r}")
    for name, value in cutoffs.items():
        check_cutoff(name, value)
    if kind == "kitchen":
        if supplied_by is not None:
            raise Problem(422, "invalid_supplier", "a kitchen is not supplied by another site")
        return
    if supplied_by is None:
        raise Problem(422, "invalid_supplier", f"a {kind} must name the kitchen that supplies it")
    if supplier_kind is None:
        raise Problem(422, "unknown_supplier", f"no site {supplied_by!r}")
    allowed = SUPPLIERS[kind]
    if supplier_kind not in allowed:
        raise Problem(422, "invalid_supplier", f"a {kind} is supplied by a {' or '.join(sorted(allowed))}, not a {supplier_kind}")


def check_menu_items(items: Sequence[tuple[str, list[str], list[str]]]) -> None:
    """(menu_item_id, diet_variants, allergens) rows: unique ids, known diets and allergens."""
    if not items:
        raise Problem(422, "empty_menu", "a menu needs at least one item")
    seen: set[str] = set()
    for item_id, diets, allergens in items:
        if item_id in seen:
            raise Problem(422, "duplicate_menu_item", f"{item_id!r} appears twice")
        seen.add(item_id)
        unknown = [d for d in diets if d not in DIET_VARIANTS]
        if unknown or not diets:
            raise Problem(422, "unknown_diet_variant", f"{item_id}: diet variants {unknown or diets} (known: {sorted(DIET_VARIANTS)})")
        bad = [a for a in allergens if a not in ALLERGENS]
        if bad:
            raise Problem(422, "unknown_allergen", f"{item_id}: allergens {bad} (known: {sorted(ALLERGENS)})")


@dataclass(frozen=True)
class PlanRow:
    site_id: str
    menu_item_id: str
    diet_variant: str
    preordered: int
    forecast: int
    to_cook: int
    allergen_alerts: int = 0  # pre-ordered portions whose diner is allergic to something in the dish


def same_weekday_before(day: date, weeks: int) -> list[date]:
    """The same weekday in each of the `weeks` weeks before `day`, oldest first; none before the calendar's first day."""
    return [day - timedelta(weeks=w) for w in range(weeks, 0, -1) if day.toordinal() - 7 * w >= date.min.toordinal()]


def walk_in_forecast(weekly_sales: Sequence[int], default: int) -> int:
    """Mean of the same weekday's dine-in sales over the last four weeks (rounded up), else the default."""
    recent = list(weekly_sales)[-4:]
    if not recent:
        return default
    return math.ceil(sum(recent) / len(recent))


def split_default(total: int, item_ids: Sequence[str]) -> dict[str, int]:
    """A site's default walk-in count spread evenly over the menu, remainder to the first items."""
    if not item_ids:
        return {}
    base, extra = divmod(total, len(item_ids))
    return {item: base + (1 if i < extra else 0) for i, item in enumerate(item_ids)}


def allergen_alerts(
    portions: Iterable[tuple[str, str, str, int, Sequence[str]]], item_allergens: dict[str, Sequence[str]]
) -> dict[tuple[str, str, str], int]:
    """(site, item, diet, qty, diner's allergens) → portions that would reach a diner allergic to the dish."""
    alerts: dict[tuple[str, str, str], int] = {}
    for site, item, diet, qty, allergic_to in portions:
        if set(allergic_to) & set(item_allergens.get(item, ())):
            alerts[(site, item, diet)] = alerts.get((site, item, diet), 0) + qty
    return alerts


def plan(
    *,
    preorders: Iterable[tuple[str, str, str, int]],
    forecasts: dict[tuple[str, str], int],
    buffer_percent: int,
    alerts: dict[tuple[str, str, str], int] | None = None,
) -> list[PlanRow]:
    """Per site, item and diet: pre-ordered + walk-in forecast (regular diet) with a safety buffer."""
    counts: dict[tuple[str, str, str], int] = {}
    for site, item, diet, qty in preorders:
        counts[(site, item, diet)] = counts.get((site, item, diet), 0) + qty
    for (site, item), _ in forecasts.items():
        counts.setdefault((site, item, "regular"), 0)
    rows = []
    for (site, item, diet), pre in sorted(counts.items()):
        forecast = forecasts.get((site, item), 0) if diet == "regular" else 0
        buffered = math.ceil(forecast * (100 + buffer_percent) / 100)
        rows.append(PlanRow(site, item, diet, pre, forecast, pre + buffered, (alerts or {}).get((site, item, diet), 0)))
    return rows
