"""Routes: cards, wallets, policies, quotes and the monthly settlement."""

import hashlib
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response

from services.pricing import service
from services.pricing.api.schemas import (
    CardIn,
    CardOut,
    CityPolicyIn,
    CityPolicyOut,
    DistrictPolicyIn,
    DistrictPolicyOut,
    DistrictPolicyVersionOut,
    MealOut,
    PlainText,
    SettlementOut,
    TopupIn,
    TopupLine,
    TopupOut,
    WalletWithTopups,
)
from services.pricing.domain import rules, settlement
from shared.auth import Principal, requires
from shared.catalog import DISTRICTS
from shared.db import SessionDep
from shared.errors import Problem
from shared.events import Id, QuoteRequest, QuoteResult, local_now

router = APIRouter(prefix="/v1")
Admin = Annotated[Principal, Depends(requires("admin"))]
Till = Annotated[Principal, Depends(requires("pos", "admin"))]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
CSV = "text/csv"


def _card_out(card: object) -> CardOut:
    return CardOut.model_validate(card, from_attributes=True)


def _today(request: Request) -> date:
    """Today in the city's time zone (service dates and months are local)."""
    return local_now(request.app.state.settings.timezone).date()


def _check_effective_from(day: date) -> None:
    if not 2000 <= day.year <= 2100:
        raise Problem(422, "invalid_effective_from", f"effective_from {day} is outside 2000..2100")


