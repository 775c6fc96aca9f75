"""Pricing use cases: take a session and the outbox, never commit."""

import hashlib
import hmac
import json
import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import and_, case, delete, func, or_, text
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.pricing.adapters.tables import (
    Card,
    Charge,
    CityPolicyVersion,
    DistrictPolicyVersion,
    MenuPrice,
    Posting,
    Site,
    Statement,
    Topup,
)
from services.pricing.domain import rules, settlement
from shared.catalog import ALLERGENS, DIET_VARIANTS, DISTRICTS, GROUPS
from shared.errors import Problem
from shared.events import (
    CardProfileUpdated,
    ChargeRequest,
    ChargeResult,
    MenuPublished,
    PricedLine,
    QuoteRequest,
    QuoteResult,
    RefundRequest,
    RefundResult,
    SiteUpserted,
    local_now,
    utcnow,
)
from shared.messaging.outbox import Outbox
from shared.money import MAX_FEN, MAX_MEAL_FEN

# PostgreSQL advisory lock that orders month closing against charges and refunds (any constant, pricing's own database)
PERIOD_LOCK_KEY = 0x70726963  # "pric"


# --- copies of the catalog ---
async def record_site(session: AsyncSession, event: SiteUpserted) -> None:
    site = await session.get(Site, event.site_id)
    fields: dict[str, Any] = {
        "name": event.name,
        "kind": event.kind,
        "district": event.district,
        "operator": event.operator,
        "supplied_by": event.supplied_by,
        "kitchen_id": event.kitchen_id,
    }
    if site is None:
        session.add(Site(site_id=event.site_id, **fields))
    else:
        for key, value in fields.items():
            setattr(site, key, value)


async def record_menu(session: AsyncSession, event: MenuPublished) -> None:
    await session.execute(
        delete(MenuPrice).where(
            col(MenuPrice.kitchen_id) == event.kitchen_id,
            col(MenuPrice.service_date) == event.service_date,
            col(MenuPrice.meal_slot) == event.meal_slot,
        )
    )
    for item in event.items:
        session.add(
            MenuPrice(
                kitchen_id=event.kitchen_id,
                service_date=event.service_date,
                meal_slot=event.meal_slot,
                menu_item_id=item.menu_item_id,
                name=item.name,
                price_fen=item.price_fen,
            )
        )


# --- cards ---
def hash_identity(id_number: str, pepper: str) -> str:
    return hmac.new(pepper.encode(), id_number.upper().encode(), hashlib.sha256).hexdigest()


def _check_codes(values: Sequence[str], known: dict[str, str], code: str) -> None:
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise Problem(422, code, f"unknown {', '.join(unknown)} (known: {', '.join(sorted(known))})")


async def put_card(session: AsyncSession, outbox: Outbox, *, card_id: str, data: dict[str, Any], pepper: str, today: date) -> Card:
    """Create or update a card; the identity number is kept only as a keyed hash and its last four."""
    if data["home_district"] not in DISTRICTS:
        raise Problem(422, "unknown_district", f"unknown district {data['home_district']!r}")
    _check_codes(data["groups"], GROUPS, "unknown_group")
    _check_codes(data["diets"], DIET_VARIANTS, "unknown_diet")
    _check_codes(data["allergens"], ALLERGENS, "unknown_allergen")
    if data["birth_date"] > today or data["birth_date"].year < 1900:
        raise Problem(422, "invalid_birth_date", "birth_date must be between 1900 and today")
    id_number: str = data.pop("id_number")
    card = await session.get(Card, card_id)
    if data.get("status") is None:  # an edit that names no status keeps it (a lost card stays lost)
        data["status"] = card.status if card is not None else rules.ACTIVE
    fields: dict[str, Any] = {
        **data,
        "id_hash": hash_identity(id_number, pepper),
        "id_last4": id_number[-4:].upper(),
        "updated_at": utcnow(),
    }
    if card is None:
        card = Card(card_id=card_id, **fields)
        session.add(card)
    else:
        for key, value in fields.items():
            setattr(card, key, value)
    await outbox.publish(
        session,
        CardProfileUpdated(
            card_id=card_id,
            name=card.name,
            home_district=card.home_district,
            status=card.status,
            diets=list(card.diets),
            allergens=list(card.allergens),
            emergency_contact=card.emergency_contact,
        ),
    )
    return card


