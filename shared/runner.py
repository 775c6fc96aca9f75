"""`python -m services.<name> [migrate|serve]`: migrate the service's database, then serve it."""

import logging
import sys

import uvicorn

from shared.migrations import upgrade
from shared.settings import load_settings


def main(service: str) -> None:
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s")
    command = sys.argv[1] if len(sys.argv) > 1 else "run"
    settings = load_settings(service)
    settings.check_secure()
    if command in ("migrate", "run"):
        upgrade(service, settings.db_url)
    if command in ("serve", "run"):
        uvicorn.run(
            f"services.{service}.main:create_app",
            factory=True,
            host="0.0.0.0" if settings.app_env == "prod" else "127.0.0.1",  # noqa: S104 - containers listen on all
            port=settings.port,
            log_level="warning",
            timeout_graceful_shutdown=5,
        )
    elif command != "migrate":
        raise SystemExit(f"usage: python -m services.{service} [migrate|serve|run]")
