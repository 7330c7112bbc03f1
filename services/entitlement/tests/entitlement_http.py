"""Entitlement routes on a real runtime (PostgreSQL, the broker, the relay) for HTTP tests.

Each test picks the routers and consumers it needs: the full app (``build_app``) also runs the
background grant runner, which would race with tests that grant explicitly.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

import httpx
from fastapi import APIRouter

from cpd_platform.runtime import ServiceRuntime, Subscription, create_app
from cpd_platform.settings import ServiceSettings
from cpd_platform.testing import Infrastructure, create_database, drop_database, operator_headers
from entitlement.access import POLICY
from entitlement.consumers import MIGRATIONS


@contextlib.asynccontextmanager
async def serve(
    infra: Infrastructure,
    routers: Sequence[APIRouter],
    subscriptions: Sequence[Subscription] = (),
) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceRuntime]]:
    """A client of the routers served on a fresh database; yields it with the runtime."""
    database_url = await create_database(infra.postgres_url)
    try:
        settings = ServiceSettings(
            service_name="entitlement",
            database_url=database_url,
            kafka_bootstrap_servers=infra.bootstrap_servers,
            consumer_session_timeout_ms=2000,
            consumer_heartbeat_interval_ms=500,
        )
        runtime = ServiceRuntime(settings, migrations=MIGRATIONS, subscriptions=subscriptions)
        app = create_app(runtime, title="CPD entitlement (test)", description="", access=POLICY)
        for router in routers:
            app.include_router(router)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://entitlement",
                headers=operator_headers(),
            ) as client,
        ):
            yield client, runtime
    finally:
        await drop_database(infra.postgres_url, database_url)
