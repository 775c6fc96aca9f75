"""A nats-server process of a test's own, to stop and start again on the same port (with or without its store)."""

import subprocess
import time
from pathlib import Path

from shared.devstack import nats_server_binary, reachable


class NatsProcess:
    """One nats-server on a fixed port; `restart` can hand it a new (empty) store or no JetStream at all."""

    def __init__(self, port: int, store: Path) -> None:
        self.port = port
        self.store = store
        self.url = f"nats://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *, store: Path | None = None, jetstream: bool = True) -> "NatsProcess":
        self.store = store or self.store
        argv = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.store)]
        self.proc = subprocess.Popen([*argv, "-js"] if jetstream else argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not reachable("127.0.0.1", self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("nats-server did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None
