"""create_app(): the central kitchen's composition root."""

from pathlib import Path

from fastapi import FastAPI

from services.central_kitchen import service
from services.central_kitchen.adapters.tables import messaging, metadata
from services.central_kitchen.api.routes import router
from shared.app import ServiceSpec, build_app
from shared.events import CardProfileUpdated, OrderCancelled, OrderConfirmed
from shared.messaging.consumer import Subscription
from shared.settings import Settings, load_settings

NAME = "central_kitchen"


def subscriptions(app: FastAPI) -> list[Subscription]:
    return [
        Subscription(OrderConfirmed, service.record_confirmed),
        Subscription(OrderCancelled, service.record_cancelled),
        Subscription(CardProfileUpdated, service.record_diner),
    ]


def create_app(settings: Settings | None = None) -> FastAPI:
    spec = ServiceSpec(
        name=NAME,
        title="meal-assist central kitchen",
        metadata=metadata,
        tables=messaging,
        routers=[router],
        subscriptions=subscriptions,
        ui_dir=Path(__file__).parent / "ui",
    )
    return build_app(spec, settings or load_settings(NAME))
