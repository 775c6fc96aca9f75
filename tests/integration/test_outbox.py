"""The transactional outbox: no event for a rolled-back change; a crash after publish loses nothing and duplicates nothing."""

import asyncio

import nats
import pytest
from sqlalchemy import MetaData, func, select

from shared.db import Database
from shared.events import OrderFulfilled
from shared.messaging.bus import Bus
from shared.messaging.outbox import Outbox, OutboxRelay
from shared.messaging.tables import define_messaging_tables
from tests.conftest import settings_for

metadata = MetaData()
tables = define_messaging_tables(metadata)
pytestmark = pytest.mark.timeout(60)


async def _setup(url: str, nats_url: str) -> tuple[Database, Bus]:
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    bus = Bus(settings_for("outbox_test", database_url=url, nats_url=nats_url))
    bus.start()
    await bus.wait_ready(10)
    return db, bus


async def _stream_count(nats_url: str) -> int:
    nc = await nats.connect(nats_url)
    info = await nc.jetstream().stream_info("MEALS")
    await nc.close()
    return int(info.state.messages)


async def _unsent(db: Database) -> int:
    async with db.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(tables.outbox).where(tables.outbox.c.sent_at.is_(None))) or 0)


async def _stage(db: Database, outbox: Outbox, n: int) -> list[OrderFulfilled]:
    events = [OrderFulfilled(order_id=__import__("uuid").uuid4()) for _ in range(n)]
    async with db.transaction() as s:
        for e in events:
            await outbox.publish(s, e)
    return events


@pytest.fixture
async def outbox_env(databases, nats_url, clean_stream):  # type: ignore[no-untyped-def]
    url = await databases.new("outbox")
    db, bus = await _setup(url, nats_url)
    yield db, bus, Outbox(tables.outbox)
    await bus.close()
    await db.dispose()


async def test_rolled_back_transaction_publishes_nothing(outbox_env, nats_url) -> None:  # type: ignore[no-untyped-def]
    db, bus, outbox = outbox_env
    with pytest.raises(RuntimeError):
        async with db.transaction() as s:
            await outbox.publish(s, OrderFulfilled(order_id=__import__("uuid").uuid4()))
            raise RuntimeError("the use case failed after staging its event")
    relay = OutboxRelay(db=db, bus=bus, table=tables.outbox, service="t")
    assert await relay.drain() == 0
    assert await _stream_count(nats_url) == 0
    async with db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(tables.outbox)) == 0


class CrashAfterPublish(OutboxRelay):
    """Publishes, then dies before recording the row as sent (the crash window the outbox must survive)."""

    crashes = 0

    async def mark_sent(self, seq: int) -> None:
        if self.crashes < 2:
            self.crashes += 1
            raise SystemError("process died between the publish ack and the commit")
        await super().mark_sent(seq)


async def test_crash_between_publish_and_mark_loses_nothing_and_publishes_once(outbox_env, nats_url) -> None:  # type: ignore[no-untyped-def]
    db, bus, outbox = outbox_env
    events = await _stage(db, outbox, 5)
    crashing = CrashAfterPublish(db=db, bus=bus, table=tables.outbox, service="t")
    with pytest.raises(SystemError):
        await crashing.drain()
    with pytest.raises(SystemError):
        await crashing.drain()
    assert await _unsent(db) == 5, "rows stay unsent until their publish is recorded"
    restarted = OutboxRelay(db=db, bus=bus, table=tables.outbox, service="t")
    assert await restarted.drain() == 5
    assert await _unsent(db) == 0
    assert await _stream_count(nats_url) == 5, "JetStream dedupe (Nats-Msg-Id = event id) absorbed the re-publish"
    nc = await nats.connect(nats_url)
    sub = await nc.jetstream().pull_subscribe("order.fulfilled.v1", durable="check", stream="MEALS")
    msgs = await sub.fetch(10, timeout=2)
    assert [m.headers["Nats-Msg-Id"] for m in msgs] == [str(e.event_id) for e in events], "published once each, in order"
    assert all(m.headers["traceparent"].startswith("00-") for m in msgs)
    await nc.close()


async def test_killed_relay_task_is_restarted_and_delivers_everything(outbox_env, nats_url) -> None:  # type: ignore[no-untyped-def]
    db, bus, outbox = outbox_env
    await _stage(db, outbox, 20)

    class Stuck(OutboxRelay):
        async def mark_sent(self, seq: int) -> None:
            await asyncio.sleep(3600)  # hangs after its first publish until killed

    stuck = Stuck(db=db, bus=bus, table=tables.outbox, service="t")
    stuck.start()
    await asyncio.sleep(0.5)
    await stuck.stop()  # kill it mid-flight
    assert await _stream_count(nats_url) == 1
    relay = OutboxRelay(db=db, bus=bus, table=tables.outbox, service="t", poll_s=0.05)
    relay.start()
    try:
        for _ in range(100):
            if await _unsent(db) == 0:
                break
            await asyncio.sleep(0.05)
    finally:
        await relay.stop()
    assert await _unsent(db) == 0
    assert await _stream_count(nats_url) == 20


async def test_rows_written_in_a_raw_insert_are_relayed_in_commit_order(outbox_env, nats_url) -> None:  # type: ignore[no-untyped-def]
    db, bus, outbox = outbox_env
    first = await _stage(db, outbox, 2)
    second = await _stage(db, outbox, 2)
    relay = OutboxRelay(db=db, bus=bus, table=tables.outbox, service="t")
    assert await relay.drain() == 4
    nc = await nats.connect(nats_url)
    sub = await nc.jetstream().pull_subscribe("order.fulfilled.v1", durable="order-check", stream="MEALS")
    msgs = await sub.fetch(10, timeout=2)
    assert [m.headers["Nats-Msg-Id"] for m in msgs] == [str(e.event_id) for e in first + second]
    await nc.close()
