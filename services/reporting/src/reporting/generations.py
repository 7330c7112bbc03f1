"""Generations of the read models: rebuild beside the live one, switch atomically, check.

Each generation is a schema (``reporting_g<N>``) built by its own consumer group
(``reporting.read-models.g<N>``) from the beginning of the topics. ``reporting_meta.generations``
says which one is ``live`` (readers use it: see reading.py). A rebuild:

1. ``building``: a new schema and group start from offset 0 while the live one keeps serving;
2. when its lag falls under :data:`SWITCH_LAG` events, one transaction marks it ``live``, the
   old one ``retired``, and re-points the analysts' views: readers move at their next query;
3. the retired schema is dropped and its engine stops.

A change of :data:`reporting.model.MODEL_VERSION` starts a rebuild by itself at the next start.
The same machinery builds ``snapshot`` generations (the read models as they stood at the end of
a past day: events recorded after it are skipped) and ``check`` generations (a clean rebuild
compared with the live one, table by table, by checksum).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import structlog

from cpd_eventstore import Migration
from cpd_eventstore.db import Connection, Pool
from cpd_eventstore.lag import partition_lag
from reporting.engine import ProjectionEngine
from reporting.model import DDL, MODEL_VERSION, TABLES
from reporting.projection import ReadModelProjection
from reporting.reading import META_SCHEMA

log = structlog.get_logger(__name__)

#: A building generation goes live once it is at most this many events behind the topics.
SWITCH_LAG = 500
#: A retired generation is dropped this long after the switch: other instances stop its engine
#: at their next step, and queries that began before the switch finish.
DROP_AFTER = timedelta(seconds=30)

META_MIGRATIONS = [
    Migration(
        1,
        "generations of the read models",
        f"""
        create schema if not exists {META_SCHEMA};
        create table {META_SCHEMA}.generations (
            generation int primary key,
            schema_name text not null unique,
            model_version int not null,
            status text not null check (status in
                ('building', 'live', 'retired', 'snapshot-building', 'snapshot', 'check')),
            as_of date,
            created_at timestamptz not null default now(),
            live_since timestamptz,
            retired_at timestamptz,
            progress jsonb not null default '{{}}'::jsonb
        );
        -- numbers are never reused: a number names a consumer group too
        create sequence {META_SCHEMA}.generation_numbers;
        create unique index generations_one_live on {META_SCHEMA}.generations (status)
            where status = 'live';
        """,
    ),
]

#: Tables compared by a consistency check, and the columns left out (when a row was refreshed).
CHECKED_TABLES: tuple[str, ...] = (
    *(table.name for table in TABLES),
    "school_summaries",
)
UNCHECKED_COLUMNS = {"school_summaries": ("refreshed_at",)}


@dataclass(frozen=True)
class Generation:
    generation: int
    schema_name: str
    model_version: int
    status: str
    as_of: date | None
    created_at: datetime
    live_since: datetime | None
    progress: dict[str, Any]
    retired_at: datetime | None = None

    @property
    def group_id(self) -> str:
        return f"reporting.read-models.g{self.generation}"


async def list_generations(db: Pool | Connection) -> list[Generation]:
    rows = await db.fetch(
        f"""select generation, schema_name, model_version, status, as_of, created_at,
                   live_since, progress, retired_at
              from {META_SCHEMA}.generations order by generation"""
    )
    return [Generation(**{**dict(r), "progress": json.loads(r["progress"] or "{}")}) for r in rows]


async def create_generation(
    pool: Pool, status: str = "building", as_of: date | None = None
) -> Generation:
    """Make the schema and tables of a new generation (empty: an engine fills it)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"lock table {META_SCHEMA}.generations in exclusive mode")
        number = await conn.fetchval(f"select nextval('{META_SCHEMA}.generation_numbers')")
        schema = f"reporting_g{number}"
        await conn.execute(f"create schema {schema}")
        await conn.execute(f"set local search_path to {schema}, public")
        await conn.execute(DDL)
        await conn.execute(
            f"""insert into {META_SCHEMA}.generations
                    (generation, schema_name, model_version, status, as_of)
                values ($1, $2, $3, $4, $5)""",
            number,
            schema,
            MODEL_VERSION,
            status,
            as_of,
        )
    log.info("read_models.generation_created", generation=number, status=status, as_of=as_of)
    found = [g for g in await list_generations(pool) if g.generation == number]
    return found[0]


