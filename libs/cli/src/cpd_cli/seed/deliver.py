"""Hand one service's stored events to another service's consumer, in process.

A service checks facts of another service against a local replica it keeps from that service's
events (entitlement's replica of the catalogue, mentoring's of the registry, the catalogue's
table of completions). Through Kafka the replica lags by tens of milliseconds, and not at all
while the platform is down. So that the seed can run with or without the platform, it delivers
the events itself, with the consumer's own rules and under the consumer's own name:

- the consumer's handler (the service's function) applies each event, in the target's database;
- ``es.consumer_streams`` records the last version applied per stream in the same transaction,
  exactly as :class:`cpd_eventstore.consumer.IdempotentConsumer` does, so when the service
  later receives the same events from Kafka they are duplicates and change nothing;
- an event at or below the version applied is skipped; an event beyond the next version (a gap,
  a stream held by a dead letter) stops that stream for this pass and is left to the service.

Events of types the handler ignores only advance the version (their payload is not read).

While the platform runs, its consumers replicate by themselves and the seed must not write
beside them (two writers of one consumer's rows can deadlock, and the service would dead-letter
the loser): :func:`await_replica` then only waits until the consumer has caught up.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from cpd_events import REGISTRY, Envelope
from cpd_eventstore.consumer import Handler
from cpd_eventstore.db import Pool

PAGE = 5000


@dataclass
class Delivery:
    consumer: str
    read: int = 0
    applied: int = 0  # handed to the handler
    advanced: int = 0  # ignored by the handler: version advanced only
    duplicates: int = 0
    held: int = 0  # left to the service (a gap or a dead letter)
    seconds: float = 0.0


_COLUMNS = """position, event_id, stream_id, stream_version, event_type, schema_version,
    occurred_at, recorded_at, correlation_id, causation_id, actor, trust_id, school_urn,
    teacher_id, case when event_type = any($3::text[]) then data end as data"""


async def deliver(
    source: Pool,
    target: Pool,
    consumer: str,
    handler: Handler,
    relevant: frozenset[str],
    progress: Callable[[int, int], None] | None = None,
) -> Delivery:
    """Deliver every event of ``source``'s store to ``consumer`` in ``target``'s database."""
    started = time.perf_counter()
    report = Delivery(consumer)
    total = int(await source.fetchval("select count(*) from es.events") or 0)
    after = 0
    held: set[str] = set()
    while True:
        rows = await source.fetch(
            f"select {_COLUMNS} from es.events where position > $1 order by position limit $2",
            after,
            PAGE,
            sorted(relevant),
        )
        if not rows:
            break
        after = rows[-1]["position"]
        streams = sorted({row["stream_id"] for row in rows})
        async with target.acquire() as conn, conn.transaction():
            applied: dict[str, int] = {
                r["stream_id"]: r["version"]
                for r in await conn.fetch(
                    "select stream_id, version from es.consumer_streams"
                    " where consumer = $1 and stream_id = any($2::text[])",
                    consumer,
                    streams,
                )
            }
            held |= {
                r["stream_id"]
                for r in await conn.fetch(
                    "select distinct stream_id from es.dead_letters where consumer = $1"
                    " and stream_id = any($2::text[]) and status in ('failed', 'parked')",
                    consumer,
                    streams,
                )
            }
            changed: dict[str, int] = {}
            for row in rows:
                stream, version = row["stream_id"], row["stream_version"]
                report.read += 1
                current = applied.get(stream, 0)
                if version <= current:
                    report.duplicates += 1
                    continue
                if stream in held or version != current + 1:
                    held.add(stream)
                    report.held += 1
                    continue
                if row["event_type"] in relevant:
                    fields = dict(row)
                    data = json.loads(fields.pop("data"))
                    envelope = Envelope(**fields, data=data)
                    await handler(conn, envelope, REGISTRY.load(envelope))
                    report.applied += 1
                else:
                    report.advanced += 1
                applied[stream] = changed[stream] = version
            if changed:
                await conn.execute(
                    """insert into es.consumer_streams (consumer, stream_id, version)
                       select $1, s, v from unnest($2::text[], $3::int[]) as t(s, v)
                       on conflict (consumer, stream_id) do update
                       set version = greatest(es.consumer_streams.version, excluded.version),
                           updated_at = now()""",
                    consumer,
                    list(changed),
                    list(changed.values()),
                )
        if progress is not None:
            progress(report.read, max(total, report.read))
    report.seconds = time.perf_counter() - started
    return report


class ReplicaTimeout(Exception):
    pass


async def await_replica(
    source: Pool,
    target: Pool,
    consumer: str,
    types: frozenset[str],
    progress: Callable[[int, int], None] | None = None,
    within: float = 600.0,
    must: bool = True,
) -> Delivery:
    """Wait until the running service's ``consumer`` has applied, on every stream of
    ``source``'s store, the last event of one of ``types`` (published by the source's relay):
    the platform replicates, the seed only watches. ``must=False``: after ``within`` seconds,
    carry on with what has arrived."""
    started = time.perf_counter()
    report = Delivery(consumer)
    wanted: dict[str, int] = {
        r["stream_id"]: r["version"]
        for r in await source.fetch(
            "select stream_id, max(stream_version) as version from es.events"
            " where event_type = any($1::text[]) group by 1",
            sorted(types),
        )
    }
    while True:
        applied: dict[str, int] = {
            r["stream_id"]: r["version"]
            for r in await target.fetch(
                "select stream_id, version from es.consumer_streams"
                " where consumer = $1 and stream_id = any($2::text[])",
                consumer,
                list(wanted),
            )
        }
        done = sum(1 for s, v in wanted.items() if applied.get(s, 0) >= v)
        if progress is not None:
            progress(done, len(wanted))
        if done >= len(wanted):
            break
        if time.perf_counter() - started > within:
            if not must:
                report.held = len(wanted) - done
                break
            raise ReplicaTimeout(
                f"{consumer} has caught up on {done:,} of {len(wanted):,} streams within"
                f" {within:.0f} s: is the service running, and are there dead letters"
                " (`cpd dead-letters list`)?"
            )
        await asyncio.sleep(0.5)
    report.read = len(wanted)
    report.duplicates = len(wanted) - report.held
    report.seconds = time.perf_counter() - started
    return report
