"""Small helpers for tests: waiting for eventual consistency, dates in the city's time zone."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date
from typing import TypeVar

from shared.events import local_now

T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T]], *, timeout: float = 10.0, interval: float = 0.05) -> T:
    """Poll `check` until it returns a truthy value without raising; the last error is raised on timeout."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            result = await check()
            if result:
                return result
            error: BaseException | None = AssertionError(f"still {result!r}")
        except AssertionError as exc:
            error = exc
        if asyncio.get_running_loop().time() > deadline:
            raise error
        await asyncio.sleep(interval)


def city_today(tz: str = "Asia/Shanghai") -> date:
    return local_now(tz).date()
