"""The NATS connection of a service: connects (and reconnects) in the background, declares the stream."""

import asyncio
import contextlib
import logging

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError

from shared.events import STREAM_SUBJECTS
from shared.settings import Settings

log = logging.getLogger(__name__)


class Bus:
    """NATS + JetStream for one service; `ready` is set once connected and the stream exists."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.nc: Client | None = None
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def js(self) -> JetStreamContext:
        assert self.nc is not None, "bus not connected"
        return self.nc.jetstream()

    @property
    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    def start(self) -> None:
        self._task = asyncio.create_task(self._connect_forever(), name="bus-connect")

    async def wait_ready(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self.ready.wait(), timeout)

    async def _connect_forever(self) -> None:
        delay = 0.2
        while True:
            try:
                self.nc = await nats.connect(
                    self.settings.nats_url,
                    name=self.settings.service_name,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    connect_timeout=2,
                    allow_reconnect=True,
                    error_cb=self._on_error,
                )
                await ensure_stream(self.js, self.settings)
                self.ready.set()
                log.info("connected to NATS at %s", self.settings.nats_url)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("NATS not reachable at %s (%s); retrying", self.settings.nats_url, exc)
                if self.nc is not None:
                    with contextlib.suppress(Exception):
                        await self.nc.close()
                    self.nc = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _on_error(self, exc: Exception) -> None:
        log.debug("nats: %s", exc)

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        if self.nc is not None:
            # consumers and the relay are stopped by now; a drain would wait out idle pull subscriptions
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.nc.flush(), 2)
            with contextlib.suppress(Exception):
                await self.nc.close()
        self.ready.clear()


async def ensure_stream(js: JetStreamContext, settings: Settings) -> None:
    """Declare the events stream (file storage, a duplicate window for outbox replays)."""
    config = StreamConfig(
        name=settings.stream_name,
        subjects=STREAM_SUBJECTS,
        storage=StorageType.FILE,
        duplicate_window=settings.stream_duplicate_window_s,
    )
    try:
        await js.stream_info(settings.stream_name)
    except NotFoundError:
        try:
            await js.add_stream(config)
            return
        except Exception:  # another service created it at the same moment
            await js.stream_info(settings.stream_name)
    await js.update_stream(config)
