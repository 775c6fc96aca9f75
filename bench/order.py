"""Checkout benchmark: latency (p50/p99) and throughput at 1, 10 and 50 concurrent tills, all four services running.

Each sale is a card-wallet payment (the usual till sale: pricing debits the wallet and writes the ledger postings); after a
card's first lunch its meals are full price (one subsidised meal per slot), which costs pricing the same work.

Baseline in the same run and at the same concurrency: GET /healthz on the order service (the HTTP round trip with
no database and no NATS), so the ratio says what the saga (two transactions + a NATS charge) costs on top of it.
Run: `python -m bench.order [--seconds 5] [--postgres URL]` (or `make bench`).
"""

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from shared.auth import issue_token
from shared.demo import DEMO_CARDS, load_demo, wait_for_menus
from shared.devstack import SERVICES, Stack, free_port
from shared.events import local_now
from shared.settings import DEV_SECRET, ROOT

TILL_SITE = "ct-qingbo"
TOPUPS_PER_CARD = 20  # 200,000 yuan a card: more than every sale of a run takes


async def _pg_databases(admin_url: str, create: bool, names: list[str]) -> None:
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        for name in names:
            await conn.exec_driver_sql(f'CREATE DATABASE "{name}"' if create else f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await engine.dispose()


async def _fill_wallets(pricing_url: str, cards: list[str]) -> None:
    admin = {"Authorization": "Bearer " + issue_token(DEV_SECRET, sub="bench-admin", role="admin")}
    async with httpx.AsyncClient(base_url=pricing_url, timeout=30) as client:
        for card in cards:
            for n in range(TOPUPS_PER_CARD):  # a top-up is at most 10,000 yuan
                r = await client.post(
                    f"/v1/cards/{card}/topups", json={"amount_fen": 1_000_000}, headers={**admin, "Idempotency-Key": f"bench-{card}-{n}"}
                )
                r.raise_for_status()


async def _load(
    concurrency: int, seconds: float, call: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]], base: str
) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:

        async def till() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await call(client)
                latencies.append(time.perf_counter() - started)
                if response.status_code >= 300:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(till() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "throughput_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 2),
    }


async def _run(backend: str, pg_url: str | None, seconds: float) -> list[dict[str, Any]]:
    var = Path(tempfile.mkdtemp(prefix="bench-order-"))
    db_names = [f"bench_{name}_{uuid.uuid4().hex[:8]}" for name in SERVICES]
    urls: dict[str, str] = {}
    if backend == "postgres" and pg_url:
        await _pg_databases(pg_url, True, db_names)
        urls = {
            name: make_url(pg_url).set(database=db).render_as_string(hide_password=False)
            for name, db in zip(SERVICES, db_names, strict=True)
        }
    stack = Stack(var_dir=var, nats_url=f"nats://127.0.0.1:{free_port()}", ports={s: free_port() for s in SERVICES}, database_urls=urls)
    rows = []
    try:
        stack.start_nats(force_own=True)
        stack.start_services()
        service_urls = {name: stack.url(name) for name in SERVICES}
        today = local_now("Asia/Shanghai").date()
        await load_demo(urls=service_urls, secret=DEV_SECRET, today=today, days=1)
        await wait_for_menus(urls=service_urls, secret=DEV_SECRET, site_id=TILL_SITE, today=today, slot="lunch")
        till = {"Authorization": "Bearer " + issue_token(DEV_SECRET, sub="bench-till", role="pos", scope=TILL_SITE)}
        cards = [c.card_id for c in DEMO_CARDS if c.status == "active"]
        await _fill_wallets(stack.url("pricing"), cards)

        async def checkout(client: httpx.AsyncClient) -> httpx.Response:
            body = {
                "site_id": TILL_SITE,
                "card_id": cards[int(time.perf_counter_ns()) % len(cards)],
                "channel": "dine_in",
                "service_date": str(today),
                "meal_slot": "lunch",
                "items": [{"menu_item_id": "set-a", "qty": 1}],
                "payment_method": "card_wallet",  # the till's usual sale: a wallet debit and ledger postings in pricing
            }
            return await client.post("/v1/orders", json=body, headers={**till, "Idempotency-Key": str(uuid.uuid4())})

        async def health(client: httpx.AsyncClient) -> httpx.Response:
            return await client.get("/healthz")

        await _load(2, 1.0, checkout, stack.url("order"))  # warm-up
        for concurrency in (1, 10, 50):
            base = await _load(concurrency, min(seconds, 2.0), health, stack.url("order"))
            got = await _load(concurrency, seconds, checkout, stack.url("order"))
            rows.append(
                {
                    "backend": backend,
                    "tills": concurrency,
                    **got,
                    "baseline_healthz_p50_ms": base["p50_ms"],
                    "baseline_healthz_per_s": base["throughput_per_s"],
                    "p50_vs_baseline": round(got["p50_ms"] / base["p50_ms"], 1),
                }
            )
    finally:
        stack.stop()
        if urls and pg_url:
            await _pg_databases(pg_url, False, db_names)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    rows = asyncio.run(_run("sqlite", None, args.seconds))
    try:
        rows += asyncio.run(_run("postgres", args.postgres, args.seconds))
    except OSError as exc:
        print(f"PostgreSQL not reachable ({exc}); SQLite only")
    columns = [
        ("backend", "<9"),
        ("tills", ">5"),
        ("requests", ">8"),
        ("errors", ">6"),
        ("throughput_per_s", ">16"),
        ("p50_ms", ">8"),
        ("p99_ms", ">8"),
        ("baseline_healthz_p50_ms", ">23"),
        ("p50_vs_baseline", ">15"),
    ]
    print(" ".join(f"{name:{align}}" for name, align in columns))
    for r in rows:
        print(" ".join(f"{r[name]!s:{align}}" for name, align in columns))
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    (out / "order.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
