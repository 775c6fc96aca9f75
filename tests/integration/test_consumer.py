"""Durable consumers: a redelivered event changes state once; poison goes to the dead-letter table and blocks nothing;
an unknown field is ignored; a NATS that comes back with an empty store gets its stream and durables again."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import nats
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import Database
from shared.devstack import free_port
from shared.events import OrderFailed
from shared.messaging.bus import Bus
from shared.messaging.consumer import DurableConsumer, Subscription
from shared.messaging.outbox import OUTBOX_STAGED, Outbox, OutboxRelay
from shared.messaging.tables import define_messaging_tables
from tests.conftest import Databases, settings_for
from tests.helpers import eventually
from tests.nats_process import NatsProcess

metadata = MetaData()
tables = define_messaging_tables(metadata)
counter = Table("counter", metadata, Column("name", String(50), primary_key=True), Column("n", Integer, nullable=False))
pytestmark = pytest.mark.timeout(60)


async def bump(session: AsyncSession, event: OrderFailed) -> None:
    if event.reason.startswith("poison"):
        raise ValueError(f"cannot handle {event.reason}")
    await session.execute(update(counter).where(counter.c.name == "handled").values(n=counter.c.n + 1))


@asynccontextmanager
async def consuming(databases: Databases, nats_url: str, backoff_s: list[float] | None = None) -> AsyncIterator[tuple[Database, Bus]]:
    """A database with the counter, a bus and a consumer of order.failed.v1 that bumps it."""
    url = await databases.new("consumer")
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(counter.insert().values(name="handled", n=0))
    bus = Bus(settings_for("consumer_test", database_url=url, nats_url=nats_url, stream_check_s=0.2))
    bus.start()
    await bus.wait_ready(10)
    consumer = DurableConsumer(
        db=db,
        bus=bus,
        tables=tables,
        service="consumer_test",
        subscription=Subscription(OrderFailed, bump),
        max_deliver=3,
        backoff_s=backoff_s or [0.05, 0.1],
    )
    consumer.start()
    try:
        yield db, bus
    finally:
        await consumer.stop()
        await bus.close()
        await db.dispose()


@pytest.fixture
async def js(nats_url: str, clean_stream: None) -> AsyncIterator[nats.js.JetStreamContext]:
    nc = await nats.connect(nats_url)
    yield nc.jetstream()
    await nc.close()


@pytest.fixture
async def env(databases, nats_url, js):  # type: ignore[no-untyped-def]
    async with consuming(databases, nats_url) as (db, _bus):
        yield db, js


async def _handled(db: Database) -> int:
    async with db.sessions() as s:
        return int(await s.scalar(select(counter.c.n)) or 0)


async def _count(db: Database, table: Table) -> int:
    async with db.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(table)) or 0)


async def _count_is(db: Database, table: Table, n: int) -> bool:
    return await _count(db, table) == n


async def _handled_is(db: Database, n: int) -> bool:
    return await _handled(db) == n


async def test_same_event_delivered_twice_changes_state_once(env) -> None:  # type: ignore[no-untyped-def]
    db, js = env
    event = OrderFailed(order_id=uuid.uuid4(), reason="no_answer")
    # two copies with different message ids get past JetStream's dedupe, as a redelivery would
    await js.publish(OrderFailed.SUBJECT, event.model_dump_json().encode(), headers={"Nats-Msg-Id": "copy-1"})
    await js.publish(OrderFailed.SUBJECT, event.model_dump_json().encode(), headers={"Nats-Msg-Id": "copy-2"})
    other = OrderFailed(order_id=uuid.uuid4(), reason="no_answer")
    await js.publish(OrderFailed.SUBJECT, other.model_dump_json().encode())
    await eventually(lambda: _count_is(db, tables.inbox, 2))
    await asyncio.sleep(0.3)
    assert await _handled(db) == 2, "two distinct events, the duplicate ignored"
    assert await _count(db, tables.inbox) == 2


async def test_an_event_with_a_field_this_consumer_does_not_know_is_handled(env) -> None:  # type: ignore[no-untyped-def]
    db, js = env
    newer = json.loads(OrderFailed(order_id=uuid.uuid4(), reason="no_answer").model_dump_json()) | {"retry_after_s": 30}
    await js.publish(OrderFailed.SUBJECT, json.dumps(newer).encode())
    await eventually(lambda: _handled_is(db, 1))
    assert await _count(db, tables.dead_letter) == 0, "API.md: fields may be added freely, so a consumer ignores them"


async def test_poison_message_is_dead_lettered_and_does_not_block_the_rest(databases, nats_url, js) -> None:  # type: ignore[no-untyped-def]
    # a slow backoff: the poison stays in its retries for ~3 s, time enough to see the others pass it
    async with consuming(databases, nats_url, backoff_s=[1.5]) as (db, _bus):
        await js.publish(
            OrderFailed.SUBJECT, OrderFailed(order_id=uuid.uuid4(), reason="poison: handler always fails").model_dump_json().encode()
        )
        await js.publish(OrderFailed.SUBJECT, b"{not json at all")
        for _ in range(5):
            await js.publish(OrderFailed.SUBJECT, OrderFailed(order_id=uuid.uuid4(), reason="fine").model_dump_json().encode())
        await eventually(lambda: _handled_is(db, 5), timeout=15)
        async with db.sessions() as s:
            failing_now = await s.scalar(
                select(func.count()).select_from(tables.dead_letter).where(tables.dead_letter.c.error.like("ValueError%"))
            )
        assert failing_now == 0, "the messages behind the poison were handled while it was still being retried, not after"
        await eventually(lambda: _count_is(db, tables.dead_letter, 2), timeout=15)
        assert await _handled(db) == 5
        async with db.sessions() as s:
            rows = (await s.execute(select(tables.dead_letter).order_by(tables.dead_letter.c.stream_seq))).mappings().all()
        failing, malformed = rows
        assert failing["deliveries"] == 3, "retried up to max_deliver before giving up"
        assert "ValueError: cannot handle poison" in failing["error"]
        assert json.loads(failing["payload"])["reason"].startswith("poison")
        assert malformed["deliveries"] == 1, "a payload that can never parse is not retried"
        assert "Poison" in malformed["error"]
        assert malformed["payload"] == "{not json at all"
        await asyncio.sleep(0.5)
        assert await _count(db, tables.dead_letter) == 2, "terminated messages are not redelivered"


async def test_nats_back_with_an_empty_store_gets_the_stream_and_the_durable_again(databases, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = NatsProcess(free_port(), tmp_path / "nats").start()
    try:
        async with consuming(databases, server.url) as (db, bus):
            outbox = Outbox(tables.outbox)
            relay = OutboxRelay(db=db, bus=bus, table=tables.outbox, service="consumer_test", poll_s=0.1)
            db.after_commit[OUTBOX_STAGED] = relay.wake
            relay.start()

            async def publish() -> None:
                async with db.transaction() as session:
                    await outbox.publish(session, OrderFailed(order_id=uuid.uuid4(), reason="no_answer"))

            try:
                await publish()
                await eventually(lambda: _handled_is(db, 1))

                server.stop()
                server.start(store=tmp_path / "nats-empty")  # the same port, a new store: no stream, no durables
                await publish()
                await eventually(lambda: _handled_is(db, 2), timeout=20)

                nc = await nats.connect(server.url)  # someone deletes the stream while everyone is connected
                await nc.jetstream().delete_stream("MEALS")
                await nc.close()
                await publish()
                await eventually(lambda: _handled_is(db, 3), timeout=20)
            finally:
                await relay.stop()
    finally:
        server.stop()
