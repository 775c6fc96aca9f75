"""Routes: cards, wallets, policies and quotes."""

import hashlib
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request

from services.pricing import service
from services.pricing.api.schemas import (
    CardIn,
    CardOut,
    CityPolicyIn,
    DistrictPolicyIn,
    DistrictPolicyOut,
    TopupIn,
    TopupOut,
    WalletOut,
)
from services.pricing.domain import rules
from shared.auth import Principal, requires
from shared.db import SessionDep
from shared.errors import Problem
from shared.events import Id, QuoteRequest, QuoteResult, utcnow

router = APIRouter(prefix="/v1")
Admin = Annotated[Principal, Depends(requires("admin"))]
Till = Annotated[Principal, Depends(requires("pos", "admin"))]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


def _card_out(card: object) -> CardOut:
    return CardOut.model_validate(card, from_attributes=True)


@router.put("/cards/{card_id}", response_model=CardOut, tags=["cards"])
async def put_card(card_id: Id, body: CardIn, session: SessionDep, request: Request, _: Admin) -> CardOut:
    """Create or update a card; the identity number is never echoed (only its last four digits)."""
    settings = request.app.state.settings
    card = await service.put_card(
        session, request.app.state.outbox, card_id=card_id, data=body.model_dump(), pepper=settings.auth_secret, today=utcnow().date()
    )
    return _card_out(card)


@router.get("/cards/{card_id}", response_model=CardOut, tags=["cards"])
async def get_card(card_id: Id, session: SessionDep, _: Admin) -> CardOut:
    return _card_out(await service.get_card(session, card_id))


@router.get("/cards/{card_id}/wallet", response_model=WalletOut, tags=["cards"])
async def get_wallet(card_id: Id, session: SessionDep, _: Admin) -> WalletOut:
    card = await service.get_card(session, card_id)
    return WalletOut(card_id=card.card_id, balance_fen=card.balance_fen)


@router.post("/cards/{card_id}/topups", response_model=TopupOut, status_code=201, tags=["cards"])
async def post_topup(card_id: Id, body: TopupIn, session: SessionDep, _: Admin, key: IdempotencyKey = None) -> TopupOut:
    """Credit the wallet; the same Idempotency-Key again returns the first top-up and changes nothing."""
    if not key:
        raise Problem(400, "idempotency_key_required", "send an Idempotency-Key header")
    digest = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
    row = await service.topup(session, card_id=card_id, amount_fen=body.amount_fen, key=key, request_hash=digest)
    return TopupOut(card_id=card_id, amount_fen=row.amount_fen, balance_fen=row.balance_after_fen)


@router.put("/policies/city", response_model=CityPolicyIn, tags=["policies"])
async def put_city_policy(body: CityPolicyIn, session: SessionDep, _: Admin) -> CityPolicyIn:
    """Add or replace the city policy version that takes effect on `effective_from`."""
    tiers = tuple(rules.AgeTier(min_age=t.min_age, max_age=t.max_age, pay_percent=t.pay_percent) for t in body.age_tiers)
    policy = rules.CityPolicy(
        effective_from=body.effective_from, age_tiers=tiers, per_slot_limit=body.per_slot_limit, discount_cap_fen=body.discount_cap_fen
    )
    row = await service.put_city_policy(session, policy=policy)
    return CityPolicyIn.model_validate(row, from_attributes=True)


@router.put("/policies/districts/{district}", response_model=DistrictPolicyOut, tags=["policies"])
async def put_district_policy(district: Id, body: DistrictPolicyIn, session: SessionDep, _: Admin) -> DistrictPolicyOut:
    """Add or replace a district policy version (group subsidies, city share)."""
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
