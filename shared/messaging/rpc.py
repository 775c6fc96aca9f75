"""Request/reply over NATS: a `nats.micro` service on the server side, typed calls on the client side."""

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.micro import add_service
from nats.micro.request import Request
from nats.micro.service import Service
from pydantic import BaseModel, ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import Database
from shared.events import read_contract
from shared.metrics import RPC_REQUESTS
from shared.problem import Problem

log = logging.getLogger(__name__)
ERROR_CODE_HEADER = "Nats-Service-Error-Code"
R = TypeVar("R", bound=BaseModel)


@dataclass(frozen=True)
class Endpoint:
    """One request/reply subject: its request model and the use case that answers it."""

    name: str
    subject: str
    request_model: type[BaseModel]
    handler: Callable[[AsyncSession, Any], Awaitable[BaseModel]]


class RpcUnavailable(Exception):
    """The other service did not answer in time (or nobody listens)."""


class RpcServer:
    """Serves endpoints in a queue group; each request runs in its own transaction and task."""

    def __init__(self, *, name: str, db: Database, endpoints: list[Endpoint], concurrency: int = 64) -> None:
        self.name = name
        self.db = db
        self.endpoints = endpoints
        self._limit = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self.service: Service | None = None

    async def start(self, nc: Client) -> None:
        self.service = await add_service(nc, name=self.name, version="1.0.0", queue_group=self.name)
        for endpoint in self.endpoints:
            await self.service.add_endpoint(name=endpoint.name, subject=endpoint.subject, handler=self._spawner(endpoint))

    async def stop(self) -> None:
        if self.service is not None:
            await self.service.stop()
        for task in list(self._tasks):
            task.cancel()

    def _spawner(self, endpoint: Endpoint) -> Callable[[Request], Awaitable[None]]:
        async def spawn(request: Request) -> None:
            task = asyncio.create_task(self._serve(endpoint, request))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        return spawn

    async def _serve(self, endpoint: Endpoint, request: Request) -> None:
        started = time.perf_counter()
        outcome = "ok"
        async with self._limit:
            try:
                try:
                    payload = read_contract(endpoint.request_model, request.data)
                except ValidationError as exc:
                    raise Problem(422, "validation_error", str(exc.errors()[:3])) from exc
                async with self.db.transaction() as session:
                    result = await endpoint.handler(session, payload)
                await request.respond(result.model_dump_json().encode())
            except Problem as problem:
                outcome = problem.code
                await request.respond_error(str(problem.status), problem.code, json.dumps(problem.body()).encode())
            except Exception:
                outcome = "error"
                log.exception("rpc %s failed", endpoint.subject)
                body = Problem(500, "internal_error", "the service failed to answer").body()
                await request.respond_error("500", "internal_error", json.dumps(body).encode())
        RPC_REQUESTS.labels(self.name, endpoint.name, outcome).observe(time.perf_counter() - started)


async def call(nc: Client | None, subject: str, request: BaseModel, response_model: type[R], *, timeout: float) -> R:
    """Ask another service; its problem comes back as a Problem, silence as RpcUnavailable."""
    if nc is None or not nc.is_connected:
        raise RpcUnavailable("not connected to NATS")
    try:
        msg = await nc.request(subject, request.model_dump_json().encode(), timeout=timeout)
    except (NoRespondersError, NatsTimeout, TimeoutError) as exc:
        raise RpcUnavailable(f"{subject}: {type(exc).__name__}") from exc
    headers = msg.headers or {}
    if ERROR_CODE_HEADER in headers:
        try:
            body = json.loads(msg.data)
            extra = {k: v for k, v in body.items() if k not in ("type", "title", "status", "detail", "code")}
            raise Problem(int(body["status"]), str(body["code"]), str(body.get("detail", "")), **extra)
        except (ValueError, KeyError) as exc:
            raise Problem(502, "upstream_error", f"{subject} failed: {headers.get(ERROR_CODE_HEADER)}") from exc
    return read_contract(response_model, msg.data)
