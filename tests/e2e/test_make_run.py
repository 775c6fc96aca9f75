"""README's `make run` as a user runs it: it starts everything, prints the pages and tokens, Ctrl-C (or SIGTERM
to make) leaves no process behind, also while it is still starting, and a second run finds the data of the first;
`make tokens` prints the devices' tokens for the AUTH_SECRET it is given."""

import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from shared.auth import decode_token
from shared.devstack import free_port, reachable
from shared.settings import ROOT
from tests.helpers import city_today

pytestmark = pytest.mark.timeout(300)
BANNER_END = "kitchen ck-xihu"


class MakeRun:
    """One `make run` in its own process group (as a terminal's foreground job), its output collected."""

    def __init__(self, env: dict[str, str]) -> None:
        make = shutil.which("make")
        assert make is not None, "make is needed"
        self.proc = subprocess.Popen(
            [make, "-s", "run"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_a_service_process(self, timeout: float = 120) -> set[int]:
        """The processes started so far, once the first service is among them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            procs = descendants(self.proc.pid)
            if any("services." in cmdline(p) for p in procs):
                return procs
            assert self.proc.poll() is None, f"make run exited with {self.proc.returncode}:\n{self.output}"
            time.sleep(0.05)
        raise AssertionError(f"no service started within {timeout}s:\n{self.output}")

    def wait_banner(self, timeout: float = 180) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            at = next((i for i, line in enumerate(self.lines) if BANNER_END in line), None)
            if at is not None and len(self.lines) > at + 1:  # the token printed under the last heading
                return self.output
            assert self.proc.poll() is None, f"make run exited with {self.proc.returncode}:\n{self.output}"
            time.sleep(0.2)
        raise AssertionError(f"no banner within {timeout}s:\n{self.output}")

    def token_after(self, heading: str) -> str:
        at = next(i for i, line in enumerate(self.lines) if heading in line)
        return self.lines[at + 1].strip()


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state) of every live process, from /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            table[int(entry.name)] = (int(fields[1]), fields[0])
    return table


def descendants(pid: int) -> set[int]:
    table, found, frontier = _processes(), set(), {pid}
    while frontier:
        children = {p for p, (ppid, _) in table.items() if ppid in frontier} - found
        found |= children
        frontier = children
    return found


def alive(pids: set[int]) -> set[int]:
    table = _processes()
    return {p for p in pids if p in table and table[p][1] != "Z"}  # a zombie is dead, just not yet reaped


def cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def wait_gone(pids: set[int], timeout: float = 40) -> set[int]:
    deadline = time.monotonic() + timeout
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return alive(pids)


def four_free_ports() -> int:
    for _ in range(50):
        base = free_port()
        if base < 65000 and all(not reachable("127.0.0.1", base + i, 0.1) for i in range(4)):
            return base
    raise RuntimeError("no four free ports in a row")


def make_env(tmp_path: Path, base: int, nats_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "AUTH_SECRET", "APP_ENV", "MAKEFLAGS", "MAKELEVEL")}
    env = {k: v for k, v in env.items() if not k.endswith("_DATABASE_URL")}
    return env | {"VAR_DIR": str(tmp_path / "var"), "NATS_URL": f"nats://127.0.0.1:{nats_port}", "DEVSTACK_PORT_BASE": str(base)}


def test_make_run_starts_everything_stops_without_orphans_and_keeps_its_data(tmp_path: Path) -> None:
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs Linux /proc to see the processes make run starts")
    base, nats_port = four_free_ports(), free_port()
    env = make_env(tmp_path, base, nats_port)
    elsewhere = tmp_path / "order-elsewhere.db"
    env["ORDER_DATABASE_URL"] = f"sqlite+aiosqlite:///{elsewhere}"  # one service on a database of its own choosing
    order, pricing, kitchen = (f"http://127.0.0.1:{base + i}" for i in range(3))
    today = city_today()

    # first run: nothing answers at NATS_URL, so it starts the bundled nats-server with its store under var/
    first = MakeRun(env)
    banner = first.wait_banner()
    assert f"{order}/pos" in banner and f"{pricing}/admin" in banner, banner
    assert "demo city loaded: 19 sites" in banner, banner
    procs = descendants(first.proc.pid)
    commands = " | ".join(cmdline(p) for p in procs)
    assert "nats-server" in commands and str(tmp_path / "var" / "nats") in commands, commands
    for service in ("order", "pricing", "central_kitchen", "delivery"):
        assert f"services.{service}" in commands, commands
    assert elsewhere.exists() and not (tmp_path / "var" / "order.db").exists(), "ORDER_DATABASE_URL is order's database"
    assert (tmp_path / "var" / "pricing.db").exists()

    till = {"Authorization": f"Bearer {first.token_after('till of ct-qingbo')}"}
    admin = {"Authorization": f"Bearer {first.token_after('admin (the /admin page')}"}
    with httpx.Client(timeout=15) as http:
        menu = http.get(f"{order}/v1/sites/ct-qingbo/menu", params={"service_date": str(today), "meal_slot": "lunch"}, headers=till)
        assert menu.status_code == 200 and menu.json()["items"], menu.text
        dish = menu.json()["items"][0]["menu_item_id"]
        policies = http.get(f"{pricing}/v1/policies/city", headers=admin).json()
        in_force = [p for p in policies if p["in_force"]]
        assert len(in_force) == 1 and in_force[0]["per_slot_limit"] == 1, "the demo's default: one subsidised meal per slot"
        tiers = [(t["min_age"], t["max_age"], t["pay_percent"]) for t in in_force[0]["age_tiers"]]
        assert tiers == [(60, 69, 80), (70, 79, 70), (80, None, 50)], "the demo's default age tiers"
        sale = {
            "site_id": "ct-qingbo",
            "card_id": "HZ0002",
            "channel": "dine_in",
            "service_date": str(today),
            "meal_slot": "lunch",
            "items": [{"menu_item_id": dish, "qty": 1}],
            "payment_method": "cash",
        }
        r = http.post(f"{order}/v1/orders", json=sale, headers={**till, "Idempotency-Key": str(uuid.uuid4())})
        assert r.status_code == 201 and r.json()["status"] == "confirmed", r.text
        order_id = r.json()["order_id"]
        wallet_before = http.get(f"{pricing}/v1/cards/HZ0002/wallet", headers=admin).json()

    # Ctrl-C in the terminal: SIGINT to the foreground process group
    os.killpg(first.proc.pid, signal.SIGINT)
    first.proc.wait(timeout=60)
    assert wait_gone(procs) == set(), [cmdline(p) for p in alive(procs)]
    assert not any(reachable("127.0.0.1", port, 0.2) for port in (nats_port, base, base + 1, base + 2, base + 3))

    # second run: the same data (orders, wallets); loading the demo again changes nothing
    second = MakeRun(env)
    second.wait_banner()
    procs = descendants(second.proc.pid)
    with httpx.Client(timeout=15) as http:
        kept = http.get(f"{order}/v1/orders/{order_id}", headers=admin)
        assert kept.status_code == 200 and kept.json()["status"] == "confirmed", kept.text
        assert http.get(f"{pricing}/v1/cards/HZ0002/wallet", headers=admin).json() == wallet_before
        sites = http.get(f"{kitchen}/v1/sites", headers=admin)
        assert sites.status_code == 200 and len(sites.json()) == 19, "the demo loaded twice is still 19 sites"

    # SIGTERM to make alone (its child is told nothing): the supervisor sees make gone and stops everything
    second.proc.send_signal(signal.SIGTERM)
    second.proc.wait(timeout=60)
    assert wait_gone(procs) == set(), [cmdline(p) for p in alive(procs)]
    assert not any(reachable("127.0.0.1", port, 0.2) for port in (nats_port, base, base + 1, base + 2, base + 3))


def test_ctrl_c_while_starting_stops_the_start_up_and_every_process_started_so_far(tmp_path: Path) -> None:
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs Linux /proc to see the processes make run starts")
    base, nats_port = four_free_ports(), free_port()
    run = MakeRun(make_env(tmp_path, base, nats_port))
    seen = run.wait_for_a_service_process()  # nats-server is up, the services are starting
    os.killpg(run.proc.pid, signal.SIGINT)
    while run.proc.poll() is None:
        seen |= descendants(run.proc.pid)
        time.sleep(0.05)
    run.proc.wait(timeout=60)
    assert "meal-assist is running" not in run.output and "dev tokens" not in run.output, run.output
    assert wait_gone(seen) == set(), [cmdline(p) for p in alive(seen)]
    assert not any(reachable("127.0.0.1", port, 0.2) for port in (nats_port, base, base + 1, base + 2, base + 3)), run.output


def test_make_tokens_prints_a_token_of_each_role_for_the_given_secret() -> None:
    make = shutil.which("make")
    assert make is not None, "make is needed"
    secret = uuid.uuid4().hex * 2
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL")} | {"AUTH_SECRET": secret, "APP_ENV": "prod"}
    out = subprocess.run(
        [make, "-s", "tokens", "SITE=ct-x", "DRIVER=d-7"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    tokens = [line.strip() for line in out.stdout.splitlines() if line.startswith("      ")]
    principals = {(p.role, p.scope) for p in (decode_token(secret, t) for t in tokens)}
    assert principals == {("admin", None), ("pos", "ct-x"), ("pos", "cart-tonglu-1"), ("driver", "d-7"), ("kitchen", "ck-xihu")}, out
