"""Pricing benchmark: pricing.quote latency over NATS and pricing.charge throughput, on SQLite and PostgreSQL.

nats-server, central-kitchen and pricing run as real processes (as in production); the requests come over NATS
exactly as the order service sends them. Baselines measured in the same run, on the same machine:
  - a bare NATS micro request/reply echo (a responder in its own process, no database) for the quote latency;
  - bare INSERT + COMMIT transactions on pricing's own database, same engine settings, same concurrency,
    for the charge throughput.
Run: `python -m bench.pricing [--quotes 2000] [--charges 2000] [--concurrency 16] [--postgres URL]` (or `make bench`).
Writes bench-results/pricing.json.
"""

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import nats
from nats.micro import add_service
from nats.micro.request import Request
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from shared.auth import issue_token
from shared.db import Database
from shared.devstack import Stack, free_port
from shared.events import CHARGE_SUBJECT, QUOTE_SUBJECT, ChargeRequest, ChargeResult, QuoteLine, QuoteRequest, QuoteResult
from shared.messaging.rpc import call
from shared.settings import DEV_SECRET, ROOT

log = logging.getLogger("bench.pricing")
SERVICES = ("central_kitchen", "pricing")
ECHO_SUBJECT = "bench.echo"
ADMIN = {"Authorization": "Bearer " + issue_token(DEV_SECRET, sub="bench", role="admin")}
TIERS = [
    {"min_age": 60, "max_age": 69, "pay_percent": 80},
    {"min_age": 70, "max_age": 79, "pay_percent": 70},
    {"min_age": 80, "max_age": None, "pay_percent": 50},
]
SITES: list[tuple[str, dict[str, Any]]] = [
    ("ck-bench", {"name": "基准中央厨房", "kind": "kitchen", "district": "xihu", "operator": "op-a", "supplied_by": None}),
    ("ct-bench", {"name": "基准食堂", "kind": "canteen", "district": "shangcheng", "operator": "op-a", "supplied_by": "ck-bench"}),
]
SLOTS = ("breakfast", "lunch", "dinner")


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))]


def summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 3), "p99_ms": round(percentile(ordered, 0.99) * 1000, 3)}


# --- the echo responder: `python -m bench.pricing echo NATS_URL` ---
async def serve_echo(nats_url: str) -> None:
    nc = await nats.connect(nats_url)

    async def echo(request: Request) -> None:
        await request.respond(request.data)

    service = await add_service(nc, name="bench-echo", version="1.0.0", queue_group="bench-echo")
    await service.add_endpoint(name="echo", subject=ECHO_SUBJECT, handler=echo)
    print("ready", flush=True)
    await asyncio.Event().wait()


# --- set-up ---
async def seed(kitchen: str, pricing: str, day: date, cards: int) -> list[str]:
    async with httpx.AsyncClient(timeout=30) as http:

        async def put(url: str, body: dict[str, Any]) -> None:
            r = await http.put(url, json=body, headers=ADMIN)
            if r.status_code >= 400:
                raise RuntimeError(f"PUT {url}: {r.status_code} {r.text}")

        for site_id, site in SITES:
            await put(f"{kitchen}/v1/sites/{site_id}", {**site, "lat": 30.25, "lon": 120.15})
        items = [{"menu_item_id": "set-a", "name": "套餐A", "price_fen": 1200}, {"menu_item_id": "soup", "name": "汤", "price_fen": 350}]
        for slot in SLOTS:
            await put(f"{kitchen}/v1/menus/ck-bench/{day}/{slot}", {"items": items})
        await put(f"{pricing}/v1/policies/city", {"effective_from": "2020-01-01", "age_tiers": TIERS})
        await put(f"{pricing}/v1/policies/districts/shangcheng", {"effective_from": "2020-01-01", "city_share_percent": 20})
        ids = [f"BENCH{n:04d}" for n in range(cards)]
        for n, card_id in enumerate(ids):
            born = day.replace(year=day.year - 60 - n % 30) - timedelta(days=1)
            body = {"name": f"长者{n}", "birth_date": str(born), "id_number": f"33010619500101{n:04d}", "home_district": "shangcheng"}
            await put(f"{pricing}/v1/cards/{card_id}", body)
            key = {"Idempotency-Key": f"bench-{card_id}"}
            r = await http.post(f"{pricing}/v1/cards/{card_id}/topups", json={"amount_fen": 1_000_000}, headers={**ADMIN, **key})
            r.raise_for_status()
        deadline = time.monotonic() + 60
        while True:  # pricing learns the sites and menus from the kitchen's events
            quote = {"site_id": "ct-bench", "service_date": str(day), "meal_slot": "dinner", "items": [{"menu_item_id": "soup", "qty": 1}]}
            if (await http.post(f"{pricing}/v1/quotes", json=quote, headers=ADMIN)).status_code == 200:
                return ids
            if time.monotonic() > deadline:
                raise TimeoutError("pricing did not learn the bench menus")
            await asyncio.sleep(0.2)


