"""The PostgreSQL event store: append with expected versions, read streams, read everything.

Ordering and gap safety
-----------------------
Every row records the id of the transaction that wrote it (``tx_id``, ``pg_current_xact_id()``)
beside its global ``position``. The outbox relay reads in ``(tx_id, position)`` order and only
below the oldest transaction still running, so a row whose transaction commits late is never
skipped (see :mod:`cpd_eventstore.relay`).

For that order to keep each stream in version order, a writer takes the streams' locks *before*
its transaction gets an id: the locks are transaction-scoped advisory locks, which allocate no
transaction id, and the first write comes after them. A writer that waited for a stream's lock
therefore gets a larger transaction id than the writer it waited for.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from cpd_events import Envelope, Metadata, NewEvent
from cpd_eventstore import tracing
from cpd_eventstore.db import Connection, Pool, Row
from cpd_eventstore.errors import ConcurrencyError, PartiallyStoredError

#: Expected version for "whatever the stream holds" (no optimistic check).
ANY_VERSION: Final = -1
#: Expected version of a stream that does not exist yet.
NO_STREAM: Final = 0

_COLUMNS = """position, event_id, stream_id, stream_version, event_type, schema_version,
    occurred_at, recorded_at, correlation_id, causation_id, actor, trust_id, school_urn,
    teacher_id, traceparent, data"""


@dataclass(frozen=True)
class StreamWrite:
    """Events to append to one stream, with the version the writer expects it to be at."""

    stream_id: str
    expected_version: int
    events: Sequence[NewEvent] = field(default_factory=tuple)


def row_to_envelope(row: Row) -> Envelope:
    return Envelope(
        event_id=row["event_id"],
        event_type=row["event_type"],
        schema_version=row["schema_version"],
        stream_id=row["stream_id"],
        stream_version=row["stream_version"],
        position=row["position"],
        occurred_at=row["occurred_at"],
        recorded_at=row["recorded_at"],
        correlation_id=row["correlation_id"],
        causation_id=row["causation_id"],
        actor=row["actor"],
        trust_id=row["trust_id"],
        school_urn=row["school_urn"],
        teacher_id=row["teacher_id"],
        data=json.loads(row["data"]),
    )


class EventStore:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def append(
        self, stream_id: str, expected_version: int, events: Sequence[NewEvent], metadata: Metadata
    ) -> list[Envelope]:
        return await self.append_many([StreamWrite(stream_id, expected_version, events)], metadata)

    async def append_many(
        self,
        writes: Sequence[StreamWrite],
        metadata: Metadata,
        connection: Connection | None = None,
    ) -> list[Envelope]:
        """Append to several streams in one transaction: all or nothing.

        Raises :class:`ConcurrencyError` if any stream is not at its expected version. If every
        event id is stored already, nothing is written and the stored events are returned.
        With ``connection``, the append joins the caller's transaction (as a savepoint).

        Runs in an ``eventstore.append`` span (child of the current span, else of the metadata's
        ``traceparent``); the events store that span's ``traceparent``, so the relay and the
        consumers continue the same trace.
        """
        parent = None if tracing.current_traceparent() else tracing.context_of(metadata.traceparent)
        with tracing.tracer().start_as_current_span("eventstore.append", context=parent) as span:
            traceparent = tracing.traceparent_of(span)
            if traceparent is not None and traceparent != metadata.traceparent:
                metadata = metadata.model_copy(update={"traceparent": traceparent})
            if span.is_recording():
                span.set_attribute("cpd.streams", len(writes))
                span.set_attribute("cpd.events", sum(len(w.events) for w in writes))
            if connection is not None:
                async with connection.transaction():
                    return await self._append(connection, writes, metadata)
            async with self.pool.acquire() as conn, conn.transaction():
                return await self._append(conn, writes, metadata)

    async def _append(
        self, conn: Connection, writes: Sequence[StreamWrite], metadata: Metadata
    ) -> list[Envelope]:
        streams = [w.stream_id for w in writes]
        if len(set(streams)) != len(streams):
            raise ValueError("append_many takes each stream once")
        event_ids = [e.event_id for w in writes for e in w.events]
        if not event_ids:
            return []
        # one statement, locks taken in the array's (sorted) order: no deadlock between writers
        await conn.execute(
            "select pg_advisory_xact_lock(hashtextextended(s, 0))"
            " from unnest($1::text[]) with ordinality as t(s, n) order by n",
            sorted(streams),
        )
        stored = await conn.fetch(
            f"select {_COLUMNS} from es.events where event_id = any($1::uuid[]) order by position",
            event_ids,
        )
        if stored:
            if len(stored) == len(event_ids):
                return [row_to_envelope(row) for row in stored]
            raise PartiallyStoredError(
                f"{len(stored)} of {len(event_ids)} events are stored already"
            )
        versions: dict[str, int] = {
            row["stream_id"]: row["version"]
            for row in await conn.fetch(
                "select stream_id, max(stream_version) as version from es.events"
                " where stream_id = any($1::text[]) group by stream_id",
                streams,
            )
        }
        rows: list[tuple[Any, ...]] = []
        for write in writes:
            actual = versions.get(write.stream_id, NO_STREAM)
            if write.expected_version not in (ANY_VERSION, actual):
                raise ConcurrencyError(write.stream_id, write.expected_version, actual)
            for offset, new in enumerate(write.events, start=1):
                keys = new.keys()
                rows.append(
                    (
                        new.event_id,
                        write.stream_id,
                        actual + offset,
                        new.event.event_type,
                        new.event.schema_version,
                        new.occurred_at,
                        metadata.correlation_id,
                        metadata.causation_id,
                        metadata.actor,
                        keys.trust_id,
                        keys.school_urn,
                        keys.teacher_id,
                        metadata.traceparent,
                        new.event.model_dump_json(),
                    )
                )
        inserted = await conn.fetch(
            f"""
            insert into es.events (event_id, stream_id, stream_version, event_type,
                schema_version, occurred_at, correlation_id, causation_id, actor, trust_id,
                school_urn, teacher_id, traceparent, data)
            select * from unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::int[],
                $6::timestamptz[], $7::text[], $8::text[], $9::text[], $10::text[],
                $11::text[], $12::text[], $13::text[], $14::jsonb[])
            returning {_COLUMNS}
            """,
            *map(list, zip(*rows, strict=True)),
        )
        return sorted((row_to_envelope(row) for row in inserted), key=lambda e: e.position or 0)

    async def read_stream(self, stream_id: str, after_version: int = 0) -> list[Envelope]:
        rows = await self.pool.fetch(
            f"select {_COLUMNS} from es.events where stream_id = $1 and stream_version > $2"
            " order by stream_version",
            stream_id,
            after_version,
        )
        return [row_to_envelope(row) for row in rows]

    async def read_all(self, after_position: int = 0, limit: int = 1000) -> list[Envelope]:
        """Committed events after a global position, in position order.

        Positions are taken at insert and seen at commit, so a reader that keeps a position as
        its checkpoint can miss a late commit: live readers use the relay instead.
        """
        rows = await self.pool.fetch(
            f"select {_COLUMNS} from es.events where position > $1 order by position limit $2",
            after_position,
            limit,
        )
        return [row_to_envelope(row) for row in rows]

    async def stream_version(self, stream_id: str) -> int:
        version = await self.pool.fetchval(
            "select max(stream_version) from es.events where stream_id = $1", stream_id
        )
        return int(version or NO_STREAM)
