"""Each service's own SQLModel registry (its own metadata, its own Alembic history)."""

from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from shared.messaging.tables import MessagingTables, UTCDateTime, define_messaging_tables

__all__ = ["UTCDateTime", "service_registry"]


def service_registry() -> tuple[type[SQLModel], registry, MessagingTables]:
    """A base class for the service's tables, its registry, and the reliability tables in it."""
    reg = registry()

    class Row(SQLModel, registry=reg):
        pass

    return Row, reg, define_messaging_tables(reg.metadata)
