"""create_app(): pricing's composition root."""

from functools import partial

from fastapi import FastAPI

from services.pricing import service
from services.pricing.adapters.tables import messaging, metadata
from services.pricing.api.pages import UI_DIR, admin_pages
from services.pricing.api.routes import router
from shared.app import ServiceSpec, build_app
from shared.events import (
    CHARGE_SUBJECT,
    QUOTE_SUBJECT,
    REFUND_SUBJECT,
    ChargeRequest,
    MenuPublished,
    QuoteRequest,
    RefundRequest,
    SiteUpserted,
)
from shared.messaging.consumer import Subscription
from shared.messaging.rpc import Endpoint
from shared.settings import Settings, load_settings

NAME = "pricing"


def subscriptions(app: FastAPI) -> list[Subscription]:
    return [Subscription(SiteUpserted, service.record_site), Subscription(MenuPublished, service.record_menu)]


def endpoints(app: FastAPI) -> list[Endpoint]:
    tz = app.state.settings.timezone
    return [
        Endpoint("quote", QUOTE_SUBJECT, QuoteRequest, service.quote),
        Endpoint("charge", CHARGE_SUBJECT, ChargeRequest, partial(service.charge, tz=tz)),
        Endpoint("refund", REFUND_SUBJECT, RefundRequest, partial(service.refund, tz=tz)),
    ]


def create_app(settings: Settings | None = None) -> FastAPI:
    spec = ServiceSpec(
        name=NAME,
        title="meal-assist pricing",
        metadata=metadata,
        tables=messaging,
        routers=[router, admin_pages()],
        subscriptions=subscriptions,
        endpoints=endpoints,
        ui_dir=UI_DIR,
    )
    return build_app(spec, settings or load_settings(NAME))
