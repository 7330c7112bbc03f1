"""Fixtures shared by every test folder: real PostgreSQL and a real Kafka-protocol broker."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from cpd_eventstore import EVENTSTORE_MIGRATIONS, EventStore, migrate
from cpd_eventstore.db import Pool, create_pool
from cpd_platform.testing import (
    Infrastructure,
    create_database,
    drop_database,
    infrastructure,
    use_test_auth,
)

ROOT = Path(__file__).parent

#: every service a test builds verifies tokens of the tests' key (cpd_platform.testing)
use_test_auth()


@pytest.fixture(scope="session")
def infra() -> Iterator[Infrastructure]:
    """Started once per run; a missing component fails the tests that need it, loudly."""
    with infrastructure() as found:
        print(f"\ninfrastructure: {found.source}")
        yield found


@pytest.fixture
async def database_url(infra: Infrastructure) -> AsyncIterator[str]:
    url = await create_database(infra.postgres_url)
    yield url
    if not os.environ.get("CPD_KEEP_TEST_DATABASES"):
        await drop_database(infra.postgres_url, url)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Pool]:
    pool = await create_pool(database_url, max_size=12)
    await migrate(pool, "eventstore", list(EVENTSTORE_MIGRATIONS))
    yield pool
    await pool.close()


@pytest.fixture
def store(pool: Pool) -> EventStore:
    return EventStore(pool)


@pytest.fixture
def topic() -> str:
    return f"test.{uuid.uuid4().hex[:10]}"
