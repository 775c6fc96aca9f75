"""HTTP Idempotency-Key: the first response is stored with a request hash, in the same transaction as the change."""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from fastapi import Response
from sqlalchemy import Table, and_, delete, insert, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.errors import Problem
from shared.events import utcnow
from shared.problem import PROBLEM

MAX_KEY = 200


@dataclass(frozen=True)
class Reply:
    """An HTTP answer as a use case decides it (status, JSON body, headers); the route sends it, the key store keeps it."""

    status_code: int
    body: str
    headers: dict[str, str]

    def response(self) -> Response:
        media = PROBLEM if self.status_code >= 400 else "application/json"
        return Response(content=self.body.encode(), status_code=self.status_code, media_type=media, headers=self.headers)


@dataclass(frozen=True)
class Stored:
    """A key already seen: its resource and, once finished, the response to replay."""

    resource_id: str | None
    status_code: int | None
    body: str | None
    headers: dict[str, str]

    def reply(self) -> Reply:
        assert self.status_code is not None and self.body is not None
        return Reply(self.status_code, self.body, self.headers)


def request_hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def require_key(key: str | None) -> str:
    if not key or not key.strip():
        raise Problem(400, "idempotency_key_required", "send an Idempotency-Key header (a new UUID per purchase)")
    if len(key) > MAX_KEY:
        raise Problem(400, "idempotency_key_invalid", f"Idempotency-Key is limited to {MAX_KEY} characters")
    return key.strip()


class IdempotencyStore:
    """Reads, claims and completes keys in the service's idempotency_key table."""

    def __init__(self, table: Table) -> None:
        self.table = table

    async def find(self, session: AsyncSession, *, scope: str, key: str, digest: str) -> Stored | None:
        t = self.table
        row = (
            await session.execute(
                select(t.c.request_hash, t.c.resource_id, t.c.status_code, t.c.response_body).where(t.c.scope == scope, t.c.key == key)
            )
        ).first()
        if row is None:
            return None
        if row.request_hash != digest:
            raise Problem(409, "idempotency_key_reused", "this Idempotency-Key was already used with a different request")
        body, headers = _split(row.response_body)
        return Stored(resource_id=row.resource_id, status_code=row.status_code, body=body, headers=headers)

    async def claim(self, session: AsyncSession, *, scope: str, key: str, digest: str, resource_id: str) -> None:
        await session.execute(
            insert(self.table).values(scope=scope, key=key, request_hash=digest, resource_id=resource_id, created_at=utcnow())
        )

    async def complete(
        self, session: AsyncSession, *, scope: str, key: str, status_code: int, body: str, headers: dict[str, str] | None = None
    ) -> None:
        packed = json.dumps({"body": body, "headers": headers or {}})
        t = self.table
        await session.execute(update(t).where(t.c.scope == scope, t.c.key == key).values(status_code=status_code, response_body=packed))

    async def release(self, session: AsyncSession, *, scope: str, key: str) -> None:
        """A request that failed does not burn its key."""
        await session.execute(delete(self.table).where(self.table.c.scope == scope, self.table.c.key == key))

    async def settle_unanswered(self, session: AsyncSession, *, resource_id: str, reply: Reply | None) -> None:
        """A request that never got its answer (the process died mid-way) and was finished later, by a recovery pass:
        keep that answer for the key's replays, or free the key when the outcome was a failure (`reply` None)."""
        t = self.table
        unanswered = and_(t.c.resource_id == resource_id, t.c.status_code.is_(None))
        if reply is None:
            await session.execute(delete(t).where(unanswered))
        else:
            packed = json.dumps({"body": reply.body, "headers": reply.headers})
            await session.execute(update(t).where(unanswered).values(status_code=reply.status_code, response_body=packed))


def _split(packed: str | None) -> tuple[str | None, dict[str, str]]:
    if packed is None:
        return None, {}
    data = json.loads(packed)
    return str(data["body"]), dict(data["headers"])
