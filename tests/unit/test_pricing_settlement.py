"""Unit tests of the pure settlement: months, aggregation with refunds by period, the ledger audit, CSV and checksum."""

import csv
import io
import json
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.pricing.domain.settlement import (
    CSV_COLUMNS,
    LedgerSums,
    Line,
    PeriodError,
    aggregate,
    canonical,
    checksum,
    has_ended,
    parse_period,
    to_csv,
)


def line(
    *,
    sign: int = 1,
    operator: str = "op-a",
    funder: str | None = "xihu",
    site: str | None = "xihu",
    meals: int = 1,
    listed: int = 1200,
    age: int = 360,
    group: int = 0,
    city_share: int = 0,
) -> Line:
    subsidy = age + group
    city = (2 * subsidy * city_share + 100) // 200
    return Line(
        sign=sign,
        operator=operator,
        funder_district=funder,
        site_district=site,
        meals=meals,
        list_total_fen=listed,
        senior_paid_fen=listed - subsidy,
        age_discount_fen=age,
        group_subsidy_fen=group,
        city_part_fen=city,
        district_part_fen=subsidy - city,
    )


@pytest.mark.parametrize("text", ["2026-05", "2000-01", "2100-12"])
def test_a_month_is_yyyy_mm(text: str) -> None:
    assert parse_period(text) == text


MALFORMED_MONTHS = ["2026-13", "2026-00", "2026-1", "abc", "", "2026-05-01", "1999-12", "2101-01", "２０２６-05", " 2026-05"]
TRAILING = ["2026-05\n", "2026-05\r\n", "2026-05 "]  # "2026-05%0A" in a URL: `$` alone would match before the newline


@pytest.mark.parametrize("text", MALFORMED_MONTHS + TRAILING)
def test_malformed_months_are_refused(text: str) -> None:
    with pytest.raises(PeriodError):
        parse_period(text)


@pytest.mark.parametrize(
    ("period", "today", "ended"),
    [
        ("2026-04", date(2026, 5, 1), True),
        ("2026-05", date(2026, 5, 31), False),
        ("2026-06", date(2026, 5, 31), False),
        ("2025-12", date(2026, 1, 1), True),
    ],
)
def test_only_a_month_that_is_over_can_be_closed(period: str, today: date, ended: bool) -> None:
    assert has_ended(period, today) is ended


def test_rows_per_operator_and_funder_with_the_cross_district_matrix() -> None:
    lines = [
        line(operator="op-a", funder="xihu", site="xihu", meals=3, listed=3600, age=1080, city_share=30),
        line(operator="op-a", funder="shangcheng", site="xihu", meals=1, listed=1200, age=360, group=500),
        line(operator="op-b", funder="xihu", site="tonglu", meals=2, listed=2400, age=720, city_share=30),
        line(operator="op-b", funder=None, site="tonglu", meals=5, listed=6000, age=0),
    ]
    body = aggregate("2026-05", lines)
    assert [(r["operator"], r["funder_district"], r["meals"], r["subsidy_fen"]) for r in body["rows"]] == [
        ("op-a", "shangcheng", 1, 860),
        ("op-a", "xihu", 3, 1080),
        ("op-b", "xihu", 2, 720),
    ]
    assert {f["funder_district"]: (f["meals"], f["subsidy_fen"]) for f in body["by_funder"]} == {"shangcheng": (1, 860), "xihu": (5, 1800)}
    assert {o["operator"]: o["subsidy_fen"] for o in body["by_operator"]} == {"op-a": 1940, "op-b": 720}
    cells = {(c["site_district"], c["home_district"]): c["meals"] for c in body["matrix"]["cells"]}
    assert cells == {("xihu", "xihu"): 3, ("xihu", "shangcheng"): 1, ("tonglu", "xihu"): 2}
    assert body["matrix"]["site_districts"] == ["tonglu", "xihu"] and body["matrix"]["home_districts"] == ["shangcheng", "xihu"]
    assert body["totals"]["meals"] == 6 and body["totals"]["subsidy_fen"] == 2660
    assert body["totals"]["city_part_fen"] == 324 + 216 and body["totals"]["list_total_fen"] == 7200
    assert body["full_price"] == {"meals": 5, "list_total_fen": 6000, "senior_paid_fen": 6000}, "full-price meals are not settled"


