"""The reliability tables every service has in its own database."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value  # type: ignore[no-any-return]


@dataclass(frozen=True)
class MessagingTables:
    outbox: Table
    inbox: Table
    dead_letter: Table
    idempotency: Table


def define_messaging_tables(metadata: MetaData) -> MessagingTables:
    """Add outbox_event, inbox_event, dead_letter and idempotency_key to a service's metadata."""
    outbox = Table(
        "outbox_event",
        metadata,
        Column("seq", Integer, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("subject", String(200), nullable=False),
        Column("payload", Text, nullable=False),
        Column("headers", Text, nullable=False),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("sent_at", UTCDateTime(), nullable=True, index=True),
    )
    inbox = Table(
        "inbox_event",
        metadata,
        Column("consumer", String(200), primary_key=True),
        Column("event_id", String(36), primary_key=True),
        Column("subject", String(200), nullable=False),
        Column("received_at", UTCDateTime(), nullable=False),
    )
    dead_letter = Table(
        "dead_letter",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("consumer", String(200), nullable=False, index=True),
        Column("subject", String(200), nullable=False),
        Column("event_id", String(64), nullable=True),
        Column("stream_seq", BigInteger, nullable=True),
        Column("deliveries", Integer, nullable=False),
        Column("payload", Text, nullable=False),
        Column("error", Text, nullable=False),
        Column("created_at", UTCDateTime(), nullable=False),
        UniqueConstraint("consumer", "stream_seq", name="uq_dead_letter_consumer_seq"),
    )
    idempotency = Table(
        "idempotency_key",
        metadata,
        Column("scope", String(200), primary_key=True),
        Column("key", String(200), primary_key=True),
        Column("request_hash", String(64), nullable=False),
        Column("status_code", Integer, nullable=True),
        Column("response_body", Text, nullable=True),
        Column("resource_id", String(64), nullable=True),
        Column("created_at", UTCDateTime(), nullable=False),
    )
    return MessagingTables(outbox=outbox, inbox=inbox, dead_letter=dead_letter, idempotency=idempotency)
