"""Idempotent consumers: a projection update and the consumer's progress commit together.

For every event the consumer keeps the last stream version it applied (``es.consumer_streams``),
updated in the same Postgres transaction as the projection, and Kafka offsets are committed only
after that transaction. A redelivered event is at or below that version and changes nothing.

An event that cannot be handled (bytes that are no envelope, an unknown type or version, an
invalid payload, a handler that raises) goes to ``es.dead_letters`` as ``failed`` with the error.
Later events of the same stream are ``parked`` behind it, so a stream's order is never broken,
while every other stream flows on. An event that arrives ahead of a missing version is parked
too and applied once the missing one arrives. Operators list, retry and discard dead letters.
"""

from __future__ import annotations

import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from opentelemetry.trace import SpanKind

from cpd_events import REGISTRY, Envelope, Event, EventContractError, EventRegistry
from cpd_events.registry import parse_envelope
from cpd_events.topics import HEADER_EVENT_TYPE, HEADER_TRACEPARENT
from cpd_eventstore import tracing
from cpd_eventstore.db import DATABASE_UNAVAILABLE, Connection, Pool

log = structlog.get_logger(__name__)

Handler = Callable[[Connection, Envelope, Event], Awaitable[None]]


class Record(Protocol):
    """What the consumer needs of a Kafka record (aiokafka's ConsumerRecord fits)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def value(self) -> bytes | None: ...


@dataclass(frozen=True)
class Outcome:
    applied: int = 0
    duplicates: int = 0
    failed: int = 0
    parked: int = 0

    def __add__(self, other: Outcome) -> Outcome:
        return Outcome(
            self.applied + other.applied,
            self.duplicates + other.duplicates,
            self.failed + other.failed,
            self.parked + other.parked,
        )


@dataclass(frozen=True)
class DeadLetter:
    id: int
    consumer: str
    status: str
    stream_id: str | None
    stream_version: int | None
    event_id: str | None
    event_type: str | None
    topic: str | None
    partition: int | None
    offset: int | None
    error: str
    attempts: int
    payload: bytes


class IdempotentConsumer:
    """Applies events to a projection exactly once per (consumer, stream, version)."""

    def __init__(
        self,
        pool: Pool,
        name: str,
        handler: Handler,
        registry: EventRegistry = REGISTRY,
    ) -> None:
        self.pool = pool
        self.name = name
        self.handler = handler
        self.registry = registry

    async def handle_batch(self, records: Sequence[Record]) -> Outcome:
        """Handle a batch of records in one transaction (a savepoint per event)."""
        total = Outcome()
        async with self.pool.acquire() as conn, conn.transaction():
            for record in records:
                total += await self._handle_traced(conn, record)
        return total

    async def _handle_traced(self, conn: Connection, record: Record) -> Outcome:
        """Handle one record in a consumer span, child of its ``traceparent`` header, with the
        event's correlation id and trace id on every log line meanwhile."""
        headers = getattr(record, "headers", None)
        traceparent = tracing.header(headers, HEADER_TRACEPARENT)
        event_type = tracing.header(headers, HEADER_EVENT_TYPE) or "event"
        with (
            tracing.tracer().start_as_current_span(
                f"consumer.handle {event_type}",
                context=tracing.context_of(traceparent),
                kind=SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.destination.name": record.topic,
                    "messaging.destination.partition.id": str(record.partition),
                    "messaging.kafka.offset": record.offset,
                    "messaging.consumer.group.name": self.name,
                    "cpd.event_type": event_type,
                },
            ) as span,
            structlog.contextvars.bound_contextvars(
                consumer=self.name, correlation_id=None, trace_id=tracing.trace_id_of(traceparent)
            ),
        ):
            outcome = await self._handle_record(conn, record)
            if span.is_recording():
                span.set_attribute("cpd.outcome", _outcome_name(outcome))
            return outcome

    async def _handle_record(self, conn: Connection, record: Record) -> Outcome:
        payload = record.value or b""
        where = (record.topic, record.partition, record.offset)
        try:
            envelope = parse_envelope(payload)
        except EventContractError as bad_envelope:
            await self._dead_letter(conn, "failed", None, payload, str(bad_envelope), where)
            return Outcome(failed=1)
        structlog.contextvars.bind_contextvars(correlation_id=envelope.correlation_id)
        row = await conn.fetchrow(
            """select
                 (select version from es.consumer_streams
                   where consumer = $1 and stream_id = $2) as applied,
                 exists(select 1 from es.dead_letters
                   where consumer = $1 and stream_id = $2 and status = 'failed') as blocked,
                 exists(select 1 from es.dead_letters
                   where consumer = $1 and event_id = $3 and status in ('failed', 'parked'))
                   as held""",
            self.name,
            envelope.stream_id,
            envelope.event_id,
        )
        assert row is not None  # a select without from always returns one row
        applied = row["applied"] or 0
        if envelope.stream_version <= applied or row["held"]:
            return Outcome(duplicates=1)
        if row["blocked"]:
            reason = "waiting behind a failed event of its stream"
        elif envelope.stream_version > applied + 1:
            reason = f"waiting for version {applied + 1} of its stream"
        else:
            failure = await self._apply(conn, envelope)
            if failure is not None:
                await self._dead_letter(conn, "failed", envelope, payload, failure, where)
                return Outcome(failed=1)
            return Outcome(applied=1) + await self._drain(conn, envelope.stream_id)
        await self._dead_letter(conn, "parked", envelope, payload, reason, where)
        return Outcome(parked=1)

    async def _apply(self, conn: Connection, envelope: Envelope) -> str | None:
        """Decode and apply one event, recording progress, in a savepoint; return any error."""
        try:
            event = self.registry.load(envelope)
        except EventContractError as error:
            return str(error)
        try:
            async with conn.transaction():
                await self.handler(conn, envelope, event)
                await conn.execute(
                    """insert into es.consumer_streams (consumer, stream_id, version)
                       values ($1, $2, $3)
                       on conflict (consumer, stream_id)
                       do update set version = excluded.version, updated_at = now()""",
                    self.name,
                    envelope.stream_id,
                    envelope.stream_version,
                )
        except DATABASE_UNAVAILABLE:
            raise  # the database is unreachable: not the event's fault, redeliver later
        except Exception as error:
            log.warning(
                "consumer.event_failed",
                consumer=self.name,
                stream_id=envelope.stream_id,
                stream_version=envelope.stream_version,
                event_type=envelope.event_type,
                error=repr(error),
            )
            return "".join(traceback.format_exception_only(error)).strip()
        return None

    async def _drain(self, conn: Connection, stream_id: str) -> Outcome:
        """Apply the parked events of a stream that are now next in line."""
        total = Outcome()
        while True:
            row = await conn.fetchrow(
                """select d.id, d.payload from es.dead_letters d
                   where d.consumer = $1 and d.stream_id = $2 and d.status = 'parked'
                     and d.stream_version = coalesce((select version from es.consumer_streams
                          where consumer = $1 and stream_id = $2), 0) + 1
                   order by d.id limit 1""",
                self.name,
                stream_id,
            )
            if row is None:
                return total
            outcome, _ = await self._retry_row(conn, row["id"], row["payload"])
            total += outcome
            if outcome.failed:
                return total

    async def _retry_row(
        self, conn: Connection, dead_letter_id: int, payload: bytes
    ) -> tuple[Outcome, str | None]:
        try:
            error = await self._apply(conn, parse_envelope(payload))
        except EventContractError as contract_error:
            error = str(contract_error)
        if error is None:
            await conn.execute(
                "update es.dead_letters set status = 'resolved', resolution = 'applied',"
                " updated_at = now() where id = $1",
                dead_letter_id,
            )
            return Outcome(applied=1), None
        await conn.execute(
            "update es.dead_letters set status = 'failed', error = $2, attempts = attempts + 1,"
            " updated_at = now() where id = $1",
            dead_letter_id,
            error,
        )
        return Outcome(failed=1), error

    async def _dead_letter(
        self,
        conn: Connection,
        status: str,
        envelope: Envelope | None,
        payload: bytes,
        error: str,
        where: tuple[str | None, int | None, int | None],
    ) -> None:
        await insert_dead_letter(conn, self.name, status, envelope, payload, error, where)

    # Operator actions -----------------------------------------------------------------------

    async def dead_letters(
        self, statuses: Sequence[str] = ("failed", "parked")
    ) -> list[DeadLetter]:
        return await list_dead_letters(self.pool, self.name, statuses)

    async def retry(self, dead_letter_id: int) -> tuple[Outcome, str | None]:
        """Retry a failed event (after a fix); if it applies, its parked followers follow."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await _open_dead_letter(conn, self.name, dead_letter_id, "failed")
            if row["stream_id"] is not None:
                applied = await conn.fetchval(
                    "select version from es.consumer_streams where consumer = $1"
                    " and stream_id = $2",
                    self.name,
                    row["stream_id"],
                )
                if row["stream_version"] <= (applied or 0):
                    await close_dead_letter(conn, dead_letter_id, "resolved", "already applied")
                    return Outcome(duplicates=1), None
            outcome, error = await self._retry_row(conn, dead_letter_id, row["payload"])
            if error is None and row["stream_id"] is not None:
                outcome += await self._drain(conn, row["stream_id"])
            return outcome, error

    async def discard(self, dead_letter_id: int, reason: str) -> Outcome:
        """Give up on a failed event: skip its version and let its parked followers flow."""
        if not reason.strip():
            raise ValueError("discarding a dead letter needs a reason")
        async with self.pool.acquire() as conn, conn.transaction():
            row = await _open_dead_letter(conn, self.name, dead_letter_id, "failed")
            await close_dead_letter(conn, dead_letter_id, "discarded", reason)
            if row["stream_id"] is None:
                return Outcome()
            await conn.execute(
                """insert into es.consumer_streams (consumer, stream_id, version)
                   values ($1, $2, $3) on conflict (consumer, stream_id)
                   do update set version = greatest(es.consumer_streams.version, $3),
                                 updated_at = now()""",
                self.name,
                row["stream_id"],
                row["stream_version"],
            )
            return await self._drain(conn, row["stream_id"])


def _outcome_name(outcome: Outcome) -> str:
    if outcome.failed:
        return "failed"
    if outcome.parked:
        return "parked"
    return "applied" if outcome.applied else "duplicate"


async def _open_dead_letter(
    conn: Connection, consumer: str, dead_letter_id: int, status: str
) -> Any:
    row = await conn.fetchrow(
        "select * from es.dead_letters where id = $1 and consumer = $2 for update",
        dead_letter_id,
        consumer,
    )
    if row is None:
        raise LookupError(f"no dead letter {dead_letter_id} for consumer {consumer!r}")
    if row["status"] != status:
        raise ValueError(f"dead letter {dead_letter_id} is {row['status']}, not {status}")
    return row


async def insert_dead_letter(
    conn: Connection,
    consumer: str,
    status: str,
    envelope: Envelope | None,
    payload: bytes,
    error: str,
    where: tuple[str | None, int | None, int | None],
) -> None:
    """Record an event ``consumer`` could not apply (``failed``) or holds back (``parked``);
    once per event while it is open."""
    await conn.execute(
        """insert into es.dead_letters (consumer, status, stream_id, stream_version, event_id,
               event_type, topic, partition, "offset", payload, error)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           on conflict (consumer, event_id)
               where event_id is not null and status in ('failed', 'parked')
           do nothing""",
        consumer,
        status,
        envelope.stream_id if envelope else None,
        envelope.stream_version if envelope else None,
        envelope.event_id if envelope else None,
        envelope.event_type if envelope else None,
        *where,
        payload,
        error.replace("\x00", "\\u0000"),  # an error may quote the text it choked on
    )


async def close_dead_letter(conn: Connection, dead_letter_id: int, status: str, why: str) -> None:
    await conn.execute(
        "update es.dead_letters set status = $2, resolution = $3, updated_at = now() where id = $1",
        dead_letter_id,
        status,
        why,
    )


async def list_dead_letters(
    pool: Pool,
    consumer: str | None = None,
    statuses: Sequence[str] = ("failed", "parked"),
    limit: int | None = None,
) -> list[DeadLetter]:
    """The dead letters in these states, oldest first (at most ``limit`` of them)."""
    rows = await pool.fetch(
        """select id, consumer, status, stream_id, stream_version, event_id::text, event_type,
                  topic, partition, "offset", error, attempts, payload
             from es.dead_letters
            where ($1::text is null or consumer = $1) and status = any($2::text[])
            order by id
            limit $3""",
        consumer,
        list(statuses),
        limit,
    )
    return [DeadLetter(**dict(row)) for row in rows]