# --- measurements ---
async def sequential(n: int, one: Callable[[], Awaitable[Any]]) -> list[float]:
    latencies = []
    for _ in range(n):
        started = time.perf_counter()
        await one()
        latencies.append(time.perf_counter() - started)
    return latencies


async def concurrent(total: int, workers: int, one: Callable[[int], Awaitable[bool]]) -> dict[str, Any]:
    """`total` calls spread over `workers` concurrent loops; calls/s and per-call latency."""
    counter = iter(range(total))
    latencies: list[float] = []
    errors = 0

    async def worker() -> None:
        nonlocal errors
        for i in counter:
            started = time.perf_counter()
            ok = await one(i)
            latencies.append(time.perf_counter() - started)
            errors += 0 if ok else 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = time.perf_counter() - started
    return {"calls": total, "errors": errors, "per_s": round(total / elapsed, 1), **summary(latencies)}


async def insert_commit_baseline(url: str, total: int, workers: int) -> dict[str, Any]:
    """Bare one-row INSERT + COMMIT transactions on the same database with the services' engine settings."""
    db = Database(url)  # same pool, and on SQLite the same WAL + BEGIN IMMEDIATE, as the pricing process
    table = f"bench_insert_{uuid.uuid4().hex[:8]}"
    async with db.engine.begin() as conn:
        await conn.execute(text(f"CREATE TABLE {table} (id VARCHAR(36) PRIMARY KEY, amount_fen INTEGER NOT NULL)"))
    insert = text(f"INSERT INTO {table} (id, amount_fen) VALUES (:id, :amount)")  # noqa: S608 - our own table name

    async def one(i: int) -> bool:
        async with db.engine.begin() as conn:
            await conn.execute(insert, {"id": str(uuid.uuid4()), "amount": i})
        return True

    try:
        return await concurrent(total, workers, one)
    finally:
        async with db.engine.begin() as conn:
            await conn.execute(text(f"DROP TABLE {table}"))
        await db.dispose()


