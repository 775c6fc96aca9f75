"""The composition every service shares: lifespan (DB, NATS, outbox relay, consumers, RPC), health, metrics."""

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import MetaData
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.db import Database
from shared.messaging.bus import Bus
from shared.messaging.consumer import DurableConsumer, Subscription
from shared.messaging.outbox import OUTBOX_STAGED, Outbox, OutboxRelay
from shared.messaging.rpc import Endpoint, RpcServer
from shared.messaging.tables import MessagingTables
from shared.metrics import HTTP_REQUESTS, metrics_response
from shared.problem import Problem, install_problem_handlers, problem_response
from shared.settings import Settings

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1_000_000


@dataclass
class ServiceSpec:
    """What makes one service: its tables, routes, consumed events, RPC endpoints and page."""

    name: str
    title: str
    metadata: MetaData
    tables: MessagingTables
    routers: list[APIRouter]
    subscriptions: Callable[[FastAPI], list[Subscription]] = lambda app: []
    endpoints: Callable[[FastAPI], list[Endpoint]] = lambda app: []
    background: list[Callable[[FastAPI], Coroutine[Any, Any, None]]] = field(default_factory=list)
    ui_dir: Path | None = None


def build_app(spec: ServiceSpec, settings: Settings) -> FastAPI:
    settings.check_secure()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db, bus, relay = app.state.db, app.state.bus, app.state.relay
        consumers = [
            DurableConsumer(
                db=db,
                bus=bus,
                tables=spec.tables,
                service=spec.name,
                subscription=sub,
                max_deliver=settings.consumer_max_deliver,
                backoff_s=settings.consumer_backoff_s,
            )
            for sub in spec.subscriptions(app)
        ]
        rpc = RpcServer(name=spec.name, db=db, endpoints=spec.endpoints(app)) if spec.endpoints(app) else None
        app.state.rpc = rpc
        app.state.consumers = consumers
        bus.start()
        relay.start()
        for consumer in consumers:
            consumer.start()
        tasks: list[asyncio.Task[None]] = [asyncio.create_task(job(app), name=getattr(job, "__name__", "job")) for job in spec.background]
        if rpc is not None:
            tasks.append(asyncio.create_task(_serve_rpc(bus, rpc)))
        try:
            yield
        finally:
            # every step is bounded: a stuck peer must not keep the process (or a test) from stopping
            for task in tasks:
                task.cancel()
            await _bounded(asyncio.gather(*tasks, return_exceptions=True), "background tasks")
            if rpc is not None:
                await _bounded(rpc.stop(), "request/reply endpoints")
            await _bounded(asyncio.gather(*(c.stop() for c in consumers), return_exceptions=True), "consumers")
            await _bounded(relay.stop(), "outbox relay")
            await _bounded(bus.close(), "NATS connection")
            await _bounded(db.dispose(), "database pool")

    app = FastAPI(title=spec.title, version="1.0.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.db = Database(settings.db_url)
    app.state.outbox = Outbox(spec.tables.outbox)
    app.state.bus = Bus(settings)
    app.state.relay = OutboxRelay(
        db=app.state.db, bus=app.state.bus, table=spec.tables.outbox, service=spec.name, poll_s=settings.relay_poll_s
    )
    app.state.db.after_commit[OUTBOX_STAGED] = app.state.relay.wake
    app.state.tables = spec.tables
    install_problem_handlers(app)
    _install_middleware(app, spec.name)
    _install_health(app)
    for router in spec.routers:
        app.include_router(router)
    if spec.ui_dir is not None and (spec.ui_dir / "static").is_dir():
        app.mount("/static", StaticFiles(directory=spec.ui_dir / "static"), name="static")
    return app


async def _bounded(step: Awaitable[object], what: str, seconds: float = 5.0) -> None:
    try:
        await asyncio.wait_for(step, seconds)
    except TimeoutError:
        log.error("shutdown: %s did not stop within %ss; going on", what, seconds)
    except Exception:
        log.exception("shutdown: %s failed; going on", what)


async def _serve_rpc(bus: Bus, rpc: RpcServer) -> None:
    await bus.ready.wait()
    assert bus.nc is not None
    await rpc.start(bus.nc)


class BodyLimit:
    """413 for a body over the limit, whether announced by Content-Length or sent in chunks without one."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await self._too_large(scope, receive, send)
            return
        if length is not None:
            await self.app(scope, receive, send)
            return
        # no Content-Length: read (at most limit + 1 bytes) before the app does, then replay what was read
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(Problem(413, "payload_too_large", f"bodies are limited to {self.limit} bytes"))
        await response(scope, receive, send)


def _install_middleware(app: FastAPI, service: str) -> None:
    app.add_middleware(BodyLimit)

    @app.middleware("http")
    async def measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        HTTP_REQUESTS.labels(service, request.method, path, str(response.status_code)).observe(time.perf_counter() - started)
        return response


def _install_health(app: FastAPI) -> None:
    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz(request: Request) -> JSONResponse:
        db_ok = await request.app.state.db.ping()
        bus = getattr(request.app.state, "bus", None)
        nats_state = bus.state if bus is not None else "down"  # no_stream: NATS answers, but events would go nowhere
        body = {"database": "ok" if db_ok else "down", "nats": nats_state}
        if db_ok and nats_state == "ok":
            return JSONResponse({"status": "ready", **body})
        problem = Problem(503, "not_ready", f"database {body['database']}, nats {body['nats']}", checks=body)
        return problem_response(problem)

    @app.get("/metrics", tags=["health"], include_in_schema=False)
    async def metrics() -> Response:
        return metrics_response()
