"""All four services and nats-server as real processes, on fresh databases."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.devstack import SERVICES, Stack, free_port
from tests.conftest import Databases


@pytest.fixture
async def stack(databases: Databases, tmp_path: Path) -> AsyncIterator[Stack]:
    urls = {}
    if databases.backend == "postgres":
        urls = {name: await databases.new(name) for name in SERVICES}
    st = Stack(
        var_dir=tmp_path / "var",
        nats_url=f"nats://127.0.0.1:{free_port()}",
        ports={name: free_port() for name in SERVICES},
        database_urls=urls,
        env={"RELAY_POLL_S": "0.1", "RECOVERY_INTERVAL_S": "0.5", "RPC_TIMEOUT_S": "2"},
    )
    try:
        st.start_nats(force_own=True)
        st.start_services()
        yield st
    finally:
        st.stop()