async def find_card(session: AsyncSession, card_id: str, *, for_update: bool = False) -> Card | None:
    query = select(Card).where(col(Card.card_id) == card_id)
    if for_update:
        query = query.with_for_update()
    return (await session.exec(query)).first()


async def get_card(session: AsyncSession, card_id: str, *, for_update: bool = False) -> Card:
    card = await find_card(session, card_id, for_update=for_update)
    if card is None:
        raise Problem(404, "unknown_card", f"no card {card_id!r}")
    return card


async def search_cards(session: AsyncSession, *, q: str | None, limit: int) -> Sequence[Card]:
    """Cards whose id starts with, or whose name contains, `q` (an exact id first); all cards by id without `q`."""
    query = select(Card)
    if q:
        query = query.where(or_(col(Card.card_id).istartswith(q, autoescape=True), col(Card.name).icontains(q, autoescape=True)))
        query = query.order_by(case((col(Card.card_id) == q, 0), else_=1), col(Card.card_id))
    else:
        query = query.order_by(col(Card.card_id))
    return (await session.exec(query.limit(limit))).all()


async def recent_meals(session: AsyncSession, *, card_id: str, limit: int) -> list[tuple[Charge, str | None]]:
    """The card's latest charges (refunded ones too), newest service date first, with the site's name."""
    await get_card(session, card_id)
    query = (
        select(Charge, Site.name)
        .join(Site, col(Site.site_id) == col(Charge.site_id), isouter=True)
        .where(col(Charge.card_id) == card_id)
        .order_by(col(Charge.service_date).desc(), col(Charge.created_at).desc())
        .limit(limit)
    )
    return [(charge_row, name) for charge_row, name in (await session.exec(query)).all()]


async def recent_topups(session: AsyncSession, *, card_id: str, limit: int = 5) -> Sequence[Topup]:
    query = select(Topup).where(col(Topup.card_id) == card_id).order_by(col(Topup.id).desc()).limit(limit)
    return (await session.exec(query)).all()


# --- policies ---
def _policy_problem(exc: rules.PolicyError) -> Problem:
    return Problem(422, exc.code, exc.detail)


async def put_city_policy(session: AsyncSession, *, policy: rules.CityPolicy) -> CityPolicyVersion:
    try:
        policy = rules.validate_city_policy(policy)
    except rules.PolicyError as exc:
        raise _policy_problem(exc) from exc
    row = await session.get(CityPolicyVersion, policy.effective_from) or CityPolicyVersion(
        effective_from=policy.effective_from, age_tiers=[]
    )
    row.age_tiers = [{"min_age": t.min_age, "max_age": t.max_age, "pay_percent": t.pay_percent} for t in policy.age_tiers]
    row.per_slot_limit = policy.per_slot_limit
    row.discount_cap_fen = policy.discount_cap_fen
    session.add(row)
    return row


async def put_district_policy(session: AsyncSession, *, policy: rules.DistrictPolicy) -> DistrictPolicyVersion:
    if policy.district not in DISTRICTS:
        raise Problem(422, "unknown_district", f"unknown district {policy.district!r}")
    _check_codes([g.group for g in policy.group_subsidies], GROUPS, "unknown_group")
    try:
        policy = rules.validate_district_policy(policy)
    except rules.PolicyError as exc:
        raise _policy_problem(exc) from exc
    row = await session.get(DistrictPolicyVersion, (policy.district, policy.effective_from)) or DistrictPolicyVersion(
        district=policy.district, effective_from=policy.effective_from
    )
    row.city_share_percent = policy.city_share_percent
    row.group_subsidies = [{"group": g.group, "amount_fen": g.amount_fen, "min_spend_fen": g.min_spend_fen} for g in policy.group_subsidies]
    session.add(row)
    return row


