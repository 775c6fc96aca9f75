"""Transactional outbox: events are rows written with the change, relayed to JetStream after commit."""

import asyncio
import contextlib
import json
import logging
from datetime import timedelta

from sqlalchemy import Table, delete, insert, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import Database
from shared.events import Event, new_traceparent, utcnow
from shared.messaging.bus import Bus
from shared.metrics import EVENTS_PUBLISHED, OUTBOX_PENDING

log = logging.getLogger(__name__)
OUTBOX_STAGED = "outbox_staged"  # session.info key: this transaction wrote outbox rows, wake the relay after commit


class Outbox:
    """What use cases publish through: `await outbox.publish(session, event)` stages a row."""

    def __init__(self, table: Table) -> None:
        self.table = table

    async def publish(self, session: AsyncSession, event: Event, *, traceparent: str | None = None) -> None:
        headers = {"Nats-Msg-Id": str(event.event_id), "traceparent": traceparent or new_traceparent()}
        session.info[OUTBOX_STAGED] = True
        await session.execute(
            insert(self.table).values(
                event_id=str(event.event_id),
                subject=event.SUBJECT,
                payload=event.model_dump_json(),
                headers=json.dumps(headers),
                created_at=utcnow(),
                sent_at=None,
            )
        )


class OutboxRelay:
    """Publishes unsent rows in order; marks a row sent only after JetStream acked it."""

    def __init__(self, *, db: Database, bus: Bus, table: Table, service: str, poll_s: float = 0.5, batch: int = 200) -> None:
        self.db = db
        self.bus = bus
        self.table = table
        self.service = service
        self.poll_s = poll_s
        self.batch = batch
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=f"{self.service}-outbox-relay")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
            self._task = None

    async def run(self) -> None:
        await self.bus.ready.wait()
        while True:
            try:
                await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # NATS or DB blip: keep the rows, try again later
                log.warning("outbox relay: %s", exc)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_s)

    async def drain(self) -> int:
        """Publish every unsent row; returns how many were published."""
        total = 0
        while True:
            async with self.db.sessions() as session:
                rows = (
                    await session.execute(
                        select(self.table.c.seq, self.table.c.subject, self.table.c.payload, self.table.c.headers)
                        .where(self.table.c.sent_at.is_(None))
                        .order_by(self.table.c.seq)
                        .limit(self.batch)
                    )
                ).all()
            OUTBOX_PENDING.labels(self.service).set(len(rows))
            if not rows:
                return total
            for seq, subject, payload, headers in rows:
                await self.bus.js.publish(subject, payload.encode(), headers=json.loads(headers), timeout=5)
                await self.mark_sent(seq)
                EVENTS_PUBLISHED.labels(self.service, subject).inc()
                total += 1

    async def mark_sent(self, seq: int) -> None:
        async with self.db.transaction() as session:
            await session.execute(update(self.table).where(self.table.c.seq == seq).values(sent_at=utcnow()))

    async def purge_sent(self, older_than: timedelta = timedelta(days=7)) -> int:
        async with self.db.transaction() as session:
            result = await session.execute(
                delete(self.table).where(self.table.c.sent_at.is_not(None), self.table.c.sent_at < utcnow() - older_than)
            )
        return int(getattr(result, "rowcount", 0) or 0)