def test_a_refund_is_a_negative_line_in_the_month_it_landed_in() -> None:
    charged_in_may = aggregate("2026-05", [line(meals=2, listed=2400, age=720)])
    refund_in_june = aggregate("2026-06", [line(sign=-1)])
    assert charged_in_may["totals"]["meals"] == 2, "the closed month keeps its charges"
    assert refund_in_june["rows"][0]["meals"] == -1 and refund_in_june["totals"]["subsidy_fen"] == -360
    both_in_may = aggregate("2026-05", [line(), line(sign=-1)])
    assert both_in_may["rows"] == [] and both_in_may["matrix"]["cells"] == [], "a meal charged and refunded in the month nets out"


def test_the_ledger_audit_catches_a_double_counted_claim() -> None:
    lines = [line(age=360, city_share=30)]  # subsidy 360: city 108, district 252
    good = aggregate("2026-05", lines, LedgerSums(360, 252, 108, 0))["ledger"]
    assert good["agrees"] is True
    doubled = aggregate("2026-05", lines, LedgerSums(720, 252, 108, 0))["ledger"]
    assert doubled["agrees"] is False
    unbalanced = aggregate("2026-05", lines, LedgerSums(360, 252, 108, 5))["ledger"]
    assert unbalanced["agrees"] is False


def test_sign_must_be_plus_or_minus_one() -> None:
    with pytest.raises(ValueError, match="sign"):
        aggregate("2026-05", [line(sign=2)])


def test_csv_has_one_line_per_row_then_the_total() -> None:
    body = aggregate("2026-05", [line(operator="op-a"), line(operator="op-b", funder="tonglu", age=600)])
    rows = list(csv.DictReader(io.StringIO(to_csv(body))))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    assert [(r["operator"], r["funder_district"], r["subsidy_fen"]) for r in rows] == [
        ("op-a", "xihu", "360"),
        ("op-b", "tonglu", "600"),
        ("total", "", "960"),
    ]
    assert all(r["period"] == "2026-05" for r in rows)


def test_the_checksum_covers_the_canonical_text_whatever_the_key_order() -> None:
    body = aggregate("2026-05", [line()])
    shuffled = json.loads(json.dumps(body))
    shuffled = dict(reversed(list(shuffled.items())))
    assert canonical(body) == canonical(shuffled)
    assert checksum(canonical(body)) == checksum(canonical(shuffled))
    assert len(checksum(canonical(body))) == 64
    changed = aggregate("2026-05", [line(age=361)])
    assert checksum(canonical(changed)) != checksum(canonical(body))


lines_strategy = st.lists(
    st.builds(
        line,
        sign=st.sampled_from([1, 1, 1, -1]),
        operator=st.sampled_from(["op-a", "op-b", "op-c"]),
        funder=st.sampled_from(["xihu", "shangcheng", "tonglu", None]),
        site=st.sampled_from(["xihu", "shangcheng", "tonglu"]),
        meals=st.integers(1, 20),
        listed=st.integers(1000, 5000),
        age=st.integers(0, 500),
        group=st.integers(0, 500),
        city_share=st.integers(0, 100),
    ),
    max_size=30,
)


@given(lines_strategy)
def test_every_view_of_the_month_adds_up_to_the_same_totals(lines: list[Line]) -> None:
    body = aggregate("2026-05", lines)
    totals = body["totals"]
    for view in ("rows", "by_funder", "by_operator"):
        for name in ("meals", "subsidy_fen", "city_part_fen", "district_part_fen", "list_total_fen"):
            assert sum(r[name] for r in body[view]) == totals[name], (view, name)
    assert sum(c["meals"] for c in body["matrix"]["cells"]) == totals["meals"]
    assert sum(c["subsidy_fen"] for c in body["matrix"]["cells"]) == totals["subsidy_fen"]
    assert totals["senior_paid_fen"] + totals["subsidy_fen"] == totals["list_total_fen"]
    assert totals["city_part_fen"] + totals["district_part_fen"] == totals["subsidy_fen"]
    assert totals["age_discount_fen"] + totals["group_subsidy_fen"] == totals["subsidy_fen"]
