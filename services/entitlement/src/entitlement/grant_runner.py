"""Grants follow a policy's publication by themselves.

Publishing a policy wakes the runner, which grants the year to every active teacher with
:func:`entitlement.grants.grant_year` (batched, idempotent: grant event ids are fixed per
teacher, year and policy version). A run that is cut short (a crash, a deploy) is finished at the
next start-up: the runner compares the published policies with the runs it completed. Across
replicas one runner works at a time (an advisory lock); the others wait for the next wake-up.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from cpd_eventstore import EventStore, Migration
from cpd_eventstore.db import Pool
from cpd_platform.runtime import ServiceRuntime
from entitlement.grants import GrantRun, grant_year

log = structlog.get_logger(__name__)

MIGRATIONS = [
    Migration(
        4,
        "grant runs: which policy versions every teacher was granted under",
        """
        create table entitlement.grant_runs (
            academic_year text not null,
            policy_version int not null,
            granted int not null,
            completed_at timestamptz not null default now(),
            primary key (academic_year, policy_version)
        );
        create index events_policies on es.events (stream_id)
            where event_type = 'EntitlementPolicyPublished';
        """,
    )
]

_LOCK = "entitlement.grant-runner"


async def pending_policies(pool: Pool) -> list[tuple[str, int]]:
    """(academic year, current policy version) pairs whose grant run has not completed."""
    rows = await pool.fetch(
        """select data->>'academic_year' as year, max((data->>'policy_version')::int) as version
             from es.events where event_type = 'EntitlementPolicyPublished'
            group by 1
           except
           select academic_year, policy_version from entitlement.grant_runs
           order by 1, 2"""
    )
    return [(row["year"], row["version"]) for row in rows]


async def run_pending(store: EventStore) -> list[GrantRun]:
    """Grant every pending policy; returns the runs made (none if another runner holds the lock)."""
    runs = []
    async with store.pool.acquire() as conn:
        if not await conn.fetchval("select pg_try_advisory_lock(hashtextextended($1, 2))", _LOCK):
            return []
        try:
            for academic_year, version in await pending_policies(store.pool):
                log.info("grants.started", academic_year=academic_year, policy_version=version)
                run = await grant_year(store, academic_year, count=False)
                await store.pool.execute(
                    """insert into entitlement.grant_runs (academic_year, policy_version, granted)
                       values ($1, $2, $3) on conflict do nothing""",
                    academic_year,
                    run.policy_version,
                    run.granted,
                )
                log.info(
                    "grants.completed",
                    academic_year=academic_year,
                    policy_version=run.policy_version,
                    granted=run.granted,
                )
                runs.append(run)
        finally:
            await conn.execute("select pg_advisory_unlock(hashtextextended($1, 2))", _LOCK)
    return runs


class GrantRunner:
    """Background work of the entitlement service (see :class:`ServiceRuntime.background`)."""

    def __init__(self) -> None:
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """A policy was published: grant it now."""
        self._wake.set()

    async def __call__(self, runtime: ServiceRuntime, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            try:
                await run_pending(runtime.require_store())
            except Exception as error:  # the database may be away: the next wake-up retries
                log.warning("grants.failed", error=repr(error))
            waits = [asyncio.create_task(self._wake.wait()), asyncio.create_task(stop.wait())]
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait(waits, timeout=300, return_when=asyncio.FIRST_COMPLETED)
            for task in waits:
                task.cancel()
