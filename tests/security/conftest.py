"""The four services in-process (real PostgreSQL and broker), for the access tests."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI

from cpd_platform.testing import Infrastructure, create_database, drop_database

from .security_support import SERVICES


@pytest.fixture(scope="session")
async def service_apps(infra: Infrastructure) -> AsyncIterator[dict[str, FastAPI]]:
    """Each service built by its ``build_app`` (the real access policy) and started."""
    apps: dict[str, FastAPI] = {}
    databases: list[str] = []
    async with contextlib.AsyncExitStack() as stack:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("KAFKA_BOOTSTRAP_SERVERS", infra.bootstrap_servers)
            env.setenv("CPD_CONSUMER_SESSION_TIMEOUT_MS", "2000")
            env.setenv("CPD_CONSUMER_HEARTBEAT_INTERVAL_MS", "500")
            env.setenv("CPD_OPERATOR_TOKEN", "web-operator-token-for-tests")
            env.setenv("CPD_RATE_LIMIT_PER_MINUTE", "0")
            for service in SERVICES:
                database_url = await create_database(infra.postgres_url)
                databases.append(database_url)
                env.setenv("DATABASE_URL", database_url)
                apps[service] = importlib.import_module(f"{service}.main").build_app()
        try:
            for app in apps.values():
                await stack.enter_async_context(app.router.lifespan_context(app))
            yield apps
        finally:
            await stack.aclose()
            for database_url in databases:
                await drop_database(infra.postgres_url, database_url)
