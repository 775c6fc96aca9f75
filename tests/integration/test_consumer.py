"""Durable consumers: a redelivered event changes state once; poison goes to the dead-letter table and blocks nothing."""

import asyncio
import json
import uuid

import nats
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import Database
from shared.events import OrderFailed
from shared.messaging.bus import Bus
from shared.messaging.consumer import DurableConsumer, Subscription
from shared.messaging.tables import define_messaging_tables
from tests.conftest import settings_for
from tests.helpers import eventually

metadata = MetaData()
tables = define_messaging_tables(metadata)
counter = Table("counter", metadata, Column("name", String(50), primary_key=True), Column("n", Integer, nullable=False))
pytestmark = pytest.mark.timeout(60)


async def bump(session: AsyncSession, event: OrderFailed) -> None:
    if event.reason.startswith("poison"):
        raise ValueError(f"cannot handle {event.reason}")
    await session.execute(update(counter).where(counter.c.name == "handled").values(n=counter.c.n + 1))


@pytest.fixture
async def env(databases, nats_url, clean_stream):  # type: ignore[no-untyped-def]
    url = await databases.new("consumer")
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(counter.insert().values(name="handled", n=0))
    settings = settings_for("consumer_test", database_url=url, nats_url=nats_url)
    bus = Bus(settings)
    bus.start()
    await bus.wait_ready(10)
    consumer = DurableConsumer(
        db=db,
        bus=bus,
        tables=tables,
        service="consumer_test",
        subscription=Subscription(OrderFailed, bump),
        max_deliver=3,
        backoff_s=[0.05, 0.1],
    )
    consumer.start()
    nc = await nats.connect(nats_url)
    yield db, nc.jetstream(), consumer
    await consumer.stop()
    await nc.close()
    await bus.close()
    await db.dispose()


async def _handled(db: Database) -> int:
    async with db.sessions() as s:
        return int(await s.scalar(select(counter.c.n)) or 0)


async def _count(db: Database, table: Table) -> int:
    async with db.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(table)) or 0)


async def test_same_event_delivered_twice_changes_state_once(env) -> None:  # type: ignore[no-untyped-def]
    db, js, _ = env
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


async def _count_is(db: Database, table: Table, n: int) -> bool:
    return await _count(db, table) == n


async def test_poison_message_is_dead_lettered_and_does_not_block_the_rest(env) -> None:  # type: ignore[no-untyped-def]
    db, js, _ = env
    await js.publish(
        OrderFailed.SUBJECT, OrderFailed(order_id=uuid.uuid4(), reason="poison: handler always fails").model_dump_json().encode()
    )
    await js.publish(OrderFailed.SUBJECT, b"{not json at all")
    for _ in range(5):
        await js.publish(OrderFailed.SUBJECT, OrderFailed(order_id=uuid.uuid4(), reason="fine").model_dump_json().encode())
    await eventually(lambda: _count_is(db, tables.dead_letter, 2), timeout=15)
    assert await _handled(db) == 5, "the messages behind the poison were processed"
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