async def city_policies(session: AsyncSession) -> Sequence[CityPolicyVersion]:
    return (await session.exec(select(CityPolicyVersion).order_by(col(CityPolicyVersion.effective_from)))).all()


async def district_policies(session: AsyncSession, *, district: str | None = None) -> Sequence[DistrictPolicyVersion]:
    query = select(DistrictPolicyVersion)
    if district is not None:
        query = query.where(col(DistrictPolicyVersion.district) == district)
    return (await session.exec(query.order_by(col(DistrictPolicyVersion.district), col(DistrictPolicyVersion.effective_from)))).all()


def city_policy_of(row: CityPolicyVersion) -> rules.CityPolicy:
    tiers = tuple(
        rules.AgeTier(min_age=int(t["min_age"] or 0), max_age=t["max_age"], pay_percent=int(t["pay_percent"] or 0)) for t in row.age_tiers
    )
    return rules.CityPolicy(
        effective_from=row.effective_from, age_tiers=tiers, per_slot_limit=row.per_slot_limit, discount_cap_fen=row.discount_cap_fen
    )


def district_policy_of(row: DistrictPolicyVersion) -> rules.DistrictPolicy:
    subsidies = tuple(
        rules.GroupSubsidy(group=str(g["group"]), amount_fen=int(g["amount_fen"]), min_spend_fen=int(g["min_spend_fen"]))
        for g in row.group_subsidies
    )
    return rules.DistrictPolicy(
        district=row.district, effective_from=row.effective_from, city_share_percent=row.city_share_percent, group_subsidies=subsidies
    )


async def city_policy_on(session: AsyncSession, service_date: date) -> rules.CityPolicy | None:
    row = (
        await session.exec(
            select(CityPolicyVersion)
            .where(col(CityPolicyVersion.effective_from) <= service_date)
            .order_by(col(CityPolicyVersion.effective_from).desc())
            .limit(1)
        )
    ).first()
    return city_policy_of(row) if row else None


async def district_policy_on(session: AsyncSession, district: str, service_date: date) -> rules.DistrictPolicy | None:
    query = (
        select(DistrictPolicyVersion)
        .where(col(DistrictPolicyVersion.district) == district, col(DistrictPolicyVersion.effective_from) <= service_date)
        .order_by(col(DistrictPolicyVersion.effective_from).desc())
        .limit(1)
    )
    row = (await session.exec(query)).first()
    return district_policy_of(row) if row else None


# --- quotes and charges ---
async def _site(session: AsyncSession, site_id: str) -> Site:
    site = await session.get(Site, site_id)
    if site is None:
        raise Problem(422, "unknown_site", f"no site {site_id!r}")
    if site.kind == "kitchen":
        raise Problem(422, "site_does_not_sell", f"{site_id} is a kitchen; meals are sold at canteens, meal points and carts")
    return site


async def _lines(session: AsyncSession, *, kitchen_id: str, req: QuoteRequest) -> list[PricedLine]:
    rows = (
        await session.exec(
            select(MenuPrice).where(
                col(MenuPrice.kitchen_id) == kitchen_id,
                col(MenuPrice.service_date) == req.service_date,
                col(MenuPrice.meal_slot) == req.meal_slot,
            )
        )
    ).all()
    menu = {r.menu_item_id: r for r in rows}
    if not menu:
        raise Problem(422, "menu_not_published", f"no menu for {kitchen_id} on {req.service_date} {req.meal_slot}")
    lines = []
    for item in req.items:
        row = menu.get(item.menu_item_id)
        if row is None:
            raise Problem(422, "unknown_menu_item", f"{item.menu_item_id!r} is not on the {req.service_date} {req.meal_slot} menu")
        lines.append(PricedLine(menu_item_id=row.menu_item_id, name=row.name, qty=item.qty, price_fen=row.price_fen))
    return lines


