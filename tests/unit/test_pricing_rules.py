"""Unit tests of the pure pricing rules (DOMAIN.md, "Default rules the software applies")."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.pricing.domain.rules import (
    DEFAULT_AGE_TIERS,
    AgeTier,
    CardFacts,
    CityPolicy,
    DistrictPolicy,
    GroupSubsidy,
    PolicyError,
    Posting,
    Quote,
    age_on,
    charge_postings,
    funder_postings,
    operator_postings,
    policy_in_force,
    quote,
    reverse,
    validate_age_tiers,
    validate_city_policy,
    validate_district_policy,
)

SERVICE = date(2025, 6, 15)
CITY = CityPolicy(effective_from=date(2024, 1, 1), age_tiers=DEFAULT_AGE_TIERS)
GROUPS = (
    GroupSubsidy("dibao", 500),
    GroupSubsidy("dibian", 300),
    GroupSubsidy("tekun", 1000),
    GroupSubsidy("shineng", 800, min_spend_fen=1500),
    GroupSubsidy("gaoling", 200, min_spend_fen=1000),
)
XIHU = DistrictPolicy("xihu", date(2024, 1, 1), group_subsidies=GROUPS)

# Birth dates whose age on SERVICE is in the name.
AGE_59 = date(1965, 6, 16)  # 60th birthday is tomorrow
AGE_60 = date(1965, 6, 15)  # 60th birthday today
AGE_69 = date(1955, 6, 16)
AGE_70 = date(1955, 6, 15)
AGE_79 = date(1945, 6, 16)
AGE_80 = date(1945, 6, 15)


def card(
    birth: date,
    *,
    groups: tuple[str, ...] = (),
    status: str = "active",
    district: str = "xihu",
) -> CardFacts:
    return CardFacts("C1", birth, district, groups, status)


def price(
    diner: CardFacts | None,
    *,
    list_total: int = 1400,
    service_date: date = SERVICE,
    city: CityPolicy = CITY,
    district: DistrictPolicy | None = XIHU,
    meals_in_slot: int = 0,
    used_today: bool = False,
) -> Quote:
    return quote(
        list_total_fen=list_total,
        service_date=service_date,
        card=diner,
        city_policy=city,
        district_policy=district,
        subsidised_meals_in_slot=meals_in_slot,
        group_subsidy_used_today=used_today,
    )


def full_price(list_total: int, reasons: tuple[str, ...]) -> Quote:
    return Quote(
        list_total_fen=list_total,
        age_discount_fen=0,
        group_subsidy_fen=0,
        senior_pays_fen=list_total,
        pay_percent=100,
        funder_district=None,
        city_part_fen=0,
        district_part_fen=0,
        reasons=reasons,
        subsidised=False,
        group=None,
    )


# --- age ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "on", "expected"),
    [
        (date(2000, 1, 1), date(2000, 1, 1), 0),
        (AGE_60, SERVICE - timedelta(days=1), 59),
        (AGE_60, SERVICE, 60),
        (date(2000, 2, 29), date(2001, 2, 28), 0),
        (date(2000, 2, 29), date(2001, 3, 1), 1),
        (date(2000, 2, 29), date(2004, 2, 28), 3),
        (date(2000, 2, 29), date(2004, 2, 29), 4),
        # 1900 is not a leap year although divisible by 4.
        (date(1840, 2, 29), date(1900, 2, 28), 59),
        (date(1840, 2, 29), date(1900, 3, 1), 60),
        (date(2000, 12, 31), date(2001, 12, 30), 0),
        (date(2000, 12, 31), date(2001, 12, 31), 1),
    ],
)
def test_age_on_counts_full_years(birth: date, on: date, expected: int) -> None:
    assert age_on(birth, on) == expected


def test_age_on_before_birth_is_an_error() -> None:
    with pytest.raises(ValueError, match="before birth"):
        age_on(date(2000, 1, 2), date(2000, 1, 1))


# --- age tiers in quote ---------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "pay_percent", "discount", "reasons", "subsidised"),
    [
        (AGE_59, 100, 0, ("under_age",), False),
        (AGE_60, 80, 280, (), True),
        (AGE_69, 80, 280, (), True),
        (AGE_70, 70, 420, (), True),
        (AGE_79, 70, 420, (), True),
        (AGE_80, 50, 700, (), True),
        (date(1920, 1, 1), 50, 700, (), True),
    ],
)
def test_age_tier_boundaries(
    birth: date,
    pay_percent: int,
    discount: int,
    reasons: tuple[str, ...],
    subsidised: bool,
) -> None:
    q = price(card(birth))
    assert q.pay_percent == pay_percent
    assert q.age_discount_fen == discount
    assert q.senior_pays_fen == 1400 - discount
    assert q.reasons == reasons
    assert q.subsidised is subsidised
    assert q.funder_district == ("xihu" if discount else None)


@pytest.mark.parametrize(
    ("birth", "service_date", "pay_percent", "reasons"),
    [
        # 70th birthday falls in a non-leap year: it counts from 1 March.
        (date(1956, 2, 29), date(2026, 2, 28), 80, ()),
        (date(1956, 2, 29), date(2026, 3, 1), 70, ()),
        # 60th birthday falls in a leap year: 29 February itself counts.
        (date(1964, 2, 29), date(2024, 2, 28), 100, ("under_age",)),
        (date(1964, 2, 29), date(2024, 2, 29), 80, ()),
    ],
)
def test_29_february_birthdays(birth: date, service_date: date, pay_percent: int, reasons: tuple[str, ...]) -> None:
    q = price(card(birth), service_date=service_date)
    assert q.pay_percent == pay_percent
    assert q.senior_pays_fen == 1400 * pay_percent // 100
    assert q.reasons == reasons


@pytest.mark.parametrize(
    ("list_total", "birth", "discount"),
    [
        (1234, AGE_60, 247),  # 246.8 rounds up
        (1236, AGE_60, 247),  # 247.2 rounds down
        (1235, AGE_70, 371),  # 370.5: half up, not to even
        (1237, AGE_80, 619),  # 618.5: half up, not to even
        (1, AGE_80, 1),  # 0.5 rounds up
        (1, AGE_60, 0),  # 0.2 rounds down
    ],
)
def test_age_discount_rounds_half_up(list_total: int, birth: date, discount: int) -> None:
    q = price(card(birth), list_total=list_total)
    assert q.age_discount_fen == discount
    assert q.senior_pays_fen == list_total - discount


def test_no_card_pays_full_price() -> None:
    assert price(None) == full_price(1400, ("no_card",))


@pytest.mark.parametrize(
    ("status", "reasons"),
    [
        ("suspended", ("card_inactive", "card_suspended")),
        ("reported_lost", ("card_inactive", "card_reported_lost")),
    ],
)
def test_inactive_card_gets_no_benefit(status: str, reasons: tuple[str, ...]) -> None:
    q = price(card(AGE_80, groups=("tekun",), status=status))
    assert q == full_price(1400, reasons)


def test_unknown_card_status_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown card status"):
        price(card(AGE_80, status="stolen"))


def test_age_above_every_tier_is_no_age_tier() -> None:
    city = CityPolicy(date(2024, 1, 1), (AgeTier(60, 69, 80), AgeTier(70, 79, 70)))
    assert price(card(AGE_80), city=city) == full_price(1400, ("no_age_tier",))
    assert price(card(AGE_79), city=city).pay_percent == 70


def test_age_below_a_raised_lowest_tier_is_under_age() -> None:
    city = CityPolicy(date(2024, 1, 1), (AgeTier(65, None, 80),))
    assert price(card(AGE_60), city=city) == full_price(1400, ("under_age",))


def test_unsorted_tiers_in_a_policy_still_price_correctly() -> None:
    city = CityPolicy(date(2024, 1, 1), tuple(reversed(DEFAULT_AGE_TIERS)))
    assert price(card(AGE_59), city=city).reasons == ("under_age",)
    assert price(card(AGE_70), city=city).pay_percent == 70


# --- cap and slot limit -----------------------------------------------------------


@pytest.mark.parametrize(
    ("cap", "discount"),
    [
        (None, 420),
        (2000, 420),
        (1400, 420),
        (1000, 300),  # 30% of the first 1000 only
        (5, 2),  # 1.5 rounds up
        (0, 0),
    ],
)
def test_discount_cap(cap: int | None, discount: int) -> None:
    city = dataclasses.replace(CITY, discount_cap_fen=cap)
    q = price(card(AGE_70), city=city)
    assert q.age_discount_fen == discount
    assert q.senior_pays_fen == 1400 - discount
    assert q.subsidised is (discount > 0)


PAYS_ALL_AT_60 = dataclasses.replace(CITY, age_tiers=(AgeTier(60, 69, 100), *DEFAULT_AGE_TIERS[1:]))


@pytest.mark.parametrize(
    ("case", "diner", "list_total", "city"),
    [
        ("a 0-fen dish", card(AGE_80), 0, CITY),
        ("a tier paying 100%", card(AGE_60), 1400, PAYS_ALL_AT_60),
        ("a discount cap of 0", card(AGE_70), 1400, dataclasses.replace(CITY, discount_cap_fen=0)),
    ],
)
def test_a_meal_without_any_subsidy_is_not_a_subsidised_meal(case: str, diner: CardFacts, list_total: int, city: CityPolicy) -> None:
    q = price(diner, list_total=list_total, city=city, district=None)
    assert (q.subsidy_fen, q.senior_pays_fen, q.subsidised, q.funder_district) == (0, list_total, False, None), case
    with_group = price(card(diner.birth_date, groups=("dibao",)), list_total=list_total, city=city)
    assert with_group.subsidised is (with_group.subsidy_fen > 0), "a group subsidy alone makes it a subsidised meal"


def test_zero_subsidy_names_no_funder() -> None:
    city = dataclasses.replace(CITY, discount_cap_fen=0)
    q = price(card(AGE_70), city=city)
    assert q.subsidy_fen == 0
    assert q.funder_district is None


@pytest.mark.parametrize(
    ("limit", "meals_in_slot", "pays", "reasons"),
    [
        (1, 0, 620, ()),
        (1, 1, 1400, ("slot_limit_reached",)),
        (1, 2, 1400, ("slot_limit_reached",)),
        (2, 1, 620, ()),
        (2, 2, 1400, ("slot_limit_reached",)),
        (0, 0, 1400, ("slot_limit_reached",)),
    ],
)
def test_per_slot_limit(limit: int, meals_in_slot: int, pays: int, reasons: tuple[str, ...]) -> None:
    city = dataclasses.replace(CITY, per_slot_limit=limit)
    q = price(card(AGE_60, groups=("dibao",)), city=city, meals_in_slot=meals_in_slot)
    assert q.senior_pays_fen == pays
    assert q.reasons == reasons
    if reasons:
        assert q == full_price(1400, reasons)
    else:
        assert (q.age_discount_fen, q.group_subsidy_fen, q.group) == (280, 500, "dibao")


# --- group subsidy ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "list_total", "groups", "used_today", "group", "amount", "reasons"),
    [
        # the largest, not the sum (500 + 300), whatever the order on the card
        (AGE_60, 1400, ("dibao", "dibian"), False, "dibao", 500, ()),
        (AGE_60, 1400, ("dibian", "dibao"), False, "dibao", 500, ()),
        (AGE_60, 1400, ("dibian", "tekun", "dibao"), False, "tekun", 1000, ()),
        # minimum spend
        (AGE_60, 1400, ("shineng",), False, None, 0, ("group_min_spend_not_met",)),
        (AGE_60, 1500, ("shineng",), False, "shineng", 800, ()),
        # min spend compares the list total, not the price after the age discount
        (AGE_60, 1000, ("gaoling",), False, "gaoling", 200, ()),
        (AGE_60, 999, ("gaoling",), False, None, 0, ("group_min_spend_not_met",)),
        # the larger group misses its min spend: the smaller eligible one applies
        (AGE_60, 1400, ("shineng", "dibian"), False, "dibian", 300, ()),
        # a group the district does not fund
        (AGE_60, 1400, ("veteran",), False, None, 0, ()),
        # once per service date
        (AGE_60, 1400, ("dibao",), True, None, 0, ("group_subsidy_used_today",)),
        (AGE_60, 1400, ("shineng",), True, None, 0, ("group_min_spend_not_met",)),
        # never below zero: 300 meal, 150 age discount, 1000 subsidy clipped to 150
        (AGE_80, 300, ("tekun",), False, "tekun", 150, ("group_subsidy_clipped",)),
        (AGE_80, 0, ("dibao",), False, None, 0, ("group_subsidy_clipped",)),
        # only a card holder who gets an age tier
        (AGE_59, 1400, ("tekun",), False, None, 0, ("under_age",)),
    ],
)
def test_group_subsidy(
    birth: date,
    list_total: int,
    groups: tuple[str, ...],
    used_today: bool,
    group: str | None,
    amount: int,
    reasons: tuple[str, ...],
) -> None:
    q = price(card(birth, groups=groups), list_total=list_total, used_today=used_today)
    assert q.group == group
    assert q.group_subsidy_fen == amount
    assert q.reasons == reasons
    assert q.senior_pays_fen == list_total - q.age_discount_fen - amount
    assert q.senior_pays_fen >= 0


def test_group_subsidy_clipped_leaves_senior_paying_zero() -> None:
    q = price(card(AGE_80, groups=("tekun",)), list_total=300)
    assert (q.age_discount_fen, q.group_subsidy_fen, q.senior_pays_fen) == (150, 150, 0)
    assert q.subsidy_fen == 300


def test_equal_group_amounts_pick_the_first_name() -> None:
    district = DistrictPolicy(
        "xihu",
        date(2024, 1, 1),
        group_subsidies=(GroupSubsidy("b_group", 400), GroupSubsidy("a_group", 400)),
    )
    for groups in [("a_group", "b_group"), ("b_group", "a_group")]:
        q = price(card(AGE_60, groups=groups), district=district)
        assert (q.group, q.group_subsidy_fen) == ("a_group", 400)


def test_no_district_policy_means_no_group_subsidy_and_no_city_share() -> None:
    q = price(card(AGE_60, groups=("dibao",)), district=None)
    assert (q.group, q.group_subsidy_fen, q.senior_pays_fen) == (None, 0, 1120)
    assert (q.city_part_fen, q.district_part_fen, q.funder_district) == (0, 280, "xihu")


def test_district_policy_must_be_the_home_district() -> None:
    other = dataclasses.replace(XIHU, district="binjiang")
    with pytest.raises(ValueError, match="binjiang"):
        price(card(AGE_60, district="xihu"), district=other)


# --- who pays what ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "list_total", "groups", "share", "subsidy", "city", "district"),
    [
        (AGE_80, 750, (), 30, 375, 113, 262),  # 112.5 rounds up
        (AGE_80, 750, (), 50, 375, 188, 187),  # 187.5 rounds up
        (AGE_80, 750, (), 0, 375, 0, 375),
        (AGE_80, 750, (), 100, 375, 375, 0),
        (AGE_60, 1400, ("dibao",), 30, 780, 234, 546),  # both subsidies are shared
        (AGE_60, 1234, (), 33, 247, 82, 165),  # 81.51 rounds up
    ],
)
def test_city_share_of_the_subsidy(
    birth: date,
    list_total: int,
    groups: tuple[str, ...],
    share: int,
    subsidy: int,
    city: int,
    district: int,
) -> None:
    policy = dataclasses.replace(XIHU, city_share_percent=share)
    q = price(card(birth, groups=groups), list_total=list_total, district=policy)
    assert q.subsidy_fen == subsidy
    assert (q.city_part_fen, q.district_part_fen) == (city, district)
    assert q.funder_district == "xihu"


def test_funder_is_the_home_district() -> None:
    policy = DistrictPolicy("yuhang", date(2024, 1, 1), city_share_percent=10)
    q = price(card(AGE_70, district="yuhang"), district=policy)
    assert q.funder_district == "yuhang"
    assert (q.city_part_fen, q.district_part_fen) == (42, 378)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"list_total": -1}, "list_total_fen"),
        ({"meals_in_slot": -1}, "subsidised_meals_in_slot"),
        ({"service_date": date(2023, 12, 31)}, "city policy"),
        (
            {"district": dataclasses.replace(XIHU, effective_from=date(2025, 7, 1))},
            "district policy",
        ),
    ],
)
def test_quote_rejects_bad_inputs(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"list_total": 1400, "service_date": SERVICE}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        price(card(AGE_60), **args)  # type: ignore[arg-type]


def test_quote_validates_the_policies() -> None:
    bad_city = dataclasses.replace(CITY, age_tiers=(AgeTier(60, None, 120),))
    with pytest.raises(PolicyError) as city_error:
        price(card(AGE_60), city=bad_city)
    assert city_error.value.code == "invalid_percent"
    bad_district = dataclasses.replace(XIHU, city_share_percent=-5)
    with pytest.raises(PolicyError) as district_error:
        price(card(AGE_60), district=bad_district)
    assert district_error.value.code == "invalid_percent"


# --- policy versions ---------------------------------------------------------------

V1 = CityPolicy(date(2024, 1, 1), DEFAULT_AGE_TIERS)
V2 = CityPolicy(date(2099, 1, 1), (AgeTier(60, None, 60),))


@pytest.mark.parametrize(
    ("service_date", "expected"),
    [
        (date(2023, 12, 31), None),
        (date(2024, 1, 1), V1),
        (SERVICE, V1),
        (date(2098, 12, 31), V1),
        # a future service date gets the future version, whatever today is
        (date(2099, 1, 1), V2),
        (date(2100, 6, 1), V2),
    ],
)
def test_policy_in_force_picks_by_service_date(service_date: date, expected: CityPolicy | None) -> None:
    assert policy_in_force([V1, V2], service_date) == expected
    assert policy_in_force([V2, V1], service_date) == expected


def test_policy_in_force_for_district_versions() -> None:
    old = DistrictPolicy("xihu", date(2024, 1, 1), city_share_percent=0)
    new = DistrictPolicy("xihu", date(2025, 6, 16), city_share_percent=40)
    assert policy_in_force((new, old), SERVICE) is old
    assert policy_in_force((new, old), SERVICE + timedelta(days=1)) is new
    assert policy_in_force((), SERVICE) is None


def test_policy_in_force_rejects_two_versions_on_the_deciding_day() -> None:
    twin = dataclasses.replace(V1, per_slot_limit=2)
    with pytest.raises(PolicyError) as error:
        policy_in_force([V1, twin], SERVICE)
    assert error.value.code == "policy_ambiguous"
    # the twins are superseded on this date, so the answer is not ambiguous
    assert policy_in_force([V1, twin, V2], date(2099, 1, 1)) is V2


def test_quote_uses_the_version_in_force_on_the_service_date() -> None:
    diner = card(date(2030, 1, 1))
    for service_date, pays in [(date(2098, 12, 31), 1120), (date(2099, 1, 1), 840)]:
        city = policy_in_force([V1, V2], service_date)
        assert city is not None
        assert price(diner, city=city, service_date=service_date).senior_pays_fen == pays


# --- policy validation -------------------------------------------------------------


@pytest.mark.parametrize(
    ("tiers", "code"),
    [
        ([], "age_tiers_invalid"),
        ([AgeTier(60, 69, 80), AgeTier(69, None, 70)], "age_tiers_overlap"),
        ([AgeTier(60, 69, 80), AgeTier(60, None, 50)], "age_tiers_overlap"),
        ([AgeTier(60, 69, 80), AgeTier(60, 69, 50)], "age_tiers_overlap"),
        ([AgeTier(60, 69, 80), AgeTier(71, None, 50)], "age_tiers_gap"),
        ([AgeTier(80, None, 50), AgeTier(60, 69, 80)], "age_tiers_gap"),
        ([AgeTier(60, None, 101)], "invalid_percent"),
        ([AgeTier(60, None, -1)], "invalid_percent"),
        ([AgeTier(60, None, 80), AgeTier(70, 79, 70)], "age_tiers_invalid"),
        ([AgeTier(60, None, 80), AgeTier(80, None, 50)], "age_tiers_invalid"),
        ([AgeTier(-1, 59, 100)], "age_tiers_invalid"),
        ([AgeTier(70, 60, 80)], "age_tiers_invalid"),
    ],
)
def test_validate_age_tiers_errors(tiers: list[AgeTier], code: str) -> None:
    with pytest.raises(PolicyError) as error:
        validate_age_tiers(tiers)
    assert error.value.code == code
    assert isinstance(error.value, ValueError)


@pytest.mark.parametrize(
    "tiers",
    [
        [AgeTier(60, None, 0)],
        [AgeTier(0, 59, 100), AgeTier(60, 60, 0)],
        [AgeTier(80, None, 50), AgeTier(70, 79, 70), AgeTier(60, 69, 80)],
    ],
)
def test_validate_age_tiers_sorts_valid_tiers(tiers: list[AgeTier]) -> None:
    assert validate_age_tiers(tiers) == tuple(sorted(tiers, key=lambda t: t.min_age))


@pytest.mark.parametrize(
    ("policy", "code"),
    [
        (dataclasses.replace(CITY, per_slot_limit=-1), "invalid_limit"),
        (dataclasses.replace(CITY, discount_cap_fen=-1), "invalid_amount"),
        (dataclasses.replace(CITY, age_tiers=()), "age_tiers_invalid"),
    ],
)
def test_validate_city_policy_errors(policy: CityPolicy, code: str) -> None:
    with pytest.raises(PolicyError) as error:
        validate_city_policy(policy)
    assert error.value.code == code


def test_validate_city_policy_returns_sorted_tiers() -> None:
    unsorted = dataclasses.replace(CITY, age_tiers=tuple(reversed(DEFAULT_AGE_TIERS)))
    assert validate_city_policy(unsorted) == CITY
    capped = validate_city_policy(dataclasses.replace(CITY, discount_cap_fen=0))
    assert capped.discount_cap_fen == 0


@pytest.mark.parametrize(
    ("policy", "code"),
    [
        (dataclasses.replace(XIHU, city_share_percent=101), "invalid_percent"),
        (dataclasses.replace(XIHU, city_share_percent=-1), "invalid_percent"),
        (
            dataclasses.replace(XIHU, group_subsidies=(GroupSubsidy("dibao", -1),)),
            "invalid_amount",
        ),
        (
            dataclasses.replace(XIHU, group_subsidies=(GroupSubsidy("dibao", 5, -1),)),
            "invalid_amount",
        ),
        (
            dataclasses.replace(
                XIHU,
                group_subsidies=(GroupSubsidy("dibao", 5), GroupSubsidy("dibao", 9)),
            ),
            "duplicate_group",
        ),
        (
            dataclasses.replace(XIHU, group_subsidies=(GroupSubsidy("", 5),)),
            "invalid_group",
        ),
        (dataclasses.replace(XIHU, district=""), "invalid_district"),
    ],
)
def test_validate_district_policy_errors(policy: DistrictPolicy, code: str) -> None:
    with pytest.raises(PolicyError) as error:
        validate_district_policy(policy)
    assert error.value.code == code


def test_validate_district_policy_accepts_limits() -> None:
    for share in (0, 100):
        policy = dataclasses.replace(XIHU, city_share_percent=share)
        assert validate_district_policy(policy) == policy


# --- ledger postings ---------------------------------------------------------------


def test_wallet_charge_postings() -> None:
    policy = dataclasses.replace(XIHU, city_share_percent=30)
    q = price(card(AGE_80), list_total=750, district=policy)
    postings = charge_postings(quote=q, payment_method="card_wallet", card_id="C1", operator="op1")
    assert postings == (
        Posting("senior_wallet:C1", 375),
        Posting("subsidy_receivable:op1", 375),
        Posting("operator_revenue:op1", -750),
        Posting("subsidy_expense:xihu", 262),
        Posting("district_payable:xihu", -262),
        Posting("subsidy_expense:city", 113),
        Posting("city_payable", -113),
    )


def test_cash_charge_without_card_has_no_subsidy_postings() -> None:
    postings = charge_postings(quote=price(None), payment_method="cash", card_id=None, operator="op1")
    assert postings == (
        Posting("cash:op1", 1400),
        Posting("operator_revenue:op1", -1400),
    )


def test_mobile_charge_omits_zero_city_part() -> None:
    postings = charge_postings(quote=price(card(AGE_60)), payment_method="mobile", card_id="C1", operator="op2")
    assert postings == (
        Posting("mobile:op2", 1120),
        Posting("subsidy_receivable:op2", 280),
        Posting("operator_revenue:op2", -1400),
        Posting("subsidy_expense:xihu", 280),
        Posting("district_payable:xihu", -280),
    )


def test_fully_subsidised_meal_has_no_payment_posting() -> None:
    q = price(card(AGE_80, groups=("tekun",)), list_total=300)
    till = operator_postings(quote=q, payment_method="cash", card_id=None, operator="o")
    assert till == (
        Posting("subsidy_receivable:o", 300),
        Posting("operator_revenue:o", -300),
    )
    assert funder_postings(quote=q) == (
        Posting("subsidy_expense:xihu", 300),
        Posting("district_payable:xihu", -300),
    )


def test_free_meal_has_no_postings() -> None:
    q = price(None, list_total=0)
    assert charge_postings(quote=q, payment_method="cash", card_id=None, operator="o") == ()


@pytest.mark.parametrize(
    ("payment_method", "card_id", "operator", "message"),
    [
        ("cheque", "C1", "op1", "payment method"),
        ("card_wallet", None, "op1", "card_id"),
        ("card_wallet", "", "op1", "card_id"),
        ("cash", None, "", "operator"),
    ],
)
def test_charge_postings_rejects_bad_inputs(payment_method: str, card_id: str | None, operator: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        charge_postings(
            quote=price(card(AGE_60)),
            payment_method=payment_method,
            card_id=card_id,
            operator=operator,
        )


@pytest.mark.parametrize(
    "change",
    [
        {"senior_pays_fen": 1121},
        {"city_part_fen": 1},
        {"funder_district": None},
        {"senior_pays_fen": -1, "age_discount_fen": 1401},
    ],
)
def test_charge_postings_rejects_a_quote_that_does_not_add_up(
    change: dict[str, object],
) -> None:
    bad = dataclasses.replace(price(card(AGE_60)), **change)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="quote"):
        charge_postings(quote=bad, payment_method="cash", card_id=None, operator="o")


def test_reverse_negates_each_posting() -> None:
    postings = (Posting("cash:o", 1120), Posting("operator_revenue:o", -1120))
    assert reverse(postings) == (
        Posting("cash:o", -1120),
        Posting("operator_revenue:o", 1120),
    )
    assert reverse(()) == ()


# --- properties --------------------------------------------------------------------

GROUP_NAMES = ("dibao", "dibian", "tekun", "shineng", "gaoling")
HOME = "xihu"


@st.composite
def age_tiers(draw: st.DrawFn) -> tuple[AgeTier, ...]:
    count = draw(st.integers(1, 4))
    start = draw(st.integers(0, 90))
    tiers: list[AgeTier] = []
    for index in range(count):
        last = index == count - 1
        width = draw(st.integers(1, 30))
        open_ended = last and draw(st.booleans())
        end = None if open_ended else start + width - 1
        tiers.append(AgeTier(start, end, draw(st.integers(0, 100))))
        start += width
    return tuple(tiers)


@st.composite
def district_policies(draw: st.DrawFn) -> DistrictPolicy | None:
    if draw(st.booleans()):
        return None
    names = draw(st.lists(st.sampled_from(GROUP_NAMES), unique=True))
    subsidies = tuple(GroupSubsidy(name, draw(st.integers(0, 5000)), draw(st.integers(0, 5000))) for name in names)
    share = draw(st.integers(0, 100))
    return DistrictPolicy(HOME, date(1900, 1, 1), share, subsidies)


@st.composite
def cards(draw: st.DrawFn, service_date: date) -> CardFacts:
    birth = draw(st.dates(date(1890, 1, 1), service_date))
    groups = tuple(draw(st.lists(st.sampled_from((*GROUP_NAMES, "veteran")))))
    status = draw(st.sampled_from(("active", "active", "suspended", "reported_lost")))
    return CardFacts("C9", birth, HOME, groups, status)


@st.composite
def quote_inputs(draw: st.DrawFn, default_tiers: bool = False) -> dict[str, object]:
    service_date = draw(st.dates(date(2000, 1, 1), date(2100, 12, 31)))
    tiers = DEFAULT_AGE_TIERS if default_tiers else draw(age_tiers())
    city = CityPolicy(
        date(1900, 1, 1),
        tiers,
        per_slot_limit=draw(st.integers(0, 3)),
        discount_cap_fen=draw(st.none() | st.integers(0, 50_000)),
    )
    return {
        "list_total_fen": draw(st.integers(0, 50_000)),
        "service_date": service_date,
        "card": draw(st.none() | cards(service_date)),
        "city_policy": city,
        "district_policy": draw(district_policies()),
        "subsidised_meals_in_slot": draw(st.integers(0, 3)),
        "group_subsidy_used_today": draw(st.booleans()),
    }


def _quote(inputs: dict[str, object]) -> Quote:
    return quote(**inputs)  # type: ignore[arg-type]


@given(quote_inputs())
def test_property_amounts_add_up_and_stay_in_range(inputs: dict[str, object]) -> None:
    q = _quote(inputs)
    assert q.senior_pays_fen + q.age_discount_fen + q.group_subsidy_fen == q.list_total_fen
    assert 0 <= q.senior_pays_fen <= q.list_total_fen
    assert q.age_discount_fen >= 0
    assert q.group_subsidy_fen >= 0
    assert q.subsidised is (q.subsidy_fen > 0), "only a meal that got a subsidy counts against the per-slot limit"
    if q.group is None:
        assert q.group_subsidy_fen == 0


@given(quote_inputs())
def test_property_funder_split_adds_up(inputs: dict[str, object]) -> None:
    q = _quote(inputs)
    assert q.city_part_fen + q.district_part_fen == q.subsidy_fen
    assert q.city_part_fen >= 0
    assert q.district_part_fen >= 0
    assert (q.funder_district is None) == (q.subsidy_fen == 0)
    if q.funder_district is not None:
        assert q.funder_district == HOME


@given(
    quote_inputs(default_tiers=True),
    st.dates(date(1890, 1, 1), date(2000, 1, 1)),
    st.dates(date(1890, 1, 1), date(2000, 1, 1)),
)
def test_property_older_senior_never_pays_more(inputs: dict[str, object], birth_a: date, birth_b: date) -> None:
    diner = CardFacts("C9", date(2000, 1, 1), HOME, ("dibao", "tekun", "shineng"))
    older, younger = sorted((birth_a, birth_b))
    older_q = _quote({**inputs, "card": dataclasses.replace(diner, birth_date=older)})
    younger_q = _quote({**inputs, "card": dataclasses.replace(diner, birth_date=younger)})
    assert older_q.senior_pays_fen <= younger_q.senior_pays_fen


@given(
    quote_inputs(),
    st.sampled_from(("card_wallet", "cash", "mobile")),
    st.sampled_from(("op1", "site-7")),
)
def test_property_charge_postings_balance(inputs: dict[str, object], payment_method: str, operator: str) -> None:
    q = _quote(inputs)
    postings = charge_postings(quote=q, payment_method=payment_method, card_id="C9", operator=operator)
    assert sum(p.amount_fen for p in postings) == 0
    assert all(p.amount_fen != 0 for p in postings)
    revenue = [p for p in postings if p.account.startswith("operator_revenue:")]
    assert sum(p.amount_fen for p in revenue) == -q.list_total_fen
    assert sum(p.amount_fen for p in reverse(postings)) == 0
    net: Counter[str] = Counter()
    for posting in postings + reverse(postings):
        net[posting.account] += posting.amount_fen
    assert all(amount == 0 for amount in net.values())
    assert reverse(reverse(postings)) == postings
