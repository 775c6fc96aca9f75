"""Service settings from the environment (pydantic-settings)."""

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-secret-change-me-meal-assist-0123456789"  # noqa: S105 - documented dev default
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PORTS = {"order": 8001, "pricing": 8002, "central_kitchen": 8003, "delivery": 8004}


class InsecureSettings(RuntimeError):
    """Raised at start when production runs with a missing or default secret."""


class Settings(BaseSettings):
    """What every service reads from its environment (API.md "Processes and ports")."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    service_name: str = "meal-assist"
    app_env: Literal["dev", "prod", "test"] = "dev"
    nats_url: str = "nats://127.0.0.1:4222"
    database_url: str = ""
    auth_secret: str = DEV_SECRET
    var_dir: Path = ROOT / "var"
    timezone: str = "Asia/Shanghai"
    stream_name: str = "MEALS"
    stream_duplicate_window_s: float = 600.0
    stream_check_s: float = 2.0  # how often the bus checks that the stream still exists (it re-declares it at once on reconnect)
    relay_poll_s: float = 0.5
    consumer_max_deliver: int = 5
    consumer_backoff_s: list[float] = Field(default_factory=lambda: [0.2, 1.0, 5.0, 15.0])
    rpc_timeout_s: float = 2.0
    port: int = 0
    devstack_port_base: int = 8001  # `make run` serves order, pricing, central_kitchen, delivery from here on
    plan_buffer_percent: int = 10
    recovery_interval_s: float = 2.0
    standing_order_horizon_days: int = 2
    standing_order_interval_s: float = 300.0
    # chaos drill for the saga tests: the order process exits right after pricing charged
    chaos_exit_after_charge: bool = False

    @cached_property
    def db_url(self) -> str:
        """DATABASE_URL, else a SQLite file of this service under var/."""
        if self.database_url:
            return self.database_url
        self.var_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{self.var_dir / (self.service_name + '.db')}"

    def check_secure(self) -> None:
        """In prod a missing or default AUTH_SECRET stops the service at start."""
        secret = self.auth_secret.strip()
        if self.app_env == "prod" and (len(secret) < 16 or secret == DEV_SECRET):
            raise InsecureSettings("AUTH_SECRET must be set in prod: not the default, at least 16 characters")


def load_settings(service_name: str, **overrides: object) -> Settings:
    """Settings for one service; explicit overrides win over the environment."""
    settings = Settings(service_name=service_name, **overrides)  # type: ignore[arg-type]
    if not settings.port:
        settings.port = DEFAULT_PORTS.get(service_name, 8000)
    return settings