async def _slot_usage(session: AsyncSession, *, card_id: str, service_date: date, meal_slot: str) -> tuple[int, bool]:
    """Meals already charged in this slot that got a subsidy, and whether today's group subsidy is used.

    A meal counts by its amounts, not by the `subsidised` flag (rows written before the fix carry it for every tier holder).
    """
    got_subsidy = col(Charge.age_discount_fen) + col(Charge.group_subsidy_fen) > 0
    in_slot = case((and_(col(Charge.meal_slot) == meal_slot, got_subsidy), 1), else_=0)
    group = case((col(Charge.group_subsidy_fen) > 0, 1), else_=0)
    query = sa_select(func.coalesce(func.sum(in_slot), 0), func.coalesce(func.sum(group), 0)).where(
        col(Charge.card_id) == card_id, col(Charge.service_date) == service_date, col(Charge.status) == "charged"
    )
    used, group_used = (await session.execute(query)).one()
    return int(used), int(group_used) > 0


def _facts(card: Card) -> rules.CardFacts:
    return rules.CardFacts(
        card_id=card.card_id, birth_date=card.birth_date, home_district=card.home_district, groups=tuple(card.groups), status=card.status
    )


async def _price(session: AsyncSession, req: QuoteRequest, card: Card | None) -> tuple[rules.Quote, list[PricedLine], Site]:
    site = await _site(session, req.site_id)
    kitchen_id = site.kitchen_id
    lines = await _lines(session, kitchen_id=kitchen_id, req=req)
    list_total = sum(line.price_fen * line.qty for line in lines)
    if list_total > MAX_MEAL_FEN:
        detail = f"a meal totals at most {MAX_MEAL_FEN} fen; this one is {list_total}"
        raise Problem(422, "meal_total_too_large", detail, list_total_fen=list_total)
    if card is not None and card.birth_date > req.service_date:
        raise Problem(422, "service_date_before_birth", f"card {card.card_id} belongs to someone born after {req.service_date}")
    city = await city_policy_on(session, req.service_date)
    if card is None or city is None:
        reasons = ("no_card",) if card is None else ("no_city_policy",)
        return rules.full_price(list_total, reasons), lines, site
    district = await district_policy_on(session, card.home_district, req.service_date)
    used, group_used = await _slot_usage(session, card_id=card.card_id, service_date=req.service_date, meal_slot=req.meal_slot)
    q = rules.quote(
        list_total_fen=list_total,
        service_date=req.service_date,
        card=_facts(card),
        city_policy=city,
        district_policy=district,
        subsidised_meals_in_slot=used,
        group_subsidy_used_today=group_used,
    )
    return q, lines, site


def _result_fields(q: rules.Quote) -> dict[str, Any]:
    return {
        "list_total_fen": q.list_total_fen,
        "age_discount_fen": q.age_discount_fen,
        "group_subsidy_fen": q.group_subsidy_fen,
        "senior_pays_fen": q.senior_pays_fen,
        "pay_percent": q.pay_percent,
        "funder_district": q.funder_district,
        "city_part_fen": q.city_part_fen,
        "district_part_fen": q.district_part_fen,
        "reasons": list(q.reasons),
    }


async def quote(session: AsyncSession, req: QuoteRequest) -> QuoteResult:
    """What this meal would cost; changes nothing."""
    card = await get_card(session, req.card_id) if req.card_id else None
    q, lines, site = await _price(session, req, card)
    balance = card.balance_fen if card is not None else None  # the till shows it before the senior pays from the card
    return QuoteResult(**_result_fields(q), lines=lines, kitchen_id=site.kitchen_id, wallet_balance_fen=balance)


