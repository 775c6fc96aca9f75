"""Meal pricing by DOMAIN.md: age tiers, group subsidy, funder split, ledger postings."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol, TypeVar

from shared.money import percent_of

ACTIVE = "active"
SUSPENDED = "suspended"
REPORTED_LOST = "reported_lost"
CARD_STATUSES = frozenset({ACTIVE, SUSPENDED, REPORTED_LOST})

PAYMENT_METHODS = frozenset({"card_wallet", "cash", "mobile"})

CITY_EXPENSE_ACCOUNT = "subsidy_expense:city"
CITY_PAYABLE_ACCOUNT = "city_payable"


class PolicyError(ValueError):
    """A policy an administrator entered breaks a rule; `code` is stable for APIs."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class AgeTier:
    """Ages min_age..max_age inclusive pay pay_percent of the discountable amount."""

    min_age: int
    max_age: int | None
    pay_percent: int


@dataclass(frozen=True)
class CityPolicy:
    """One version of the city-wide rules, in force from effective_from."""

    effective_from: date
    age_tiers: tuple[AgeTier, ...]
    per_slot_limit: int = 1
    discount_cap_fen: int | None = None


@dataclass(frozen=True)
class GroupSubsidy:
    """A district's fixed daily amount for one special group."""

    group: str
    amount_fen: int
    min_spend_fen: int = 0


@dataclass(frozen=True)
class DistrictPolicy:
    """One version of a district's rules, in force from effective_from."""

    district: str
    effective_from: date
    city_share_percent: int = 0
    group_subsidies: tuple[GroupSubsidy, ...] = ()


@dataclass(frozen=True)
class CardFacts:
    """What pricing needs to know about a senior's card."""

    card_id: str
    birth_date: date
    home_district: str
    groups: tuple[str, ...] = ()
    status: str = ACTIVE


@dataclass(frozen=True)
class Quote:
    """The price of one meal and who funds its subsidy."""

    list_total_fen: int
    age_discount_fen: int
    group_subsidy_fen: int
    senior_pays_fen: int
    pay_percent: int
    funder_district: str | None
    city_part_fen: int
    district_part_fen: int
    reasons: tuple[str, ...]
    subsidised: bool  # got a subsidy (age discount + group subsidy > 0): counts against the per-slot limit
    group: str | None

    @property
    def subsidy_fen(self) -> int:
        return self.age_discount_fen + self.group_subsidy_fen


@dataclass(frozen=True)
class Posting:
    """One ledger line: debit positive, credit negative."""

    account: str
    amount_fen: int


# Seed data for a fresh installation; the live tiers are policy an admin can change.
DEFAULT_AGE_TIERS: tuple[AgeTier, ...] = (
    AgeTier(60, 69, 80),
    AgeTier(70, 79, 70),
    AgeTier(80, None, 50),
)


# --- policy validation -------------------------------------------------------


def _check_percent(value: int, what: str) -> None:
    if not 0 <= value <= 100:
        raise PolicyError("invalid_percent", f"{what} must be 0..100, got {value}")


def _check_amount(value: int, what: str) -> None:
    if value < 0:
        raise PolicyError("invalid_amount", f"{what} must be >= 0 fen, got {value}")


def _check_tier_shape(tier: AgeTier) -> None:
    if tier.min_age < 0:
        raise PolicyError("age_tiers_invalid", f"min_age {tier.min_age} is negative")
    if tier.max_age is not None and tier.max_age < tier.min_age:
        raise PolicyError(
            "age_tiers_invalid",
            f"max_age {tier.max_age} is below min_age {tier.min_age}",
        )
    _check_percent(tier.pay_percent, f"pay_percent of tier from {tier.min_age}")


def _check_neighbours(lower: AgeTier, upper: AgeTier) -> None:
    if lower.max_age is None:
        raise PolicyError(
            "age_tiers_invalid",
            f"open-ended tier from {lower.min_age} must be the last tier",
        )
    if upper.min_age <= lower.max_age:
        raise PolicyError(
            "age_tiers_overlap",
            f"tier from {upper.min_age} overlaps tier ending at {lower.max_age}",
        )
    if upper.min_age > lower.max_age + 1:
        raise PolicyError(
            "age_tiers_gap",
            f"no tier covers ages {lower.max_age + 1}..{upper.min_age - 1}",
        )


