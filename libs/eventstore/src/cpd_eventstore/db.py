"""Database plumbing shared by the store, the relay, consumers and services."""

from __future__ import annotations

from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"
Pool: TypeAlias = "asyncpg.Pool[asyncpg.Record]"
Row: TypeAlias = asyncpg.Record

#: Errors meaning "the database is not reachable now", as opposed to "this statement is wrong".
DATABASE_UNAVAILABLE: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.TooManyConnectionsError,
    OSError,
    TimeoutError,
)


async def create_pool(dsn: str, min_size: int = 1, max_size: int = 10, **kwargs: Any) -> Pool:
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, command_timeout=60, **kwargs
    )
    assert pool is not None
    return pool


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database."""
    head, _, tail = url.rpartition("/")
    query = ""
    if "?" in tail:
        tail, query = tail.split("?", 1)
        query = "?" + query
    return f"{head}/{database}{query}"