@router.get("/cards", response_model=list[CardOut], tags=["cards"])
async def search_cards(
    session: SessionDep,
    _: Admin,
    q: Annotated[str | None, Query(min_length=1, max_length=50, pattern=PlainText, description="start of an id, or part of a name")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[CardOut]:
    """Find cards by id (prefix, an exact id first) or name (any part); without `q`, cards in id order."""
    return [_card_out(card) for card in await service.search_cards(session, q=q, limit=limit)]


@router.put("/cards/{card_id}", response_model=CardOut, tags=["cards"])
async def put_card(card_id: Id, body: CardIn, session: SessionDep, request: Request, _: Admin) -> CardOut:
    """Create or update a card; the identity number is never echoed (only its last four digits)."""
    settings = request.app.state.settings
    card = await service.put_card(
        session, request.app.state.outbox, card_id=card_id, data=body.model_dump(), pepper=settings.auth_secret, today=_today(request)
    )
    return _card_out(card)


@router.get("/cards/{card_id}", response_model=CardOut, tags=["cards"])
async def get_card(card_id: Id, session: SessionDep, _: Admin) -> CardOut:
    return _card_out(await service.get_card(session, card_id))


@router.get("/cards/{card_id}/wallet", response_model=WalletWithTopups, tags=["cards"])
async def get_wallet(card_id: Id, session: SessionDep, _: Admin) -> WalletWithTopups:
    card = await service.get_card(session, card_id)
    topups = [TopupLine.model_validate(t, from_attributes=True) for t in await service.recent_topups(session, card_id=card_id)]
    return WalletWithTopups(card_id=card.card_id, balance_fen=card.balance_fen, recent_topups=topups)


@router.get("/cards/{card_id}/meals", response_model=list[MealOut], tags=["cards"])
async def get_meals(card_id: Id, session: SessionDep, _: Admin, limit: Annotated[int, Query(ge=1, le=100)] = 20) -> list[MealOut]:
    """The card's latest meals (charges, refunded ones included), newest service date first."""
    meals = []
    for row, site_name in await service.recent_meals(session, card_id=card_id, limit=limit):
        fields = row.model_dump()
        fields["subsidy_fen"] = row.age_discount_fen + row.group_subsidy_fen
        meals.append(MealOut.model_validate({**fields, "site_name": site_name}))
    return meals


@router.post("/cards/{card_id}/topups", response_model=TopupOut, status_code=201, tags=["cards"])
async def post_topup(card_id: Id, body: TopupIn, session: SessionDep, request: Request, _: Admin, key: IdempotencyKey = None) -> TopupOut:
    """Credit the wallet; the same Idempotency-Key again returns the first top-up and changes nothing."""
    if not key or not key.strip():
        raise Problem(400, "idempotency_key_required", "send an Idempotency-Key header")
    digest = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
    row = await service.topup(
        session, card_id=card_id, amount_fen=body.amount_fen, key=key.strip(), request_hash=digest, tz=request.app.state.settings.timezone
    )
    return TopupOut(card_id=card_id, amount_fen=row.amount_fen, balance_fen=row.balance_after_fen)


@router.get("/policies/city", response_model=list[CityPolicyOut], tags=["policies"])
async def get_city_policies(session: SessionDep, request: Request, _: Admin) -> list[CityPolicyOut]:
    """Every version of the city policy, oldest first; `in_force` marks the one that applies today."""
    rows = await service.city_policies(session)
    current = rules.policy_in_force(rows, _today(request)) if rows else None
    return [CityPolicyOut.model_validate({**row.model_dump(), "in_force": row is current}) for row in rows]


@router.get("/policies/districts", response_model=list[DistrictPolicyVersionOut], tags=["policies"])
async def get_district_policies(
    session: SessionDep, request: Request, _: Admin, district: Annotated[Id | None, Query(description="one district only")] = None
) -> list[DistrictPolicyVersionOut]:
    """Every version of the district policies (or of one district), by district and date; `in_force` marks today's."""
    if district is not None and district not in DISTRICTS:
        raise Problem(422, "unknown_district", f"unknown district {district!r}")
    rows = await service.district_policies(session, district=district)
    today = _today(request)
    current = {name: rules.policy_in_force([r for r in rows if r.district == name], today) for name in {r.district for r in rows}}
    return [DistrictPolicyVersionOut.model_validate({**row.model_dump(), "in_force": current[row.district] is row}) for row in rows]


@router.put("/policies/city", response_model=CityPolicyIn, tags=["policies"])
async def put_city_policy(body: CityPolicyIn, session: SessionDep, _: Admin) -> CityPolicyIn:
    """Add or replace the city policy version that takes effect on `effective_from`."""
    _check_effective_from(body.effective_from)
    tiers = tuple(rules.AgeTier(min_age=t.min_age, max_age=t.max_age, pay_percent=t.pay_percent) for t in body.age_tiers)
    policy = rules.CityPolicy(
        effective_from=body.effective_from, age_tiers=tiers, per_slot_limit=body.per_slot_limit, discount_cap_fen=body.discount_cap_fen
    )
    row = await service.put_city_policy(session, policy=policy)
    return CityPolicyIn.model_validate(row, from_attributes=True)


@router.put("/policies/districts/{district}", response_model=DistrictPolicyOut, tags=["policies"])
async def put_district_policy(district: Id, body: DistrictPolicyIn, session: SessionDep, _: Admin) -> DistrictPolicyOut:
    """Add or replace a district policy version (group subsidies, city share)."""
    _check_effective_from(body.effective_from)
    subsidies = tuple(
        rules.GroupSubsidy(group=g.group, amount_fen=g.amount_fen, min_spend_fen=g.min_spend_fen) for g in body.group_subsidies
    )
    policy = rules.DistrictPolicy(
        district=district, effective_from=body.effective_from, city_share_percent=body.city_share_percent, group_subsidies=subsidies
    )
    row = await service.put_district_policy(session, policy=policy)
    return DistrictPolicyOut.model_validate(row, from_attributes=True)


@router.post("/quotes", response_model=QuoteResult, tags=["quotes"])
async def post_quote(body: QuoteRequest, session: SessionDep, principal: Till) -> QuoteResult:
    """Price a meal for a card (or none) without changing anything."""
    if principal.role == "pos":
        principal.require_scope("pos", body.site_id)
    return await service.quote(session, body)


def _period(text: str) -> str:
    try:
        return settlement.parse_period(text)
    except settlement.PeriodError as exc:
        raise Problem(422, "invalid_period", str(exc)) from exc


def _settlement_response(body: dict[str, object], request: Request, fmt: str | None) -> Response:
    out = SettlementOut.model_validate(body)
    accept = request.headers.get("accept", "")
    if fmt == "csv" or (fmt is None and CSV in accept):
        headers = {"Content-Disposition": f'attachment; filename="settlement-{out.period}.csv"'}
        if out.checksum:
            headers["X-Statement-Checksum"] = out.checksum
        return Response(settlement.to_csv(out.model_dump(mode="json")), media_type="text/csv; charset=utf-8", headers=headers)
    return Response(out.model_dump_json(), media_type="application/json")


SETTLEMENT_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"application/json": {}, CSV: {"example": "period,operator,funder_district,meals,...\r\n"}}}
}
Format = Annotated[str | None, Query(alias="format", pattern="^(json|csv)$", description="instead of the Accept header")]


@router.get("/settlements/{period}", response_model=SettlementOut, responses=SETTLEMENT_RESPONSES, tags=["settlement"])
async def get_settlement(period: str, session: SessionDep, request: Request, _: Admin, fmt: Format = None) -> Response:
    """A month (`yyyy-mm`) per operator × funding district, with the cross-district matrix; CSV with `Accept: text/csv`.

    A closed month returns its frozen statement (`closed: true` and its sha256 `checksum`); an open one the ledger as it stands.
    """
    body = await service.get_settlement(session, period=_period(period))
    return _settlement_response(body, request, fmt)


@router.post("/settlements/{period}/close", response_model=SettlementOut, responses=SETTLEMENT_RESPONSES, tags=["settlement"])
async def close_settlement(period: str, session: SessionDep, request: Request, _: Admin, fmt: Format = None) -> Response:
    """Freeze an ended month: later refunds land in the open month; closing again returns the same statement."""
    body = await service.close_period(session, period=_period(period), today=_today(request))
    return _settlement_response(body, request, fmt)