def _refuse_inactive(card: Card) -> None:
    if card.status == rules.REPORTED_LOST:
        raise Problem(409, "card_reported_lost", "this card was reported lost; the diner may pay full price without it")
    if card.status == rules.SUSPENDED:
        raise Problem(409, "card_suspended", "this card is suspended; the diner may pay full price without it")


async def open_period(session: AsyncSession, preferred: str, tz: str) -> str:
    """The preferred month unless it is closed; then the current local month (closed months stay frozen)."""
    if await session.get(Statement, preferred) is None:
        return preferred
    return settlement.period_of(local_now(tz).date())


async def _hold_periods(session: AsyncSession, *, exclusive: bool) -> None:
    """Until commit: charges and refunds share this lock, closing a month takes it alone.

    Without it (PostgreSQL, read committed) a charge that saw its month open could commit into it just after the
    month's statement was computed. SQLite needs nothing: BEGIN IMMEDIATE already runs writers one at a time.
    """
    conn = await session.connection()
    if conn.dialect.name != "postgresql":
        return
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    await session.execute(text(f"SELECT {function}(:key)"), {"key": PERIOD_LOCK_KEY})


async def _charged(session: AsyncSession, order_id: uuid.UUID) -> ChargeResult | None:
    """The first result for this order, read from the database (never from the session's identity map)."""
    stored = (await session.exec(select(Charge.result).where(col(Charge.order_id) == order_id))).first()
    return ChargeResult.model_validate_json(stored) if stored is not None else None


async def _insert_once(session: AsyncSession, row: Charge) -> bool:
    """Insert the charge under a savepoint; False when a twin request with the same order_id committed it first."""
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False
    return True


async def charge(session: AsyncSession, req: ChargeRequest, *, tz: str) -> ChargeResult:
    """Take the allowances, debit the wallet and post the ledger, once per order_id."""
    # With a card, its row lock queues twin requests of this order (and every charge of the card): the one read below
    # sees what the winner committed. Without a card, the insert further down resolves a twin.
    card = await find_card(session, req.card_id, for_update=True) if req.card_id else None
    # A replay returns the first result before any other check: the card may have changed since.
    existing = await _charged(session, req.order_id)
    if existing is not None:
        return existing
    if req.card_id and card is None:
        raise Problem(404, "unknown_card", f"no card {req.card_id!r}")
    if card is not None:
        _refuse_inactive(card)
    elif req.payment_method == "card_wallet":
        raise Problem(422, "wallet_needs_card", "wallet payment needs a card")
    q, lines, site = await _price(session, req, card)
    balance = card.balance_fen if card is not None else None
    wallet = req.payment_method == "card_wallet" and card is not None
    if wallet and card is not None:
        if card.balance_fen < q.senior_pays_fen:
            raise Problem(
                402,
                "insufficient_balance",
                f"wallet holds {card.balance_fen} fen, meal costs {q.senior_pays_fen} fen",
                balance_fen=card.balance_fen,
                senior_pays_fen=q.senior_pays_fen,
            )
        balance = card.balance_fen - q.senior_pays_fen
    result = ChargeResult(
        **_result_fields(q), lines=lines, kitchen_id=site.kitchen_id, order_id=req.order_id, charged=True, wallet_balance_fen=balance
    )
    await _hold_periods(session, exclusive=False)
    period = await open_period(session, settlement.period_of(req.service_date), tz)
    row = Charge(
        order_id=req.order_id,
        card_id=card.card_id if card else None,
        site_id=site.site_id,
        site_district=site.district,
        operator=site.operator,
        funder_district=q.funder_district,
        service_date=req.service_date,
        meal_slot=req.meal_slot,
        payment_method=req.payment_method,
        list_total_fen=q.list_total_fen,
        age_discount_fen=q.age_discount_fen,
        group_subsidy_fen=q.group_subsidy_fen,
        senior_pays_fen=q.senior_pays_fen,
        city_part_fen=q.city_part_fen,
        district_part_fen=q.district_part_fen,
        pay_percent=q.pay_percent,
        subsidised=q.subsidised,
        group_name=q.group,
        result=result.model_dump_json(),
        period=period,
    )
    if not await _insert_once(session, row):
        # Only charges without a card get here (a card's twins queue on its row lock): the first result stands.
        twin = await _charged(session, req.order_id)
        if twin is None:
            raise Problem(409, "charge_conflict", f"order {req.order_id} is being charged; ask again")
        return twin
    if wallet and card is not None and balance is not None:
        card.balance_fen = balance
    postings = rules.charge_postings(
        quote=q, payment_method=req.payment_method, card_id=card.card_id if card else None, operator=site.operator
    )
    _post(session, entry=f"charge:{req.order_id}", postings=postings, period=period)
    return result


