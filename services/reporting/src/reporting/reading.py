"""How queries read the read models: one snapshot of the live generation (or of an as-of one).

Queries name tables without a schema; :func:`read_model` opens a read-only repeatable-read
transaction whose ``search_path`` points at the generation to read, chosen in the same
transaction, so a switch to a rebuilt generation never mixes two generations in one answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date

from cpd_eventstore.db import Connection, Pool

META_SCHEMA = "reporting_meta"


class ReadModelUnavailable(LookupError):
    """No generation serves reads yet (first start, still building), or no such as-of one."""


class NoSuchSnapshot(ReadModelUnavailable):
    """No as-of snapshot of that day: the client asked for what does not exist (404, not 503)."""


@asynccontextmanager
async def read_model(pool: Pool, as_of: date | None = None) -> AsyncIterator[Connection]:
    """A connection reading the live read models (or the as-of snapshot of ``as_of``)."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        await use_generation(conn, as_of)
        yield conn


async def use_generation(conn: Connection, as_of: date | None = None) -> str:
    """Point ``conn``'s current transaction at the generation to read; return its schema."""
    if as_of is None:
        schema = await conn.fetchval(
            f"""select set_config('search_path', schema_name || ', public', true), schema_name
                  from {META_SCHEMA}.generations where status = 'live'""",
            column=1,
        )
        if schema is None:
            raise ReadModelUnavailable(
                "the read models are still being built: try again in a moment"
            )
        return str(schema)
    schema = await conn.fetchval(
        f"""select set_config('search_path', schema_name || ', public', true), schema_name
              from {META_SCHEMA}.generations
             where status = 'snapshot' and as_of = $1""",
        as_of,
        column=1,
    )
    if schema is None:
        raise NoSuchSnapshot(
            f"no snapshot of the read models as of {as_of.isoformat()}: an operator builds one"
            f" with `cpd reporting snapshot {as_of.isoformat()}`"
        )
    return str(schema)
