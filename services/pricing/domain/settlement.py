"""Monthly settlement: who fronted which subsidy for whom, aggregated from charges and refunds of one period."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

PERIOD_PATTERN = re.compile(r"([0-9]{4})-([0-9]{2})")  # whole text only: fullmatch (a `$` would let "2026-05\n" through)
AMOUNTS = (
    "list_total_fen",
    "senior_paid_fen",
    "age_discount_fen",
    "group_subsidy_fen",
    "subsidy_fen",
    "city_part_fen",
    "district_part_fen",
)
CSV_COLUMNS = ("period", "operator", "funder_district", "meals", *AMOUNTS)


class PeriodError(ValueError):
    """A month that is not `yyyy-mm` (with a real month)."""


def parse_period(text: str) -> str:
    """The canonical `yyyy-mm`, or PeriodError for 2026-13, 2026-1, abc."""
    match = PERIOD_PATTERN.fullmatch(text)
    if match is None:
        raise PeriodError(f"{text!r} is not a month written yyyy-mm")
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        raise PeriodError(f"{text!r} has no month {month}")
    if not 2000 <= year <= 2100:
        raise PeriodError(f"{text!r} is outside 2000..2100")
    return f"{year:04d}-{month:02d}"


def period_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def has_ended(period: str, today: date) -> bool:
    """A month can be closed only once it is over (in the city's local time)."""
    return period < period_of(today)


@dataclass(frozen=True)
class Line:
    """Charges (sign +1) or refunds (sign -1) of one period sharing operator, funder and districts."""

    sign: int
    operator: str
    funder_district: str | None
    site_district: str | None
    meals: int
    list_total_fen: int
    senior_paid_fen: int
    age_discount_fen: int
    group_subsidy_fen: int
    city_part_fen: int
    district_part_fen: int

    @property
    def subsidy_fen(self) -> int:
        return self.age_discount_fen + self.group_subsidy_fen


@dataclass(frozen=True)
class LedgerSums:
    """What the postings of the period say, to audit the settlement against (each claim counted once)."""

    subsidy_receivable_fen: int
    district_payable_fen: int
    city_payable_fen: int
    postings_sum_fen: int


def _zero() -> dict[str, int]:
    return {"meals": 0, **dict.fromkeys(AMOUNTS, 0)}


def _add(acc: dict[str, int], line: Line) -> None:
    acc["meals"] += line.sign * line.meals
    for name in AMOUNTS:
        acc[name] += line.sign * int(getattr(line, name))


def _nonzero(acc: dict[str, int]) -> bool:
    return any(acc.values())


def _keyed(groups: dict[tuple[str, ...], dict[str, int]], names: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = [{**dict(zip(names, key, strict=True)), **acc} for key, acc in sorted(groups.items()) if _nonzero(acc)]
    return rows


def aggregate(period: str, lines: Iterable[Line], ledger: LedgerSums | None = None) -> dict[str, Any]:
    """The statement body: rows per operator × funder district, per funder, per operator, the cross-district matrix, totals.

    Only subsidised meals are settled (they have a funder); full-price meals are counted apart.
    A refund is a negative line in the period it landed in, so a closed month never changes.
    """
    rows: dict[tuple[str, ...], dict[str, int]] = defaultdict(_zero)
    by_funder: dict[tuple[str, ...], dict[str, int]] = defaultdict(_zero)
    by_operator: dict[tuple[str, ...], dict[str, int]] = defaultdict(_zero)
    cells: dict[tuple[str, ...], dict[str, int]] = defaultdict(_zero)
    totals, full_price = _zero(), _zero()
    for line in lines:
        if line.sign not in (1, -1):
            raise ValueError(f"sign must be +1 or -1, got {line.sign}")
        if line.funder_district is None:
            _add(full_price, line)
            continue
        _add(rows[(line.operator, line.funder_district)], line)
        _add(by_funder[(line.funder_district,)], line)
        _add(by_operator[(line.operator,)], line)
        _add(cells[(line.site_district or "unknown", line.funder_district)], line)
        _add(totals, line)
    matrix_cells = [
        {"site_district": site, "home_district": home, "meals": acc["meals"], "subsidy_fen": acc["subsidy_fen"]}
        for (site, home), acc in sorted(cells.items())
        if _nonzero(acc)
    ]
    body: dict[str, Any] = {
        "period": period,
        "currency": "fen",
        "rows": _keyed(rows, ("operator", "funder_district")),
        "by_funder": _keyed(by_funder, ("funder_district",)),
        "by_operator": _keyed(by_operator, ("operator",)),
        "matrix": {
            "site_districts": sorted({c["site_district"] for c in matrix_cells}),
            "home_districts": sorted({c["home_district"] for c in matrix_cells}),
            "cells": matrix_cells,
        },
        "totals": totals,
        "full_price": {k: full_price[k] for k in ("meals", "list_total_fen", "senior_paid_fen")},
    }
    if ledger is not None:
        body["ledger"] = ledger_check(totals, ledger)
    return body


def ledger_check(totals: dict[str, int], ledger: LedgerSums) -> dict[str, Any]:
    """The operators' claims, the districts' and the city's payables: equal to the settled subsidy, once each."""
    agrees = (
        ledger.postings_sum_fen == 0
        and ledger.subsidy_receivable_fen == totals["subsidy_fen"]
        and ledger.district_payable_fen == totals["district_part_fen"]
        and ledger.city_payable_fen == totals["city_part_fen"]
    )
    return {
        "subsidy_receivable_fen": ledger.subsidy_receivable_fen,
        "district_payable_fen": ledger.district_payable_fen,
        "city_payable_fen": ledger.city_payable_fen,
        "postings_sum_fen": ledger.postings_sum_fen,
        "agrees": agrees,
    }


def canonical(body: dict[str, Any]) -> str:
    """The exact text that is stored and checksummed: sorted keys, no spaces, UTF-8."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def checksum(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def to_csv(body: dict[str, Any]) -> str:
    """One line per operator × funder district, then a `total` line; amounts in fen."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in body["rows"]:
        writer.writerow([body["period"], *(row[c] for c in CSV_COLUMNS[1:])])
    totals = body["totals"]
    writer.writerow([body["period"], "total", "", *(totals[c] for c in CSV_COLUMNS[3:])])
    return out.getvalue()
