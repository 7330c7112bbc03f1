"""The four services as processes on a broker of their own, for the bad-input suite.

Like the end-to-end tests (``cpd_platform.launcher.Platform``): real uvicorn processes, each
on its own database of the test server. The broker is the suite's own, so that the garbage it
publishes never reaches the consumers of other tests (consumer groups are named per service).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from cpd_platform.embedded import free_port
from cpd_platform.launcher import SERVICES, Platform
from cpd_platform.testing import Infrastructure


@pytest.fixture(scope="session")
def api_platform(
    infra: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    platform = Platform(
        home=tmp_path_factory.mktemp("api-platform"),
        database_url=infra.postgres_url,
        bootstrap_servers=None,  # a broker of its own: garbage stays in this suite
        ports={service: free_port() for service in SERVICES},
        broker_port=free_port(),
        partitions=2,
        database_prefix=f"api_{uuid.uuid4().hex[:8]}_",
        service_env={
            "CPD_CONSUMER_SESSION_TIMEOUT_MS": "2000",
            "CPD_CONSUMER_HEARTBEAT_INTERVAL_MS": "500",
            "LOG_LEVEL": "WARNING",
        },
    )
    platform.start_infrastructure()
    try:
        asyncio.run(platform.prepare())
        platform.start_services()
        seconds = asyncio.run(platform.wait_healthy(120))
        asyncio.run(_read_models_live(platform))
        print(f"\nfour services healthy in {seconds:.1f} s")
        yield platform
    finally:
        for service in SERVICES:
            if service in platform.processes:
                print(f"--- {service} log tail ---\n{platform.tail(service, 20)}")
        platform.stop()
        asyncio.run(_drop_databases(infra.postgres_url, platform))


async def _read_models_live(platform: Platform, within: float = 60) -> None:
    """Until reporting's first generation is live it answers reads 503 (documented, but not
    what this suite is about)."""
    async with httpx.AsyncClient(
        base_url=platform.url("reporting"), timeout=5, headers=platform.operator_headers()
    ) as http:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            found = (await http.get("/admin/read-models")).json()
            if any(generation["status"] == "live" for generation in found):
                return
            assert asyncio.get_running_loop().time() < deadline, f"no live generation: {found}"
            await asyncio.sleep(0.2)


async def _drop_databases(server_url: str, platform: Platform) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        for service in platform.ports:
            name = f"{platform.database_prefix}{service}"
            await conn.execute(f'drop database if exists "{name}" with (force)')
    finally:
        await conn.close()
