"""/healthz, /readyz and /metrics: readiness follows the database and NATS, both ways."""

import subprocess
from pathlib import Path

import pytest

from services.central_kitchen.main import create_app
from shared.devstack import free_port, nats_server_binary, reachable
from tests.conftest import running_app, settings_for
from tests.helpers import eventually

pytestmark = pytest.mark.timeout(60)


def _nats(port: int, store: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [nats_server_binary(), "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(store)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        if reachable("127.0.0.1", port):
            return proc
        __import__("time").sleep(0.05)
    raise RuntimeError("nats-server did not start")


async def test_readyz_follows_nats_going_away_and_coming_back(migrated_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    proc = _nats(port, tmp_path / "nats")
    app = create_app(
        settings_for("central_kitchen", database_url=await migrated_db("central_kitchen"), nats_url=f"nats://127.0.0.1:{port}")
    )
    try:
        async with running_app(app) as client:
            ready = await client.get("/readyz")
            assert ready.status_code == 200 and ready.json() == {"status": "ready", "database": "ok", "nats": "ok"}
            proc.terminate()
            proc.wait(10)

            async def down() -> bool:
                r = await client.get("/readyz")
                return r.status_code == 503 and r.json()["checks"]["nats"] == "down"

            await eventually(down, timeout=10)
            r = await client.get("/readyz")
            assert r.headers["content-type"] == "application/problem+json" and r.json()["code"] == "not_ready"
            assert (await client.get("/healthz")).status_code == 200, "the process still runs"
            proc = _nats(port, tmp_path / "nats")

            async def up() -> bool:
                return (await client.get("/readyz")).status_code == 200

            await eventually(up, timeout=15)
    finally:
        proc.terminate()
        proc.wait(10)


async def test_readyz_is_503_while_the_database_is_unreachable(nats_url: str, clean_stream: None, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "kitchen.db"
    app = create_app(settings_for("central_kitchen", database_url=f"sqlite+aiosqlite:///{missing}", nats_url=nats_url))
    async with running_app(app) as client:
        r = await client.get("/readyz")
        assert r.status_code == 503
        assert r.json()["checks"] == {"database": "down", "nats": "ok"}
        assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_metrics_count_requests_and_relayed_events(start_service, token) -> None:  # type: ignore[no-untyped-def]
    _app, client = await start_service("central_kitchen")
    site = {"name": "厨房", "kind": "kitchen", "district": "xihu", "operator": "op", "lat": 30.2, "lon": 120.1}
    assert (await client.put("/v1/sites/ck-m", json=site, headers=token("admin"))).status_code == 200

    async def relayed() -> str:
        text = (await client.get("/metrics")).text
        return text if 'meal_events_published_total{service="central_kitchen",subject="catalog.site.upserted.v1"}' in text else ""

    text = await eventually(relayed)
    assert 'meal_http_request_seconds_count{method="PUT",route="/v1/sites/{site_id}",service="central_kitchen",status="200"}' in text
