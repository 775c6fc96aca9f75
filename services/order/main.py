"""create_app(): the order service's composition root."""

import asyncio
import logging
from datetime import timedelta
from functools import partial
from pathlib import Path

from fastapi import FastAPI

from services.order import service
from services.order.adapters.tables import messaging, metadata
from services.order.api.pages import pages
from services.order.api.routes import router
from shared.app import ServiceSpec, build_app
from shared.events import FoodSafetyBreach, MenuPublished, SiteUpserted, StopDelivered, StopFailed, local_now
from shared.idempotency import IdempotencyStore
from shared.messaging.consumer import Subscription
from shared.settings import Settings, load_settings

NAME = "order"
log = logging.getLogger(__name__)


def subscriptions(app: FastAPI) -> list[Subscription]:
    outbox = app.state.outbox
    return [
        Subscription(SiteUpserted, service.record_site),
        Subscription(MenuPublished, service.record_menu),
        Subscription(StopDelivered, partial(service.record_delivered, outbox=outbox)),
        Subscription(StopFailed, partial(service.record_stop_failed, outbox=outbox)),
        Subscription(FoodSafetyBreach, partial(service.record_breach, outbox=outbox)),
    ]


async def recovery_loop(app: FastAPI) -> None:
    """Re-drive sagas left pending, every few seconds, for as long as the service runs."""
    settings: Settings = app.state.settings
    await app.state.bus.ready.wait()
    while True:
        try:
            await app.state.checkout.recover_once(older_than=timedelta(seconds=settings.rpc_timeout_s * 2))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("recovery pass failed")
        await asyncio.sleep(settings.recovery_interval_s)


async def standing_order_loop(app: FastAPI) -> None:
    """Materialise standing orders into pre-orders, at start and then every few minutes."""
    settings: Settings = app.state.settings
    await app.state.bus.ready.wait()
    while True:
        try:
            await app.state.checkout.materialize(now_local=local_now(settings.timezone), horizon_days=settings.standing_order_horizon_days)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("standing-order pass failed")
        await asyncio.sleep(settings.standing_order_interval_s)


def create_app(settings: Settings | None = None) -> FastAPI:
    spec = ServiceSpec(
        name=NAME,
        title="meal-assist order",
        metadata=metadata,
        tables=messaging,
        routers=[router, pages],
        subscriptions=subscriptions,
        background=[recovery_loop, standing_order_loop],
        ui_dir=Path(__file__).parent / "ui",
    )
    app = build_app(spec, settings or load_settings(NAME))
    app.state.checkout = service.Checkout(
        db=app.state.db,
        outbox=app.state.outbox,
        bus=app.state.bus,
        idempotency=IdempotencyStore(messaging.idempotency),
        settings=app.state.settings,
    )
    return app
