"""/healthz, /readyz and /metrics: readiness follows the database, NATS and its stream, both ways, in every service."""

from pathlib import Path

import nats
import pytest

from services.central_kitchen.main import create_app
from shared.devstack import SERVICES, free_port
from tests.conftest import running_app, settings_for
from tests.helpers import eventually
from tests.nats_process import NatsProcess

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("service", SERVICES)
async def test_readyz_follows_nats_and_its_stream_going_away_and_coming_back(service: str, migrated_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = NatsProcess(free_port(), tmp_path / "nats").start()
    module = __import__(f"services.{service}.main", fromlist=["create_app"])
    app = module.create_app(settings_for(service, database_url=await migrated_db(service), nats_url=server.url, stream_check_s=0.2))

    try:
        async with running_app(app) as client:

            async def readiness(status: int, nats: str) -> bool:
                r = await client.get("/readyz")
                return r.status_code == status and r.json().get("checks", r.json())["nats"] == nats

            ready = await client.get("/readyz")
            assert ready.status_code == 200 and ready.json() == {"status": "ready", "database": "ok", "nats": "ok"}
            server.stop()
            await eventually(lambda: readiness(503, "down"), timeout=10)
            r = await client.get("/readyz")
            assert r.headers["content-type"] == "application/problem+json" and r.json()["code"] == "not_ready"
            assert (await client.get("/healthz")).status_code == 200, "the process still runs"

            # NATS back on the same port, but no stream can exist (JetStream off): not ready, events would go nowhere
            server.start(store=tmp_path / "nats-without-jetstream", jetstream=False)
            await eventually(lambda: readiness(503, "no_stream"), timeout=15)
            server.stop()

            # NATS back with an empty store: the service declares the stream again and is ready
            server.start(store=tmp_path / "nats-empty")
            await eventually(lambda: readiness(200, "ok"), timeout=15)
            nc = await nats.connect(server.url)
            assert (await nc.jetstream().stream_info("MEALS")).config.subjects, "ready means the stream is there"
            await nc.close()
    finally:
        server.stop()


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