def validate_age_tiers(tiers: Sequence[AgeTier]) -> tuple[AgeTier, ...]:
    """Return the tiers sorted by min_age, or raise PolicyError if they are unusable."""
    if not tiers:
        raise PolicyError("age_tiers_invalid", "at least one age tier is required")
    for tier in tiers:
        _check_tier_shape(tier)
    # Ties on min_age sort the open tier last so a duplicate reads as an overlap.
    ordered = tuple(sorted(tiers, key=lambda t: (t.min_age, t.max_age is None, t.max_age or 0)))
    for lower, upper in itertools.pairwise(ordered):
        _check_neighbours(lower, upper)
    return ordered


def validate_city_policy(policy: CityPolicy) -> CityPolicy:
    """Return the policy with its tiers sorted, or raise PolicyError."""
    tiers = validate_age_tiers(policy.age_tiers)
    if policy.per_slot_limit < 0:
        raise PolicyError("invalid_limit", f"per_slot_limit must be >= 0, got {policy.per_slot_limit}")
    if policy.discount_cap_fen is not None:
        _check_amount(policy.discount_cap_fen, "discount_cap_fen")
    return dataclasses.replace(policy, age_tiers=tiers)


def _check_group_subsidy(subsidy: GroupSubsidy) -> None:
    if not subsidy.group:
        raise PolicyError("invalid_group", "a group subsidy needs a group name")
    _check_amount(subsidy.amount_fen, f"amount_fen of group {subsidy.group}")
    _check_amount(subsidy.min_spend_fen, f"min_spend_fen of group {subsidy.group}")


def validate_district_policy(policy: DistrictPolicy) -> DistrictPolicy:
    """Return the policy unchanged if it is usable, else raise PolicyError."""
    if not policy.district:
        raise PolicyError("invalid_district", "a district policy needs a district")
    _check_percent(policy.city_share_percent, "city_share_percent")
    seen: set[str] = set()
    for subsidy in policy.group_subsidies:
        _check_group_subsidy(subsidy)
        # Two amounts for one group would make "the largest" depend on list order.
        if subsidy.group in seen:
            raise PolicyError("duplicate_group", f"group {subsidy.group} is listed more than once")
        seen.add(subsidy.group)
    return policy


class _Versioned(Protocol):
    @property
    def effective_from(self) -> date: ...


P = TypeVar("P", bound=_Versioned)


def policy_in_force(policies: Iterable[P], service_date: date) -> P | None:
    """The version with the latest effective_from on or before service_date.

    Pass the versions of one policy only (the city's, or one district's). Two
    versions starting the same day raise PolicyError when that day is the one
    that decides, since either could be meant.
    """
    in_force = [p for p in policies if p.effective_from <= service_date]
    if not in_force:
        return None
    latest = max(p.effective_from for p in in_force)
    chosen = [p for p in in_force if p.effective_from == latest]
    if len(chosen) > 1:
        raise PolicyError("policy_ambiguous", f"{len(chosen)} policy versions take effect on {latest}")
    return chosen[0]


# --- age ---------------------------------------------------------------------