def _post(session: AsyncSession, *, entry: str, postings: Sequence[rules.Posting], period: str) -> None:
    assert sum(p.amount_fen for p in postings) == 0, "unbalanced entry"
    for p in postings:
        session.add(Posting(entry=entry, account=p.account, amount_fen=p.amount_fen, period=period))


async def refund(session: AsyncSession, req: RefundRequest, *, tz: str) -> RefundResult:
    """Reverse exactly what the charge did, once; the allowance comes back with it."""
    ch = (await session.exec(select(Charge).where(col(Charge.order_id) == req.order_id).with_for_update())).first()
    if ch is None:
        raise Problem(404, "unknown_charge", f"no charge for order {req.order_id}")
    card = await get_card(session, ch.card_id, for_update=True) if ch.card_id else None
    if ch.status == "refunded":
        if ch.refund_result is not None:
            return RefundResult.model_validate_json(ch.refund_result)
        return RefundResult(order_id=req.order_id, refunded=True, refunded_fen=ch.senior_pays_fen)  # refunded before 0003: no answer kept
    original = (await session.exec(select(Posting).where(col(Posting.entry) == f"charge:{req.order_id}"))).all()
    await _hold_periods(session, exclusive=False)
    period = await open_period(session, ch.period, tz)
    _post(
        session,
        entry=f"refund:{req.order_id}",
        postings=rules.reverse(rules.Posting(p.account, p.amount_fen) for p in original),
        period=period,
    )
    if ch.payment_method == "card_wallet" and card is not None:
        card.balance_fen += ch.senior_pays_fen
    ch.status = "refunded"
    ch.refund_period = period
    ch.refunded_at = utcnow()
    result = RefundResult(
        order_id=req.order_id, refunded=True, refunded_fen=ch.senior_pays_fen, wallet_balance_fen=card.balance_fen if card else None
    )
    ch.refund_result = result.model_dump_json()
    return result


async def topup(session: AsyncSession, *, card_id: str, amount_fen: int, key: str, request_hash: str, tz: str) -> Topup:
    """Credit the wallet once per Idempotency-Key; the same key with another amount is a conflict."""
    card = await get_card(session, card_id, for_update=True)
    done = (await session.exec(select(Topup).where(col(Topup.card_id) == card_id, col(Topup.idempotency_key) == key))).first()
    if done is not None:
        if done.request_hash != request_hash:
            raise Problem(409, "idempotency_key_reused", "this Idempotency-Key was used for another top-up")
        return done
    if amount_fen <= 0:
        raise Problem(422, "invalid_amount", "a top-up must be positive")
    if card.balance_fen + amount_fen > MAX_FEN:
        raise Problem(
            422, "wallet_limit_exceeded", f"a wallet holds at most {MAX_FEN} fen; it holds {card.balance_fen}", balance_fen=card.balance_fen
        )
    card.balance_fen += amount_fen
    row = Topup(card_id=card_id, idempotency_key=key, request_hash=request_hash, amount_fen=amount_fen, balance_after_fen=card.balance_fen)
    session.add(row)
    today = settlement.period_of(local_now(tz).date())
    _post(
        session,
        entry=f"topup:{card_id}:{key}"[:80],
        postings=(rules.Posting("cash:wallet_topups", amount_fen), rules.Posting(f"senior_wallet:{card_id}", -amount_fen)),
        period=today,
    )
    return row


