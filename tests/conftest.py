"""Fixtures: a real nats-server per test session, fresh real databases (SQLite, and PostgreSQL when asked)."""

import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from nats.js.errors import NotFoundError
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from shared.auth import issue_token
from shared.devstack import SERVICES, Stack, free_port, nats_server_binary, reachable
from shared.migrations import upgrade_async
from shared.settings import DEV_SECRET, Settings, load_settings

PG_URL = os.environ.get("TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", "postgres"] if PG_URL else ["sqlite"]


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real nats-server with JetStream on a free port, for the whole test session."""
    port = free_port()
    store = tmp_path_factory.mktemp("nats")
    proc = subprocess.Popen(
        [nats_server_binary(), "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(store)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            if reachable("127.0.0.1", port):
                break
            proc.wait(0.05) if proc.poll() is not None else __import__("time").sleep(0.05)
        else:
            raise RuntimeError("nats-server did not start")
        yield f"nats://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(store, ignore_errors=True)


async def delete_stream(nats_url: str) -> None:
    """Tests share one server: each starts with no stream and no consumers."""
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().delete_stream("MEALS")
    except NotFoundError:
        pass
    await nc.close()


@pytest.fixture
async def clean_stream(nats_url: str) -> AsyncIterator[None]:
    await delete_stream(nats_url)
    yield


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Databases:
    """Creates fresh databases for a test and drops them afterwards."""

    def __init__(self, backend: str, tmp_path: Path) -> None:
        self.backend = backend
        self.tmp_path = tmp_path
        self.created: list[str] = []

    async def new(self, name: str) -> str:
        if self.backend == "sqlite":
            return f"sqlite+aiosqlite:///{self.tmp_path / (name + '-' + uuid.uuid4().hex[:6] + '.db')}"
        db_name = f"t_{name}_{uuid.uuid4().hex[:10]}"
        admin = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'CREATE DATABASE "{db_name}"')
        await admin.dispose()
        self.created.append(db_name)
        return make_url(PG_URL).set(database=db_name).render_as_string(hide_password=False)

    async def drop_all(self) -> None:
        if not self.created:
            return
        admin = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
        async with admin.connect() as conn:
            for db_name in self.created:
                await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        await admin.dispose()


@pytest.fixture
async def databases(backend: str, tmp_path: Path) -> AsyncIterator[Databases]:
    dbs = Databases(backend, tmp_path)
    yield dbs
    await dbs.drop_all()


@pytest.fixture
async def migrated_db(databases: Databases) -> Callable[[str], Awaitable[str]]:
    """A fresh database at the head of a service's Alembic history."""

    async def make(service: str) -> str:
        url = await databases.new(service)
        await upgrade_async(service, url)
        return url

    return make


def settings_for(service: str, *, database_url: str, nats_url: str, **overrides: Any) -> Settings:
    defaults: dict[str, Any] = {
        "app_env": "test",
        "database_url": database_url,
        "nats_url": nats_url,
        "relay_poll_s": 0.1,
        "consumer_backoff_s": [0.05, 0.1, 0.2],
        "consumer_max_deliver": 3,
        "rpc_timeout_s": 2.0,
        "recovery_interval_s": 0.3,
    }
    return load_settings(service, **{**defaults, **overrides})


@pytest.fixture
def token() -> Callable[..., dict[str, str]]:
    """Authorization headers for a role (and its scope), signed with the dev secret."""

    def make(role: str, scope: str | None = None, secret: str = DEV_SECRET, sub: str | None = None) -> dict[str, str]:
        return {"Authorization": "Bearer " + issue_token(secret, sub=sub or f"{role}-{scope or 'x'}", role=role, scope=scope)}

    return make


@asynccontextmanager
async def running_app(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan (DB, NATS, relay, consumers) and an in-process HTTP client."""
    async with app.router.lifespan_context(app):
        await app.state.bus.wait_ready(15)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            yield client


@pytest.fixture
async def start_service(
    nats_url: str, clean_stream: None, migrated_db: Callable[[str], Awaitable[str]]
) -> AsyncIterator[Callable[..., Awaitable[tuple[Any, httpx.AsyncClient]]]]:
    """Start a service in-process on a fresh migrated database and the test NATS server."""
    async with AsyncExitStack() as stack:

        async def start(service: str, **overrides: Any) -> tuple[Any, httpx.AsyncClient]:
            module = __import__(f"services.{service}.main", fromlist=["create_app"])
            url = overrides.pop("database_url", None) or await migrated_db(service)
            app = module.create_app(settings_for(service, database_url=url, nats_url=nats_url, **overrides))
            client = await stack.enter_async_context(running_app(app))
            return app, client

        yield start


@pytest.fixture
async def stack(databases: Databases, tmp_path: Path) -> AsyncIterator[Stack]:
    """All four services and nats-server as real processes, on fresh databases."""
    urls = {}
    if databases.backend == "postgres":
        urls = {name: await databases.new(name) for name in SERVICES}
    st = Stack(
        var_dir=tmp_path / "var",
        nats_url=f"nats://127.0.0.1:{free_port()}",
        ports={name: free_port() for name in SERVICES},
        database_urls=urls,
        env={"RELAY_POLL_S": "0.1", "RECOVERY_INTERVAL_S": "0.5", "RPC_TIMEOUT_S": "2"},
    )
    try:
        st.start_nats(force_own=True)
        st.start_services()
        yield st
    finally:
        st.stop()