async def switch_to(pool: Pool, generation: int) -> int | None:
    """Make ``generation`` the live one in one transaction; return the one it replaced."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"lock table {META_SCHEMA}.generations in exclusive mode")
        status = await conn.fetchval(
            f"select status from {META_SCHEMA}.generations where generation = $1", generation
        )
        if status != "building":
            raise ValueError(f"generation {generation} is {status}, not building")
        old = await conn.fetchval(
            f"""update {META_SCHEMA}.generations set status = 'retired', retired_at = now()
                 where status = 'live' returning generation"""
        )
        await conn.execute(
            f"""update {META_SCHEMA}.generations set status = 'live', live_since = now()
                 where generation = $1""",
            generation,
        )
        await _point_analyst_views(conn, f"reporting_g{generation}")
    log.info("read_models.switched", live=generation, retired=old)
    return int(old) if old is not None else None


async def _point_analyst_views(conn: Connection, schema: str) -> None:
    try:
        from reporting.analyst_views import install_analyst_views
    except ImportError:  # pragma: no cover - analysts' views not installed in this build
        return
    await install_analyst_views(conn, schema)


async def drop_generation(pool: Pool, generation: Generation) -> None:
    """Drop a retired, snapshot or check generation's schema and row."""
    if generation.status == "live":
        raise ValueError("the live generation cannot be dropped: rebuild and switch first")
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"drop schema if exists {generation.schema_name} cascade")
        await conn.execute(
            f"delete from {META_SCHEMA}.generations where generation = $1", generation.generation
        )
        # the engine's dead letters and group offsets go with it
        await conn.execute("delete from es.dead_letters where consumer = $1", generation.group_id)


async def save_progress(pool: Pool, generation: int, progress: dict[str, Any]) -> None:
    await pool.execute(
        f"update {META_SCHEMA}.generations set progress = $2::jsonb where generation = $1",
        generation,
        json.dumps(progress),
    )