async def bench_backend(backend: str, db_url: str | None, args: argparse.Namespace) -> dict[str, Any]:
    var = Path(tempfile.mkdtemp(prefix=f"bench-pricing-{backend}-"))
    pricing_url = db_url or f"sqlite+aiosqlite:///{var / 'pricing.db'}"
    stack = Stack(
        var_dir=var,
        nats_url=f"nats://127.0.0.1:{free_port()}",
        ports={s: free_port() for s in SERVICES},
        database_urls={"pricing": pricing_url},
        env={"RELAY_POLL_S": "0.1"},
    )
    echo: asyncio.subprocess.Process | None = None
    nc = None
    try:
        stack.start_nats(force_own=True)
        stack.start_services(SERVICES)
        day = datetime.now(ZoneInfo("Asia/Shanghai")).date()
        cards = await seed(stack.url("central_kitchen"), stack.url("pricing"), day, args.cards)
        echo = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.pricing", "echo", stack.nats_url, cwd=ROOT, stdout=asyncio.subprocess.PIPE
        )
        assert echo.stdout is not None
        await asyncio.wait_for(echo.stdout.readline(), 30)  # "ready"
        nc = await nats.connect(stack.nats_url)
        payload = QuoteRequest(
            site_id="ct-bench", card_id=cards[0], service_date=day, meal_slot="lunch", items=[QuoteLine(menu_item_id="set-a", qty=1)]
        )
        raw = payload.model_dump_json().encode()

        async def echo_once() -> None:
            await nc.request(ECHO_SUBJECT, raw, timeout=5)

        async def quote_once() -> None:
            await call(nc, QUOTE_SUBJECT, payload, QuoteResult, timeout=5)

        await sequential(200, echo_once)  # warm-up
        await sequential(200, quote_once)
        echo_lat = summary(await sequential(args.quotes, echo_once))
        quote_lat = summary(await sequential(args.quotes, quote_once))

        insert = await insert_commit_baseline(pricing_url, args.charges, args.concurrency)

        def charge(card_of: Callable[[int], str], pay: str) -> Callable[[int], Awaitable[bool]]:
            async def one(i: int) -> bool:
                req = ChargeRequest(
                    order_id=uuid.uuid4(), site_id="ct-bench", card_id=card_of(i), service_date=day, meal_slot=SLOTS[i % 3],
                    items=[QuoteLine(menu_item_id="set-a", qty=1)], payment_method=pay,  # type: ignore[arg-type]
                )  # fmt: skip
                try:
                    await call(nc, CHARGE_SUBJECT, req, ChargeResult, timeout=30)
                    return True
                except Exception as exc:  # a decline or a timeout counts as an error of the run
                    log.warning("charge failed: %s", exc)
                    return False

            return one

        spread = await concurrent(args.charges, args.concurrency, charge(lambda i: cards[i % len(cards)], "card_wallet"))
        hot = await concurrent(args.charges // 4, args.concurrency, charge(lambda i: cards[-1], "card_wallet"))
        return {
            "backend": backend,
            "quote": {"requests": args.quotes, **quote_lat},
            "baseline_nats_echo": {"requests": args.quotes, **echo_lat},
            "quote_p50_vs_echo": round(quote_lat["p50_ms"] / echo_lat["p50_ms"], 1),
            "charge_many_cards": {"concurrency": args.concurrency, "cards": len(cards), **spread},
            "charge_one_card": {"concurrency": args.concurrency, "cards": 1, **hot},
            "baseline_insert_commit": {"concurrency": args.concurrency, **insert},
            "charge_vs_insert_commit": round(spread["per_s"] / insert["per_s"], 3),
        }
    finally:
        if nc is not None:
            await nc.close()
        if echo is not None:
            echo.terminate()
            await echo.wait()
        stack.stop()


async def postgres_database(admin_url: str) -> tuple[str, Callable[[], Awaitable[None]]] | None:
    """A fresh database for the run, or None when PostgreSQL does not answer."""
    name = f"bench_pricing_{uuid.uuid4().hex[:8]}"
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except (OSError, Exception) as exc:
        log.warning("PostgreSQL at %s not usable (%s): SQLite only", admin_url, exc)
        await engine.dispose()
        return None

    async def drop() -> None:
        async with engine.connect() as conn:
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await engine.dispose()

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), drop


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    results = [await bench_backend("sqlite", None, args)]
    if not args.sqlite_only:
        pg = await postgres_database(args.postgres)
        if pg is not None:
            url, drop = pg
            try:
                results.append(await bench_backend("postgres", url, args))  # the pricing process migrates it at start
            finally:
                await drop()
    return results


def report(results: list[dict[str, Any]]) -> str:
    lines = [
        f"{'backend':<9} {'quote p50':>10} {'quote p99':>10} {'echo p50':>9} {'ratio':>6} | "
        f"{'charges/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'1-card/s':>9} | {'insert/s':>9} {'ratio':>6}"
    ]
    for r in results:
        q, e, c, h, i = r["quote"], r["baseline_nats_echo"], r["charge_many_cards"], r["charge_one_card"], r["baseline_insert_commit"]
        lines.append(
            f"{r['backend']:<9} {q['p50_ms']:>8.2f}ms {q['p99_ms']:>8.2f}ms {e['p50_ms']:>7.2f}ms {r['quote_p50_vs_echo']:>5.1f}x | "
            f"{c['per_s']:>9.1f} {c['p50_ms']:>7.1f} {c['p99_ms']:>7.1f} {h['per_s']:>9.1f} | "
            f"{i['per_s']:>9.1f} {r['charge_vs_insert_commit']:>6.3f}"
        )
    return "\n".join(lines)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    if sys.argv[1:2] == ["echo"]:
        asyncio.run(serve_echo(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(
        prog="python -m bench.pricing", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quotes", type=int, default=2000, help="sequential quotes (and echoes) to time")
    parser.add_argument("--charges", type=int, default=2000, help="charges spread over many cards (a quarter as many on one card)")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent requesters")
    parser.add_argument("--cards", type=int, default=64)
    parser.add_argument(
        "--postgres", default=os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"), help="admin URL"
    )
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    print(report(results))
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    (out / "pricing.json").write_text(json.dumps({"measured_at": datetime.now().astimezone().isoformat(), "results": results}, indent=2))
    print(f"written {out / 'pricing.json'}")


if __name__ == "__main__":
    main()