# --- settlement ---
def _closed(statement: Statement) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(statement.body)
    return {**body, "closed": True, "checksum": statement.checksum, "closed_at": statement.closed_at.isoformat()}


async def _settlement_lines(session: AsyncSession, period: str) -> list[settlement.Line]:
    """Charges counted in `period` (+1) and refunds that landed in it (-1), grouped in SQL."""
    found: list[settlement.Line] = []
    keys = (col(Charge.operator), col(Charge.funder_district), col(Charge.site_district))
    sums = (
        func.count(),
        func.sum(Charge.list_total_fen),
        func.sum(Charge.senior_pays_fen),
        func.sum(Charge.age_discount_fen),
        func.sum(Charge.group_subsidy_fen),
        func.sum(Charge.city_part_fen),
        func.sum(Charge.district_part_fen),
    )
    for sign, month in ((1, col(Charge.period)), (-1, col(Charge.refund_period))):
        rows = (await session.execute(sa_select(*keys, *sums).where(month == period).group_by(*keys))).all()
        for operator, funder, site_district, meals, listed, paid, age, group, city, district in rows:
            found.append(
                settlement.Line(
                    sign=sign,
                    operator=operator,
                    funder_district=funder,
                    site_district=site_district,
                    meals=int(meals),
                    list_total_fen=int(listed or 0),
                    senior_paid_fen=int(paid or 0),
                    age_discount_fen=int(age or 0),
                    group_subsidy_fen=int(group or 0),
                    city_part_fen=int(city or 0),
                    district_part_fen=int(district or 0),
                )
            )
    return found


async def _ledger(session: AsyncSession, period: str) -> settlement.LedgerSums:
    """The period's postings: operators' subsidy claims and the funders' payables (credits read as positive)."""
    amount = col(Posting.amount_fen)
    account = col(Posting.account)

    def total(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, amount), else_=0)), 0)

    row = (
        await session.execute(
            sa_select(
                total(account.startswith("subsidy_receivable:", autoescape=True)),
                total(account.startswith("district_payable:", autoescape=True)),
                total(account == rules.CITY_PAYABLE_ACCOUNT),
                func.coalesce(func.sum(amount), 0),
            ).where(col(Posting.period) == period)
        )
    ).one()
    receivable, district, city, everything = (int(v) for v in row)
    return settlement.LedgerSums(
        subsidy_receivable_fen=receivable, district_payable_fen=-district, city_payable_fen=-city, postings_sum_fen=everything
    )


async def compute_settlement(session: AsyncSession, period: str) -> dict[str, Any]:
    return settlement.aggregate(period, await _settlement_lines(session, period), await _ledger(session, period))


async def get_settlement(session: AsyncSession, *, period: str) -> dict[str, Any]:
    """A closed month's frozen statement, else the month as the ledger stands now."""
    statement = await session.get(Statement, period)
    if statement is not None:
        return _closed(statement)
    return {**await compute_settlement(session, period), "closed": False, "checksum": None, "closed_at": None}


async def close_period(session: AsyncSession, *, period: str, today: date) -> dict[str, Any]:
    """Freeze an ended month: its statement is stored with a sha256 checksum; closing again returns it unchanged."""
    if not settlement.has_ended(period, today):
        raise Problem(409, "period_not_ended", f"{period} has not ended yet (today is {today}); a month is closed after its last day")
    await _hold_periods(session, exclusive=True)
    statement = await session.get(Statement, period)
    if statement is None:
        body = settlement.canonical(await compute_settlement(session, period))
        statement = Statement(period=period, body=body, checksum=settlement.checksum(body), closed_at=utcnow())
        session.add(statement)
    return _closed(statement)