def end_of(day: date) -> datetime:
    """The last instant of ``day`` (UTC): a snapshot holds what was recorded by then."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC) - timedelta(
        microseconds=1
    )


# Running the generations -----------------------------------------------------------------------


@dataclass
class EngineSettings:
    bootstrap_servers: str
    topics: Sequence[str]
    batch_size: int = 5000
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 1_000
    fetch_max_wait_ms: int = 100


def engine_for(pool: Pool, generation: Generation, settings: EngineSettings) -> ProjectionEngine:
    return ProjectionEngine(
        pool,
        ReadModelProjection(),
        schema=generation.schema_name,
        group_id=generation.group_id,
        bootstrap_servers=settings.bootstrap_servers,
        topics=settings.topics,
        batch_size=settings.batch_size,
        until=end_of(generation.as_of) if generation.as_of else None,
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=settings.heartbeat_interval_ms,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
    )


class Generations:
    """Keeps an engine running for every generation that needs one, in this process.

    Every reporting instance runs one; engines of one generation share its partitions through
    their consumer group. Whichever instance sees a building generation caught up switches it.
    """

    def __init__(self, pool: Pool, settings: EngineSettings, poll_s: float = 1.0) -> None:
        self.pool = pool
        self.settings = settings
        self.poll_s = poll_s
        self.engines: dict[int, ProjectionEngine] = {}
        self._tasks: dict[int, asyncio.Task[Any]] = {}
        self._stops: dict[int, asyncio.Event] = {}

    def engine(self, generation: int) -> ProjectionEngine | None:
        return self.engines.get(generation)

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    await self.step()
                except Exception as error:  # keep supervising: the next step retries
                    log.warning("read_models.supervisor_error", error=repr(error))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll_s)
        finally:
            for number in list(self._tasks):
                await self._stop_engine(number)

    async def step(self) -> None:
        generations = await list_generations(self.pool)
        live = next((g for g in generations if g.status == "live"), None)
        building = [g for g in generations if g.status == "building"]
        if not building and (live is None or live.model_version != MODEL_VERSION):
            # first start, or the read models' shape changed: build a generation of this code
            building = [await create_generation(self.pool)]
            generations = await list_generations(self.pool)
        wanted = {
            g.generation: g
            for g in generations
            if g.status in ("live", "building", "snapshot-building")
        }
        for number in list(self._tasks):
            if number not in wanted:
                await self._stop_engine(number)
        for number, generation in wanted.items():
            task = self._tasks.get(number)
            if task is None or task.done():
                self._start_engine(generation)
        for generation in building:
            await self._maybe_switch(generation)
        for generation in generations:
            engine = self.engines.get(generation.generation)
            if engine is not None:
                await save_progress(self.pool, generation.generation, engine.progress.as_dict())
            retired_at = generation.retired_at
            if retired_at is not None and datetime.now(UTC) - retired_at > DROP_AFTER:
                await drop_generation(self.pool, generation)

    def _start_engine(self, generation: Generation) -> None:
        engine = engine_for(self.pool, generation, self.settings)
        stop = asyncio.Event()
        self.engines[generation.generation] = engine
        self._stops[generation.generation] = stop
        snapshot = generation.status == "snapshot-building"
        self._tasks[generation.generation] = asyncio.create_task(
            self._run_engine(generation, engine, stop, snapshot)
        )
        log.info("read_models.engine_started", generation=generation.generation)

    async def _run_engine(
        self, generation: Generation, engine: ProjectionEngine, stop: asyncio.Event, snapshot: bool
    ) -> None:
        try:
            await engine.run(stop, until_caught_up=snapshot)
            if snapshot and not stop.is_set():
                await engine.settle_all()
                await self.pool.execute(
                    f"""update {META_SCHEMA}.generations set status = 'snapshot',
                               progress = $2::jsonb
                         where generation = $1 and status = 'snapshot-building'""",
                    generation.generation,
                    json.dumps(engine.progress.as_dict()),
                )
        except Exception as error:
            log.error(
                "read_models.engine_failed", generation=generation.generation, error=repr(error)
            )
            await asyncio.sleep(1)  # the supervisor restarts it

    async def _stop_engine(self, number: int) -> None:
        self._stops.pop(number).set()
        task = self._tasks.pop(number)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)
        self.engines.pop(number, None)

    async def _maybe_switch(self, generation: Generation) -> None:
        engine = self.engines.get(generation.generation)
        if engine is None or not engine.progress.caught_up:
            return
        # this process sees its own partitions; the switch needs every partition caught up
        behind = await generation_lag(self.pool, generation, self.settings)
        if behind > SWITCH_LAG:
            return
        await engine.settle_all()
        await switch_to(self.pool, generation.generation)


async def generation_lag(pool: Pool, generation: Generation, settings: EngineSettings) -> int:
    """Events on the topics the generation has not applied yet (all partitions, all instances)."""
    rows = await pool.fetch(
        f"select topic, partition, next_offset from {generation.schema_name}.applied_offsets"
    )
    positions: dict[tuple[str, int], int | None] = {
        (r["topic"], r["partition"]): r["next_offset"] for r in rows
    }
    lags = await partition_lag(settings.bootstrap_servers, positions, settings.topics)
    return sum(lag.lag_events for lag in lags)


# Consistency ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableCheck:
    table: str
    live_rows: int
    rebuilt_rows: int
    live_checksum: str
    rebuilt_checksum: str

    @property
    def equal(self) -> bool:
        return (self.live_rows, self.live_checksum) == (self.rebuilt_rows, self.rebuilt_checksum)


async def checksums(conn: Connection, schema: str) -> dict[str, tuple[int, str]]:
    """Rows and an order-independent checksum of every checked table of ``schema``."""
    found: dict[str, tuple[int, str]] = {}
    for table in CHECKED_TABLES:
        skipped = UNCHECKED_COLUMNS.get(table, ())
        columns = await conn.fetch(
            """select column_name from information_schema.columns
                where table_schema = $1 and table_name = $2 order by ordinal_position""",
            schema,
            table,
        )
        names = [c["column_name"] for c in columns if c["column_name"] not in skipped]
        row = ", ".join(names)
        result = await conn.fetchrow(
            f"""select count(*) as n,
                       coalesce(md5(string_agg(h, '' order by h)), '') as checksum
                  from (select md5(row({row})::text) as h from {schema}.{table}) t"""
        )
        assert result is not None
        found[table] = (result["n"], result["checksum"])
    return found


async def consistency_check(
    pool: Pool, settings: EngineSettings, within_s: float = 120.0, today: date | None = None
) -> list[TableCheck]:
    """Rebuild the read models from the topics into a scratch generation and compare it with
    the live one, table by table, once both have applied the same offsets."""
    generations = await list_generations(pool)
    live = next((g for g in generations if g.status == "live"), None)
    if live is None:
        raise LookupError("no live generation to check")
    check = await create_generation(pool, status="check")
    engine = engine_for(pool, check, settings)
    deadline = asyncio.get_running_loop().time() + within_s
    try:
        while True:
            await engine.run(asyncio.Event(), until_caught_up=True)
            live_offsets = await _offsets(pool, live.schema_name)
            check_offsets = await _offsets(pool, check.schema_name)
            if live_offsets == check_offsets:
                break
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(
                    "the live read models and the rebuild did not reach the same offsets"
                    f" within {within_s:.0f} s (live {live_offsets}, rebuild {check_offsets})"
                )
            await asyncio.sleep(0.2)
        from reporting.summaries import refresh_school_summaries

        day = today or datetime.now(UTC).date()
        async with pool.acquire() as conn, conn.transaction():
            for schema in (live.schema_name, check.schema_name):
                await conn.execute(f"set local search_path to {schema}, public")
                await refresh_school_summaries(conn, None, day)
            live_sums = await checksums(conn, live.schema_name)
            check_sums = await checksums(conn, check.schema_name)
        return [
            TableCheck(
                table,
                live_rows=live_sums[table][0],
                rebuilt_rows=check_sums[table][0],
                live_checksum=live_sums[table][1],
                rebuilt_checksum=check_sums[table][1],
            )
            for table in CHECKED_TABLES
        ]
    finally:
        await drop_generation(pool, check)


async def _offsets(pool: Pool, schema: str) -> dict[tuple[str, int], int]:
    rows = await pool.fetch(f"select topic, partition, next_offset from {schema}.applied_offsets")
    return {(r["topic"], r["partition"]): r["next_offset"] for r in rows}