def age_on(birth_date: date, on: date) -> int:
    """Full years on `on`; a 29 Feb birthday is reached on 1 March in non-leap years."""
    if on < birth_date:
        raise ValueError(f"date {on} is before birth date {birth_date}")
    years = on.year - birth_date.year
    # Comparing (month, day) makes 28 Feb < 29 Feb, so a leapling ages on 1 March.
    if (on.month, on.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def _tier_for(age: int, tiers: tuple[AgeTier, ...]) -> AgeTier | None:
    for tier in tiers:
        if tier.min_age <= age and (tier.max_age is None or age <= tier.max_age):
            return tier
    return None


# --- quote -------------------------------------------------------------------


def full_price(list_total_fen: int, reasons: tuple[str, ...]) -> Quote:
    return Quote(
        list_total_fen=list_total_fen,
        age_discount_fen=0,
        group_subsidy_fen=0,
        senior_pays_fen=list_total_fen,
        pay_percent=100,
        # Nothing to settle, so no funder is named even for a card holder.
        funder_district=None,
        city_part_fen=0,
        district_part_fen=0,
        reasons=reasons,
        subsidised=False,
        group=None,
    )


def _age_discount(list_total_fen: int, pay_percent: int, cap_fen: int | None) -> int:
    discountable = list_total_fen if cap_fen is None else min(list_total_fen, cap_fen)
    return percent_of(discountable, 100 - pay_percent)


@dataclass(frozen=True)
class _GroupOutcome:
    group: str | None
    amount_fen: int
    reasons: tuple[str, ...]


def _best_group(card_groups: Sequence[str], offered: Sequence[GroupSubsidy], list_total_fen: int) -> tuple[GroupSubsidy | None, bool]:
    """The largest eligible subsidy, and whether a listed group missed its min spend."""
    listed = [s for s in offered if s.group in card_groups]
    eligible = [s for s in listed if s.min_spend_fen <= list_total_fen]
    # Ties go to the alphabetically first group so the outcome ignores list order.
    best = min(eligible, key=lambda s: (-s.amount_fen, s.group), default=None)
    return best, len(eligible) < len(listed)


def _group_subsidy(
    *,
    card: CardFacts,
    district_policy: DistrictPolicy | None,
    list_total_fen: int,
    remaining_fen: int,
    used_today: bool,
) -> _GroupOutcome:
    offered = district_policy.group_subsidies if district_policy else ()
    best, missed_min_spend = _best_group(card.groups, offered, list_total_fen)
    if best is None:
        reasons = ("group_min_spend_not_met",) if missed_min_spend else ()
        return _GroupOutcome(None, 0, reasons)
    if used_today:
        return _GroupOutcome(None, 0, ("group_subsidy_used_today",))
    amount = min(best.amount_fen, remaining_fen)
    clipped = ("group_subsidy_clipped",) if amount < best.amount_fen else ()
    # A subsidy clipped to nothing must not use up the senior's once-a-day allowance.
    return _GroupOutcome(best.group if amount > 0 else None, amount, clipped)


def _subsidised_quote(
    *,
    list_total_fen: int,
    tier: AgeTier,
    age_discount_fen: int,
    outcome: _GroupOutcome,
    home_district: str,
    city_share_percent: int,
) -> Quote:
    subsidy = age_discount_fen + outcome.amount_fen
    city_part = percent_of(subsidy, city_share_percent)
    return Quote(
        list_total_fen=list_total_fen,
        age_discount_fen=age_discount_fen,
        group_subsidy_fen=outcome.amount_fen,
        senior_pays_fen=list_total_fen - subsidy,
        pay_percent=tier.pay_percent,
        # No subsidy means nothing to settle, so no funder is named.
        funder_district=home_district if subsidy > 0 else None,
        city_part_fen=city_part,
        district_part_fen=subsidy - city_part,
        reasons=outcome.reasons,
        # Only a meal that got a subsidy counts against the per-slot limit (a 0-fen dish, a 100% tier, a cap of 0 do not).
        subsidised=subsidy > 0,
        group=outcome.group,
    )


def _check_in_force(effective_from: date, service_date: date, what: str) -> None:
    if effective_from > service_date:
        raise ValueError(f"{what} takes effect on {effective_from}, after service date {service_date}")


def _check_quote_inputs(
    *,
    list_total_fen: int,
    service_date: date,
    card: CardFacts | None,
    city_policy: CityPolicy,
    district_policy: DistrictPolicy | None,
    subsidised_meals_in_slot: int,
) -> None:
    if list_total_fen < 0:
        raise ValueError(f"list_total_fen must be >= 0, got {list_total_fen}")
    if subsidised_meals_in_slot < 0:
        raise ValueError("subsidised_meals_in_slot must be >= 0")
    _check_in_force(city_policy.effective_from, service_date, "city policy")
    if card is not None and card.status not in CARD_STATUSES:
        raise ValueError(f"unknown card status {card.status!r}")
    if district_policy is None:
        return
    validate_district_policy(district_policy)
    _check_in_force(district_policy.effective_from, service_date, "district policy")
    # The subsidy follows the person: only the home district's policy may apply.
    if card is not None and district_policy.district != card.home_district:
        raise ValueError(f"district policy of {district_policy.district} given for a card from {card.home_district}")


def quote(
    *,
    list_total_fen: int,
    service_date: date,
    card: CardFacts | None,
    city_policy: CityPolicy,
    district_policy: DistrictPolicy | None,
    subsidised_meals_in_slot: int,
    group_subsidy_used_today: bool,
) -> Quote:
    """Price one meal for a diner on service_date.

    district_policy is the policy in force of the card's home district (None if
    that district has none). Reasons explain why a benefit was withheld or cut;
    a meal that got every benefit has no reasons.
    """
    _check_quote_inputs(
        list_total_fen=list_total_fen,
        service_date=service_date,
        card=card,
        city_policy=city_policy,
        district_policy=district_policy,
        subsidised_meals_in_slot=subsidised_meals_in_slot,
    )
    city = validate_city_policy(city_policy)
    if card is None:
        return full_price(list_total_fen, ("no_card",))
    if card.status != ACTIVE:
        # The till needs the specific cause to tell the diner what to do.
        return full_price(list_total_fen, ("card_inactive", f"card_{card.status}"))
    age = age_on(card.birth_date, service_date)
    tier = _tier_for(age, city.age_tiers)
    if tier is None:
        reason = "under_age" if age < city.age_tiers[0].min_age else "no_age_tier"
        return full_price(list_total_fen, (reason,))
    if subsidised_meals_in_slot >= city.per_slot_limit:
        return full_price(list_total_fen, ("slot_limit_reached",))
    age_discount = _age_discount(list_total_fen, tier.pay_percent, city.discount_cap_fen)
    outcome = _group_subsidy(
        card=card,
        district_policy=district_policy,
        list_total_fen=list_total_fen,
        remaining_fen=list_total_fen - age_discount,
        used_today=group_subsidy_used_today,
    )
    share = district_policy.city_share_percent if district_policy else 0
    return _subsidised_quote(
        list_total_fen=list_total_fen,
        tier=tier,
        age_discount_fen=age_discount,
        outcome=outcome,
        home_district=card.home_district,
        city_share_percent=share,
    )


# --- ledger postings ---------------------------------------------------------


def _check_quote_balances(q: Quote) -> None:
    parts = (
        q.senior_pays_fen,
        q.age_discount_fen,
        q.group_subsidy_fen,
        q.city_part_fen,
        q.district_part_fen,
    )
    if any(part < 0 for part in parts):
        raise ValueError("a quote amount is negative")
    if q.senior_pays_fen + q.subsidy_fen != q.list_total_fen:
        raise ValueError("quote does not add up: senior_pays + subsidy != list_total")
    if q.city_part_fen + q.district_part_fen != q.subsidy_fen:
        raise ValueError("quote does not add up: city_part + district_part != subsidy")
    if q.subsidy_fen > 0 and q.funder_district is None:
        raise ValueError("a subsidised quote needs a funder_district")


def _payment_account(payment_method: str, card_id: str | None, operator: str) -> str:
    if payment_method not in PAYMENT_METHODS:
        raise ValueError(f"unknown payment method {payment_method!r}")
    if payment_method == "card_wallet":
        if not card_id:
            raise ValueError("a wallet payment needs a card_id")
        return f"senior_wallet:{card_id}"
    return f"{payment_method}:{operator}"


def _non_zero(postings: Iterable[Posting]) -> tuple[Posting, ...]:
    return tuple(p for p in postings if p.amount_fen != 0)


def operator_postings(*, quote: Quote, payment_method: str, card_id: str | None, operator: str) -> tuple[Posting, ...]:
    """The till side: the operator earns the list total, fronting the subsidy."""
    if not operator:
        raise ValueError("operator must not be empty")
    _check_quote_balances(quote)
    payment = _payment_account(payment_method, card_id, operator)
    return _non_zero(
        (
            Posting(payment, quote.senior_pays_fen),
            Posting(f"subsidy_receivable:{operator}", quote.subsidy_fen),
            Posting(f"operator_revenue:{operator}", -quote.list_total_fen),
        )
    )


def funder_postings(*, quote: Quote) -> tuple[Posting, ...]:
    """The funder side: home district and city each owe their part of the subsidy."""
    _check_quote_balances(quote)
    if quote.funder_district is None:
        return ()
    district = quote.funder_district
    return _non_zero(
        (
            Posting(f"subsidy_expense:{district}", quote.district_part_fen),
            Posting(f"district_payable:{district}", -quote.district_part_fen),
            Posting(CITY_EXPENSE_ACCOUNT, quote.city_part_fen),
            Posting(CITY_PAYABLE_ACCOUNT, -quote.city_part_fen),
        )
    )


def charge_postings(*, quote: Quote, payment_method: str, card_id: str | None, operator: str) -> tuple[Posting, ...]:
    """All postings of one charge: till side then funder side; they sum to zero."""
    till = operator_postings(quote=quote, payment_method=payment_method, card_id=card_id, operator=operator)
    return till + funder_postings(quote=quote)


def reverse(postings: Iterable[Posting]) -> tuple[Posting, ...]:
    """The postings that cancel `postings` (for a cancelled or refunded order)."""
    return tuple(Posting(p.account, -p.amount_fen) for p in postings)
