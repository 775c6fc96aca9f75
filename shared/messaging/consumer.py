"""Durable pull consumers with an inbox (exactly-once effect) and a dead-letter table for poison."""

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import ValidationError
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import Database
from shared.events import Event, read_contract, utcnow
from shared.messaging.bus import Bus
from shared.messaging.tables import MessagingTables
from shared.metrics import EVENTS_CONSUMED

log = logging.getLogger(__name__)
Handler = Callable[[AsyncSession, Any], Awaitable[None]]


class Poison(Exception):
    """A message that can never succeed (bad payload): dead-lettered at once, not retried."""


@dataclass(frozen=True)
class Subscription:
    """One event type a service consumes and the use case that handles it."""

    event_type: type[Event]
    handler: Handler


def durable_name(service: str, subject: str) -> str:
    """`<consumer-service>--<subject>`; NATS names cannot hold dots."""
    return f"{service}--{subject.replace('.', '_')}"


class DurableConsumer:
    """Fetches, handles in one transaction with the inbox row, acks; retries with backoff, then dead-letters."""

    def __init__(
        self,
        *,
        db: Database,
        bus: Bus,
        tables: MessagingTables,
        service: str,
        subscription: Subscription,
        max_deliver: int = 5,
        backoff_s: list[float] | None = None,
        batch: int = 32,
    ) -> None:
        self.db = db
        self.bus = bus
        self.tables = tables
        self.service = service
        self.subscription = subscription
        self.subject = subscription.event_type.SUBJECT
        self.name = durable_name(service, self.subject)
        self.max_deliver = max_deliver
        self.backoff_s = backoff_s or [0.2, 1.0, 5.0]
        self.batch = batch
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=self.name)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
            self._task = None

    async def declare(self) -> None:
        config = ConsumerConfig(
            durable_name=self.name,
            filter_subject=self.subject,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=30,
            # one more than we use, so the server never drops a message before we dead-letter it
            max_deliver=self.max_deliver + 1,
        )
        await self.bus.js.add_consumer(self.bus.settings.stream_name, config)

    async def run(self) -> None:
        await self.bus.ready.wait()
        while True:
            try:
                # NATS back without its store: the bus declares the stream again, then this declares the durable again
                await self.bus.stream_ready.wait()
                await self.declare()
                sub = await self.bus.js.pull_subscribe_bind(durable=self.name, stream=self.bus.settings.stream_name)
                while True:
                    try:
                        msgs = await sub.fetch(self.batch, timeout=1)
                    except (TimeoutError, NatsTimeout):
                        continue
                    for msg in msgs:
                        await self.handle(msg)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("consumer %s: %s; resubscribing", self.name, exc)
                await asyncio.sleep(1)

    async def handle(self, msg: Msg) -> None:
        deliveries = msg.metadata.num_delivered
        try:
            event = self._parse(msg)
            outcome = await self._apply(event)
            await msg.ack()
            EVENTS_CONSUMED.labels(self.service, self.name, outcome).inc()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if isinstance(exc, Poison) or deliveries >= self.max_deliver:
                await self._dead_letter(msg, exc, deliveries)
                await msg.term()
                EVENTS_CONSUMED.labels(self.service, self.name, "dead_lettered").inc()
                log.error(
                    "consumer %s: dead-lettered seq %s after %s deliveries: %s", self.name, msg.metadata.sequence.stream, deliveries, exc
                )
            else:
                delay = self.backoff_s[min(deliveries - 1, len(self.backoff_s) - 1)]
                await msg.nak(delay=delay)
                EVENTS_CONSUMED.labels(self.service, self.name, "retried").inc()
                log.warning("consumer %s: delivery %s failed (%s); retry in %ss", self.name, deliveries, exc, delay)

    def _parse(self, msg: Msg) -> Event:
        try:
            return read_contract(self.subscription.event_type, msg.data)
        except ValidationError as exc:
            raise Poison(f"invalid {self.subject} payload: {exc.errors()[:3]}") from exc

    async def _apply(self, event: Event) -> str:
        inbox = self.tables.inbox
        try:
            async with self.db.transaction() as session:
                seen = await session.execute(
                    select(inbox.c.event_id).where(inbox.c.consumer == self.name, inbox.c.event_id == str(event.event_id))
                )
                if seen.first() is not None:
                    return "duplicate"
                await self.subscription.handler(session, event)
                await session.execute(
                    insert(inbox).values(consumer=self.name, event_id=str(event.event_id), subject=self.subject, received_at=utcnow())
                )
        except IntegrityError:
            # a twin replica recorded the same event first: its effect stands, ours rolled back
            async with self.db.sessions() as session:
                seen = await session.execute(
                    select(inbox.c.event_id).where(inbox.c.consumer == self.name, inbox.c.event_id == str(event.event_id))
                )
                if seen.first() is None:
                    raise
            return "duplicate"
        return "handled"

    async def _dead_letter(self, msg: Msg, exc: BaseException, deliveries: int) -> None:
        event_id = (msg.headers or {}).get("Nats-Msg-Id")
        if event_id is None:
            with contextlib.suppress(Exception):
                event_id = str(json.loads(msg.data).get("event_id"))
        with contextlib.suppress(IntegrityError):
            async with self.db.transaction() as session:
                await session.execute(
                    insert(self.tables.dead_letter).values(
                        consumer=self.name,
                        subject=msg.subject,
                        event_id=(event_id or "")[:64] or None,
                        stream_seq=msg.metadata.sequence.stream,
                        deliveries=deliveries,
                        payload=msg.data.decode("utf-8", errors="replace"),
                        error=f"{type(exc).__name__}: {exc}"[:4000],
                        created_at=utcnow(),
                    )
                )
