"""Helpers for tests and benchmarks: a live generation of the read models, fed directly."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cpd_eventstore import migrate
from cpd_eventstore.db import Pool
from reporting.engine import Progress, ProjectionEngine
from reporting.generations import META_MIGRATIONS, Generation, create_generation, switch_to
from reporting.projection import ReadModelProjection


async def live_generation(pool: Pool) -> Generation:
    """Make the meta schema and a new, live, empty generation of the read models."""
    await migrate(pool, "reporting_meta", META_MIGRATIONS)
    generation = await create_generation(pool)
    await switch_to(pool, generation.generation)
    return generation


def engine_of(pool: Pool, generation: Generation) -> ProjectionEngine:
    """The generation's engine, for feeding records directly (no broker is contacted)."""
    return ProjectionEngine(
        pool,
        ReadModelProjection(),
        schema=generation.schema_name,
        group_id=generation.group_id,
        bootstrap_servers="unused:9092",
        topics=["unused"],
    )


async def apply_records(pool: Pool, generation: Generation, records: Sequence[Any]) -> Progress:
    """Apply ``records`` (Kafka-record-like) as one engine batch; return what it did."""
    engine = engine_of(pool, generation)
    await engine.prepare()
    await engine.handle(records)
    return engine.progress
