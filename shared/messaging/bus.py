"""The NATS connection of a service: connects (and reconnects) in the background, keeps the stream declared."""

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
    """NATS + JetStream for one service.

    `ready` is set once: connected and the stream declared (the relay, consumers and RPC start then).
    `stream_ready` says the stream exists now: a NATS that comes back with an empty store (a new volume,
    a lost disk) is given the stream again on reconnect, or at the next check when it vanishes otherwise.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.nc: Client | None = None
        self.ready = asyncio.Event()
        self.stream_ready = asyncio.Event()
        self._check = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def js(self) -> JetStreamContext:
        assert self.nc is not None, "bus not connected"
        return self.nc.jetstream()

    @property
    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    @property
    def state(self) -> str:
        """For /readyz: `ok`, `down` (no connection) or `no_stream` (connected, but the stream is missing)."""
        if not self.connected:
            return "down"
        return "ok" if self.stream_ready.is_set() else "no_stream"

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="bus")

    async def wait_ready(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self.ready.wait(), timeout)

    async def _run(self) -> None:
        await self._connect()
        while True:
            await self._keep_stream()
            self._check.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._check.wait(), self.settings.stream_check_s)

    async def _connect(self) -> None:
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
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                )
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

    async def _keep_stream(self) -> None:
        """Declare the stream when it is not known to exist; check that a known one still does."""
        if not self.connected:
            self.stream_ready.clear()
            return
        name = self.settings.stream_name
        try:
            if self.stream_ready.is_set():
                try:
                    await self.js.stream_info(name)
                    return
                except NotFoundError:
                    self.stream_ready.clear()
            if await ensure_stream(self.js, self.settings) and self.ready.is_set():
                log.warning("declared stream %s again: NATS came back without it (an empty store?)", name)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a slow answer keeps what we knew; a missing stream is retried at the next check
            if not self.stream_ready.is_set():
                log.warning("stream %s cannot be declared (%s); retrying", name, exc)
            return
        self.stream_ready.set()
        self.ready.set()

    async def _on_disconnected(self) -> None:
        self.stream_ready.clear()

    async def _on_reconnected(self) -> None:
        self.stream_ready.clear()  # the server may have lost its store: check (and declare) before saying ready
        self._check.set()

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
        self.stream_ready.clear()


async def ensure_stream(js: JetStreamContext, settings: Settings) -> bool:
    """Declare the events stream (file storage, a duplicate window for outbox replays); True when it was created."""
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
            return True
        except Exception:  # another service created it at the same moment
            await js.stream_info(settings.stream_name)
    await js.update_stream(config)
    return False
