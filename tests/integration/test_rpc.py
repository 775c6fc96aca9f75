"""Request/reply on nats.micro (shared/messaging/rpc.py) against a real nats-server: a reply, a problem with its status
and code, silence as RpcUnavailable, and a queue group of two responders that answers each request exactly once."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import nats
import pytest
from nats.aio.client import Client
from pydantic import BaseModel, Field
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import Database
from shared.errors import Problem
from shared.messaging.rpc import Endpoint, RpcServer, RpcUnavailable, call

pytestmark = pytest.mark.timeout(60)
SUBJECT = "rpc_test.echo"


class Ask(BaseModel):
    n: int = Field(ge=0)
    fail: str = ""


class Answer(BaseModel):
    n: int
    doubled: int
    by: str


def echo(by: str, seen: list[tuple[str, int]]) -> Callable[[AsyncSession, Ask], Awaitable[Answer]]:
    async def handler(_session: AsyncSession, ask: Ask) -> Answer:
        seen.append((by, ask.n))
        if ask.fail == "problem":
            raise Problem(409, "insufficient_balance", f"{ask.n} fen short", balance_fen=ask.n)
        if ask.fail == "crash":
            raise RuntimeError("a bug")
        if ask.fail == "slow":
            await asyncio.sleep(5)
        return Answer(n=ask.n, doubled=2 * ask.n, by=by)

    return handler


@pytest.fixture
async def connect(nats_url: str) -> AsyncIterator[Callable[[], Awaitable[Client]]]:
    clients: list[Client] = []

    async def make() -> Client:
        clients.append(await nats.connect(nats_url))
        return clients[-1]

    yield make
    for nc in clients:
        await nc.close()


@pytest.fixture
async def serve(connect, databases) -> AsyncIterator[Callable[[str, list[tuple[str, int]]], Awaitable[RpcServer]]]:  # type: ignore[no-untyped-def]
    """Start a responder of the `rpc_test` service (its own connection, as a replica would have)."""
    db = Database(await databases.new("rpc"))
    servers: list[RpcServer] = []

    async def start(by: str, seen: list[tuple[str, int]]) -> RpcServer:
        server = RpcServer(name="rpc_test", db=db, endpoints=[Endpoint("echo", SUBJECT, Ask, echo(by, seen))])
        await server.start(await connect())
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()
    await db.dispose()


async def test_a_request_gets_its_typed_reply(serve, connect) -> None:  # type: ignore[no-untyped-def]
    seen: list[tuple[str, int]] = []
    await serve("a", seen)
    answer = await call(await connect(), SUBJECT, Ask(n=21), Answer, timeout=2)
    assert answer == Answer(n=21, doubled=42, by="a") and seen == [("a", 21)]


async def test_a_problem_comes_back_as_a_problem_with_its_status_code_and_fields(serve, connect) -> None:  # type: ignore[no-untyped-def]
    await serve("a", [])
    nc = await connect()
    with pytest.raises(Problem) as declined:
        await call(nc, SUBJECT, Ask(n=7, fail="problem"), Answer, timeout=2)
    assert (declined.value.status, declined.value.code, declined.value.detail) == (409, "insufficient_balance", "7 fen short")
    assert declined.value.extra == {"balance_fen": 7}

    with pytest.raises(Problem) as crashed:
        await call(nc, SUBJECT, Ask(n=1, fail="crash"), Answer, timeout=2)
    assert (crashed.value.status, crashed.value.code) == (500, "internal_error"), "a bug is a 500 problem, not silence"

    class Invalid(BaseModel):
        n: int

    with pytest.raises(Problem) as invalid:
        await call(nc, SUBJECT, Invalid(n=-1), Answer, timeout=2)
    assert (invalid.value.status, invalid.value.code) == (422, "validation_error"), "the responder checks what it is sent"


async def test_nobody_listening_or_answering_in_time_is_rpc_unavailable(serve, connect) -> None:  # type: ignore[no-untyped-def]
    nc = await connect()
    with pytest.raises(RpcUnavailable):
        await call(nc, SUBJECT, Ask(n=1), Answer, timeout=1)  # no responder at all
    await serve("a", [])
    with pytest.raises(RpcUnavailable):
        await call(nc, SUBJECT, Ask(n=1, fail="slow"), Answer, timeout=0.5)  # a responder too slow to answer
    with pytest.raises(RpcUnavailable):
        await call(None, SUBJECT, Ask(n=1), Answer, timeout=1)  # not connected


async def test_two_responders_in_the_queue_group_answer_each_request_exactly_once(serve, connect) -> None:  # type: ignore[no-untyped-def]
    seen: list[tuple[str, int]] = []
    await serve("a", seen)
    await serve("b", seen)
    nc = await connect()
    answers = await asyncio.gather(*(call(nc, SUBJECT, Ask(n=n), Answer, timeout=5) for n in range(60)))
    assert [a.doubled for a in answers] == [2 * n for n in range(60)]
    assert sorted(n for _, n in seen) == list(range(60)), "each request handled once, by one responder"
    assert {by for by, _ in seen} == {"a", "b"}, "the queue group shares the requests"
    assert [(a.by, a.n) for a in answers] == [next(s for s in seen if s[1] == a.n) for a in answers]


async def test_a_reply_with_a_field_the_caller_does_not_know_is_read(connect) -> None:  # type: ignore[no-untyped-def]
    nc = await connect()

    async def newer_responder(msg: nats.aio.msg.Msg) -> None:
        await msg.respond(b'{"n": 1, "doubled": 2, "by": "new", "currency": "CNY"}')

    await nc.subscribe(SUBJECT, cb=newer_responder)
    assert await call(nc, SUBJECT, Ask(n=1), Answer, timeout=2) == Answer(n=1, doubled=2, by="new")
