"""Generated requests (schemathesis, from each service's own OpenAPI document) against the four services as real
processes on the demo city: none answers 5xx, and requests that break the schema are refused with a 4xx."""

import asyncio
import sys
from pathlib import Path

import pytest

from shared.demo import load_demo
from shared.devstack import SERVICES, Stack
from shared.settings import DEV_SECRET
from tests.helpers import city_today

pytestmark = pytest.mark.timeout(600)
ST = str(Path(sys.executable).parent / "st")
CHECKS = "not_a_server_error,negative_data_rejection"


async def fuzz(url: str, authorization: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        ST,
        "run",
        f"{url}/openapi.json",
        "-H",
        f"Authorization: {authorization}",
        "--checks",
        CHECKS,
        "--max-examples",
        "25",
        "--seed",
        "20261203",  # the same cases every run: a failure here reproduces
        "--workers",
        "1",
        "--no-color",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode(errors="replace")


async def test_generated_requests_never_get_a_server_error(stack: Stack, token) -> None:  # type: ignore[no-untyped-def]
    await load_demo(urls={name: stack.url(name) for name in SERVICES}, secret=DEV_SECRET, today=city_today(), days=2)
    callers = [
        ("order", token("pos", "ct-qingbo")),  # a till: checkout, quotes, its menu
        ("order", token("admin")),
        ("pricing", token("admin")),
        ("central_kitchen", token("admin")),
        ("central_kitchen", token("kitchen", "ck-xihu")),
        ("delivery", token("kitchen", "ck-xihu")),
    ]
    for service, headers in callers:
        code, out = await fuzz(stack.url(service), headers["Authorization"])
        assert code == 0, f"{service}:\n{out[-6000:]}"
        assert "generated" in out and "passed" in out, out[-2000:]
