"""Batch projections: Kafka records in, set-based SQL out, exactly once per stream version.

A :class:`Projection` sees a batch of decoded events at a time (thousands during a rebuild) and
writes them with a few set-based statements (COPY, upserts of many rows) inside one transaction
that also records, in the projection's own schema, how far every stream and every partition has
been applied. So:

- a redelivered event (a restart, a rebalance, a republish into a new broker) is at or below its
  stream's applied version and is dropped before the projection sees it;
- the events of one stream reach the projection in version order; an event that arrives ahead of
  a missing version waits (``parked``) until the missing one arrives;
- an event the projection cannot apply is isolated by bisecting the failing batch; it goes to
  ``es.dead_letters`` as ``failed`` with the error, the later events of its stream park behind
  it, and every other stream flows on.

Every statement of ``apply`` runs with ``search_path`` set to the projection's schema, so the
projection names its tables without a schema and the same code builds any generation of a read
model (``reporting_g3``, ``reporting_g4``...), which is how a rebuild runs beside the live one.
"""

from __future__ import annotations

import asyncio
import gc
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord

from cpd_events import REGISTRY, Envelope, Event, EventContractError, EventRegistry
from cpd_events.registry import parse_envelope
from cpd_eventstore import Outcome, tracing
from cpd_eventstore.consumer import close_dead_letter, insert_dead_letter
from cpd_eventstore.db import DATABASE_UNAVAILABLE, Connection, Pool

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Consumed:
    """One decoded event and where it was read from."""

    envelope: Envelope
    event: Event
    payload: bytes
    topic: str
    partition: int
    offset: int
    timestamp_ms: int


class Projection(Protocol):
    """What the engine drives: schema DDL and a set-based ``apply`` of a batch."""

    #: Short name, used in consumer group names and logs (``read-models``, ``feed``).
    name: str

    async def apply(self, conn: Connection, batch: Sequence[Consumed]) -> None:
        """Apply ``batch`` (events of a stream in version order, duplicates removed).

        Runs inside the engine's transaction with ``search_path`` set to the target schema.
        Raise to refuse the batch: the engine bisects it to find the event at fault.
        """
        ...


@runtime_checkable
class Settling(Protocol):
    """A projection with work deferred across batches (e.g. summaries of touched schools)."""

    async def settle(self, conn: Connection, caught_up: bool) -> int: ...


# The engine ------------------------------------------------------------------------------------

#: Per generation schema: how far each stream and each partition has been applied.
BOOKKEEPING_DDL = """
create table if not exists {schema}.applied_streams (
    stream_id text primary key,
    version int not null
);
create table if not exists {schema}.applied_offsets (
    topic text not null,
    partition int not null,
    next_offset bigint not null,
    last_event_id text,
    primary key (topic, partition)
);
"""

TopicPartitionKey = tuple[str, int]


@dataclass
class Progress:
    """What an engine has done so far, and how far behind the topics it is."""

    consumed: int = 0
    applied: int = 0
    duplicates: int = 0
    parked: int = 0
    failed: int = 0
    skipped: int = 0
    batches: int = 0
    started_at: float = field(default_factory=time.monotonic)
    last_batch_at: float | None = None
    #: next offset to read and the fetch high-water mark, per assigned partition
    positions: dict[TopicPartitionKey, int] = field(default_factory=dict)
    high_water: dict[TopicPartitionKey, int] = field(default_factory=dict)
    assigned: int = 0
    #: when the newest event applied so far occurred (unix seconds): the projection's freshness
    last_event_at: float | None = None

    @property
    def lag(self) -> int:
        return sum(max(0, high - self.positions.get(tp, 0)) for tp, high in self.high_water.items())

    @property
    def caught_up(self) -> bool:
        """Every assigned partition read to its high-water mark (known after a first fetch)."""
        return 0 < self.assigned == len(self.high_water) and self.lag == 0

    @property
    def rate(self) -> float:
        """Events consumed per second since the start."""
        return self.consumed / max(1e-9, time.monotonic() - self.started_at)

    def as_dict(self) -> dict[str, Any]:
        return {
            "consumed": self.consumed,
            "applied": self.applied,
            "duplicates": self.duplicates,
            "parked": self.parked,
            "failed": self.failed,
            "skipped": self.skipped,
            "batches": self.batches,
            "lag": self.lag,
            "caught_up": self.caught_up,
            "events_per_second": round(self.rate, 1),
        }


@dataclass
class _Batch:
    """One batch's decoded events and what became of them."""

    items: list[Consumed] = field(default_factory=list)
    dead: list[tuple[str, Envelope | None, bytes, str, TopicPartitionKey, int]] = field(
        default_factory=list
    )


class ProjectionEngine:
    """Consumes ``topics`` into ``projection`` in schema ``schema``, as consumer ``group_id``.

    Several processes may run the same engine (the same group): Kafka splits the partitions
    between them, and each resumes a partition from the offset its schema recorded, not from
    the group's committed offset (committed too, after each batch, for lag tooling).
    ``until`` builds a past state: events recorded after it are skipped (as-of snapshots).
    """

    def __init__(
        self,
        pool: Pool,
        projection: Projection,
        *,
        schema: str,
        group_id: str,
        bootstrap_servers: str,
        topics: Sequence[str],
        batch_size: int = 5000,
        registry: EventRegistry = REGISTRY,
        until: datetime | None = None,
        session_timeout_ms: int = 10_000,
        heartbeat_interval_ms: int = 1_000,
        fetch_max_wait_ms: int = 100,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.pool = pool
        self.projection = projection
        self.schema = schema
        self.group_id = group_id
        self.bootstrap_servers = bootstrap_servers
        self.topics = list(topics)
        self.batch_size = batch_size
        self.registry = registry
        self.until = until
        self.session_timeout_ms = session_timeout_ms
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.on_progress = on_progress
        self.progress = Progress()
        self._verify: dict[TopicPartition, tuple[int, str | None]] = {}
        self._consumer: AIOKafkaConsumer | None = None

    # set-up -----------------------------------------------------------------------------------

    async def prepare(self) -> None:
        """Create the schema's bookkeeping tables (the projection's own tables exist already)."""
        async with self.pool.acquire() as conn:
            await conn.execute(BOOKKEEPING_DDL.format(schema=self.schema))

    async def stored_positions(self) -> dict[TopicPartitionKey, int]:
        """Next offset to apply per partition, as recorded in the schema."""
        rows = await self.pool.fetch(
            f"select topic, partition, next_offset from {self.schema}.applied_offsets"
        )
        return {(r["topic"], r["partition"]): r["next_offset"] for r in rows}

    # the loop ---------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, *, until_caught_up: bool = False) -> Progress:
        """Consume until ``stop`` is set (or, with ``until_caught_up``, until caught up)."""
        await self.prepare()
        tune_garbage_collector()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=self.group_id,
            client_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=self.session_timeout_ms,
            heartbeat_interval_ms=self.heartbeat_interval_ms,
            fetch_max_wait_ms=self.fetch_max_wait_ms,
            max_partition_fetch_bytes=8 * 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024,
        )
        consumer.subscribe(self.topics, listener=_Resume(self))
        self._consumer = consumer  # before start: the first assignment may come during it
        await consumer.start()
        # One batch ahead: the next batch is decoded in a thread while this one's SQL runs
        # (the event loop mostly waits on Postgres then), which overlaps the two costliest steps.
        loop = asyncio.get_running_loop()
        ahead: tuple[list[ConsumerRecord[bytes, bytes]], asyncio.Future[_Batch]] | None = None
        try:
            while not stop.is_set():
                fetched = await consumer.getmany(timeout_ms=200, max_records=self.batch_size)
                records = await self._verified(consumer, fetched)
                decoding = loop.run_in_executor(None, self._decode, records) if records else None
                if ahead is not None:
                    done, batch = ahead
                    ahead = None
                    try:
                        await self.handle(done, await batch)
                    except DATABASE_UNAVAILABLE as error:
                        log.warning("projection.database_unavailable", error=repr(error))
                        self._rewind(consumer, [*done, *records])  # both read again later
                        await asyncio.sleep(1)
                        continue
                    await self._commit(consumer, done)
                if records and decoding is not None:
                    ahead = (records, decoding)
                await self._note_positions(consumer)
                if ahead is None or self.progress.caught_up:
                    await self._settle()
                if self.on_progress is not None:
                    self.on_progress(self.progress)
                if until_caught_up and ahead is None and not records and self.progress.caught_up:
                    break
        finally:
            self._consumer = None
            await consumer.stop()
        return self.progress

    async def _verified(
        self,
        consumer: AIOKafkaConsumer,
        fetched: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]],
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """The fetched records, once each resumed partition proved to be the log we applied.

        On resuming at offset ``n``, the engine re-reads ``n - 1`` and compares its event id
        with the one it recorded: a broker that lost its data (the memory-only embedded broker
        restarted, a cluster restored) holds other events there, so the partition is read again
        from its beginning and stream versions drop what was applied already.
        """
        records: list[ConsumerRecord[bytes, bytes]] = []
        for tp, batch in fetched.items():
            expected = self._verify.pop(tp, None)
            if expected is not None:
                offset, event_id = expected
                first = batch[0]
                if first.offset == offset and _event_id_of(first.value) == event_id:
                    batch = batch[1:]
                else:
                    log.warning(
                        "projection.partition_replaced",
                        topic=tp.topic,
                        partition=tp.partition,
                        expected_offset=offset,
                        found_offset=first.offset,
                    )
                    await consumer.seek_to_beginning(tp)
                    continue
            records.extend(batch)
        return records

    def _rewind(
        self, consumer: AIOKafkaConsumer, records: Sequence[ConsumerRecord[bytes, bytes]]
    ) -> None:
        first: dict[TopicPartition, int] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            first[tp] = min(first.get(tp, record.offset), record.offset)
        for tp, offset in first.items():
            consumer.seek(tp, offset)

    async def _commit(
        self, consumer: AIOKafkaConsumer, records: Sequence[ConsumerRecord[bytes, bytes]]
    ) -> None:
        """Commit offsets to Kafka too (the schema is the truth; this serves lag tooling)."""
        offsets: dict[TopicPartition, int] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            offsets[tp] = max(offsets.get(tp, 0), record.offset + 1)
        try:
            await consumer.commit(offsets)
        except Exception as error:  # a rebalance in progress: the next batch commits
            log.info("projection.commit_skipped", error=repr(error))

    async def _note_positions(self, consumer: AIOKafkaConsumer) -> None:
        self.progress.assigned = len(consumer.assignment())
        for tp in consumer.assignment():
            key = (tp.topic, tp.partition)
            high = consumer.highwater(tp)
            if high is None or tp in self._verify:
                continue  # no fetch answered yet: unknown, so not caught up
            self.progress.high_water[key] = high
            self.progress.positions[key] = await consumer.position(tp)
        assigned = {(tp.topic, tp.partition) for tp in consumer.assignment()}
        for key in list(self.progress.high_water):
            if key not in assigned:
                del self.progress.high_water[key]
                self.progress.positions.pop(key, None)

    async def _settle(self, caught_up: bool | None = None) -> None:
        if not isinstance(self.projection, Settling):
            return
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(f"set local search_path to {self.schema}, public")
            await self.projection.settle(
                conn, self.progress.caught_up if caught_up is None else caught_up
            )

    async def settle_all(self) -> None:
        """Do the projection's deferred work now, whatever the lag (before comparing)."""
        await self._settle(caught_up=True)

    # one batch --------------------------------------------------------------------------------

    async def handle(
        self, records: Sequence[ConsumerRecord[bytes, bytes]], decoded: _Batch | None = None
    ) -> None:
        """Apply one batch of records (``decoded``: the same records, decoded already)."""
        # per-event spans only while spans are exported: a rebuild pays nothing otherwise
        spans = (
            tracing.start_event_spans(
                records,
                "reporting.apply",
                {"messaging.consumer.group.name": self.group_id, "cpd.batch_size": len(records)},
            )
            if tracing.recording()
            else None
        )
        batch = decoded if decoded is not None else self._decode(records)
        progress = self.progress
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.execute(f"set local search_path to {self.schema}, public")
                applied, parked, failed = await self._apply_in_order(conn, batch.items)
                await self._record_dead(conn, batch.dead)
                for item, reason in parked:
                    await self._dead_letter(conn, "parked", item, reason)
                applied_streams = {item.envelope.stream_id for item in applied}
                drained = await self._drain(conn, applied_streams) if applied_streams else 0
                await self._record_offsets(conn, records)
        except BaseException as error:
            if spans:
                tracing.end_spans(spans, error)
            raise
        if spans:
            tracing.end_spans(spans)
        if applied:  # freshness: the last event applied (O(1): no per-event work)
            last = applied[-1].envelope.occurred_at.timestamp()
            progress.last_event_at = max(progress.last_event_at or last, last)
        progress.consumed += len(records)
        progress.applied += len(applied) + drained
        progress.parked += len(parked)
        progress.failed += failed + len(batch.dead)
        progress.duplicates += len(batch.items) - len(applied) - len(parked) - failed
        progress.batches += 1
        progress.last_batch_at = time.monotonic()

    def _decode(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> _Batch:
        batch = _Batch()
        for record in records:
            payload = record.value or b""
            where = (record.topic, record.partition)
            try:
                envelope = parse_envelope(payload)
            except EventContractError as error:
                batch.dead.append(("failed", None, payload, str(error), where, record.offset))
                continue
            if self.until is not None and envelope.recorded_at > self.until:
                self.progress.skipped += 1
                continue
            try:
                event = self.registry.load(envelope)
            except EventContractError as error:
                batch.dead.append(("failed", envelope, payload, str(error), where, record.offset))
                continue
            batch.items.append(
                Consumed(envelope, event, payload, *where, record.offset, record.timestamp)
            )
        return batch

    async def _apply_in_order(
        self, conn: Connection, items: Sequence[Consumed]
    ) -> tuple[list[Consumed], list[tuple[Consumed, str]], int]:
        """Apply what is next in line for its stream; park what is not; isolate failures.

        Returns the events applied, those parked (with why) and the number that failed.
        """
        streams = sorted({item.envelope.stream_id for item in items})
        versions: dict[str, int] = {
            r["stream_id"]: r["version"]
            for r in await conn.fetch(
                "select stream_id, version from applied_streams where stream_id = any($1)",
                streams,
            )
        }
        blocked: set[str] = {
            r["stream_id"]
            for r in await conn.fetch(
                """select distinct stream_id from es.dead_letters
                    where consumer = $1 and status = 'failed' and stream_id = any($2)""",
                self.group_id,
                streams,
            )
        }
        accepted: list[Consumed] = []
        parked: list[tuple[Consumed, str]] = []
        expected = dict(versions)
        for item in items:
            stream, version = item.envelope.stream_id, item.envelope.stream_version
            applied = expected.get(stream, 0)
            if version <= applied:
                continue  # a duplicate
            if stream in blocked:
                parked.append((item, "waiting behind a failed event of its stream"))
            elif version > applied + 1:
                parked.append((item, f"waiting for version {applied + 1} of its stream"))
                blocked.add(stream)  # its later events wait too (their turn comes by drain)
            else:
                accepted.append(item)
                expected[stream] = version
        applied_items: list[Consumed] = []
        failures: set[str] = set()
        await self._apply_slice(conn, accepted, applied_items, failures, parked)
        new_versions: dict[str, int] = {}
        for item in applied_items:
            new_versions[item.envelope.stream_id] = item.envelope.stream_version
        if new_versions:
            await conn.execute(
                """insert into applied_streams (stream_id, version)
                   select * from unnest($1::text[], $2::int[])
                   on conflict (stream_id) do update set version = excluded.version""",
                list(new_versions),
                list(new_versions.values()),
            )
        return applied_items, parked, len(failures)

    async def _apply_slice(
        self,
        conn: Connection,
        items: list[Consumed],
        applied: list[Consumed],
        failed_streams: set[str],
        parked: list[tuple[Consumed, str]],
    ) -> None:
        """Apply ``items`` in a savepoint; on failure, halve until the bad event is alone."""
        items = [i for i in items if not self._behind_failure(i, failed_streams, parked)]
        if not items:
            return
        try:
            async with conn.transaction():
                await self.projection.apply(conn, items)
            applied.extend(items)
            return
        except DATABASE_UNAVAILABLE:
            raise
        except Exception as error:
            if len(items) == 1:
                item = items[0]
                reason = "".join(traceback.format_exception_only(error)).strip()
                log.warning(
                    "projection.event_failed",
                    consumer=self.group_id,
                    stream_id=item.envelope.stream_id,
                    stream_version=item.envelope.stream_version,
                    event_type=item.envelope.event_type,
                    error=reason,
                )
                await self._dead_letter(conn, "failed", item, reason)
                failed_streams.add(item.envelope.stream_id)
                return
        middle = len(items) // 2
        await self._apply_slice(conn, items[:middle], applied, failed_streams, parked)
        await self._apply_slice(conn, items[middle:], applied, failed_streams, parked)

    @staticmethod
    def _behind_failure(
        item: Consumed, failed_streams: set[str], parked: list[tuple[Consumed, str]]
    ) -> bool:
        if item.envelope.stream_id in failed_streams:
            parked.append((item, "waiting behind a failed event of its stream"))
            return True
        return False

    async def _drain(self, conn: Connection, streams: Iterable[str]) -> int:
        """Apply parked events of ``streams`` that are now next in line; return how many."""
        total = 0
        pending = sorted(streams)
        while pending:
            rows = await conn.fetch(
                """select d.id, d.payload, d.topic, d.partition, d."offset"
                     from es.dead_letters d
                     left join applied_streams a on a.stream_id = d.stream_id
                    where d.consumer = $1 and d.status = 'parked' and d.stream_id = any($2)
                      and d.stream_version = coalesce(a.version, 0) + 1""",
                self.group_id,
                pending,
            )
            if not rows:
                return total
            items: list[Consumed] = []
            ids: dict[str, int] = {}
            for row in rows:
                envelope = parse_envelope(row["payload"])
                event = self.registry.load(envelope)
                items.append(
                    Consumed(
                        envelope,
                        event,
                        row["payload"],
                        row["topic"] or "",
                        row["partition"] or 0,
                        row["offset"] or 0,
                        0,
                    )
                )
                ids[str(envelope.event_id)] = row["id"]
            applied, _parked, _failed = await self._apply_in_order(conn, items)
            if applied:
                await conn.execute(
                    """update es.dead_letters set status = 'resolved', resolution = 'applied',
                              updated_at = now() where id = any($1::bigint[])""",
                    [ids[str(item.envelope.event_id)] for item in applied],
                )
            total += len(applied)
            pending = sorted({item.envelope.stream_id for item in applied})
        return total

    async def _record_offsets(
        self, conn: Connection, records: Sequence[ConsumerRecord[bytes, bytes]]
    ) -> None:
        last: dict[TopicPartitionKey, ConsumerRecord[bytes, bytes]] = {}
        for record in records:
            key = (record.topic, record.partition)
            if key not in last or record.offset > last[key].offset:
                last[key] = record
        await conn.execute(
            """insert into applied_offsets (topic, partition, next_offset, last_event_id)
               select * from unnest($1::text[], $2::int[], $3::bigint[], $4::text[])
               on conflict (topic, partition) do update set next_offset = excluded.next_offset,
                   last_event_id = excluded.last_event_id""",
            [k[0] for k in last],
            [k[1] for k in last],
            [r.offset + 1 for r in last.values()],
            [_event_id_of(r.value) for r in last.values()],
        )

    async def _record_dead(
        self,
        conn: Connection,
        dead: Sequence[tuple[str, Envelope | None, bytes, str, TopicPartitionKey, int]],
    ) -> None:
        for status, envelope, payload, reason, where, offset in dead:
            await insert_dead_letter(
                conn, self.group_id, status, envelope, payload, reason, (*where, offset)
            )

    async def _dead_letter(
        self, conn: Connection, status: str, item: Consumed, reason: str
    ) -> None:
        await insert_dead_letter(
            conn,
            self.group_id,
            status,
            item.envelope,
            item.payload,
            reason,
            (item.topic, item.partition, item.offset),
        )

    # operators --------------------------------------------------------------------------------

    async def retry(self, dead_letter_id: int) -> tuple[Outcome, str | None]:
        """Apply a failed event again (after a fix); its parked followers follow.

        Returns what was applied and, if it failed again, the error (it stays failed).
        """
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(f"set local search_path to {self.schema}, public")
            row = await conn.fetchrow(
                """select d.id, d.payload, d.status, d.topic, d.partition, d."offset",
                          d.stream_id, d.stream_version, coalesce(a.version, 0) as applied
                     from es.dead_letters d
                     left join applied_streams a on a.stream_id = d.stream_id
                    where d.id = $1 and d.consumer = $2 for update of d""",
                dead_letter_id,
                self.group_id,
            )
            if row is None:
                raise LookupError(f"no dead letter {dead_letter_id} for {self.group_id!r}")
            if row["status"] != "failed":
                raise ValueError(f"dead letter {dead_letter_id} is {row['status']}, not failed")
            if row["stream_version"] is not None and row["stream_version"] <= row["applied"]:
                await close_dead_letter(conn, dead_letter_id, "resolved", "already applied")
                return Outcome(duplicates=1), None
            error: str | None = None
            try:
                envelope = parse_envelope(row["payload"])
                item = Consumed(
                    envelope,
                    self.registry.load(envelope),
                    row["payload"],
                    row["topic"] or "",
                    row["partition"] or 0,
                    row["offset"] or 0,
                    0,
                )
                async with conn.transaction():
                    await self.projection.apply(conn, [item])
            except DATABASE_UNAVAILABLE:
                raise
            except Exception as failure:
                error = "".join(traceback.format_exception_only(failure)).strip()
            if error is not None:
                await conn.execute(
                    "update es.dead_letters set error = $2, attempts = attempts + 1,"
                    " updated_at = now() where id = $1",
                    dead_letter_id,
                    error,
                )
                return Outcome(failed=1), error
            await conn.execute(
                """insert into applied_streams (stream_id, version) values ($1, $2)
                   on conflict (stream_id) do update set version = excluded.version""",
                envelope.stream_id,
                envelope.stream_version,
            )
            await close_dead_letter(conn, dead_letter_id, "resolved", "applied")
            return Outcome(applied=1 + await self._drain(conn, [envelope.stream_id])), None

    async def discard(self, dead_letter_id: int, reason: str) -> Outcome:
        """Give up on a failed event: skip its version and let its parked followers flow."""
        if not reason.strip():
            raise ValueError("discarding a dead letter needs a reason")
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(f"set local search_path to {self.schema}, public")
            row = await conn.fetchrow(
                """update es.dead_letters set status = 'discarded', resolution = $3,
                          updated_at = now()
                    where id = $1 and consumer = $2 and status = 'failed'
                returning stream_id, stream_version""",
                dead_letter_id,
                self.group_id,
                reason,
            )
            if row is None:
                raise LookupError(f"no failed dead letter {dead_letter_id} for {self.group_id!r}")
            if row["stream_id"] is None:
                return Outcome()
            await conn.execute(
                """insert into applied_streams (stream_id, version) values ($1, $2)
                   on conflict (stream_id) do update
                   set version = greatest(applied_streams.version, excluded.version)""",
                row["stream_id"],
                row["stream_version"],
            )
            return Outcome(applied=await self._drain(conn, [row["stream_id"]]))


class _Resume(ConsumerRebalanceListener):  # type: ignore[misc]
    """On assignment, resume each partition where the schema says, and check it is the same log."""

    def __init__(self, engine: ProjectionEngine) -> None:
        self.engine = engine

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        engine = self.engine
        consumer = engine._consumer
        if consumer is None:
            return
        rows = await engine.pool.fetch(
            f"select topic, partition, next_offset, last_event_id"
            f" from {engine.schema}.applied_offsets"
        )
        stored = {(r["topic"], r["partition"]): r for r in rows}
        for tp in assigned:
            row = stored.get((tp.topic, tp.partition))
            if row is None or row["next_offset"] == 0:
                await consumer.seek_to_beginning(tp)
                continue
            consumer.seek(tp, row["next_offset"] - 1)
            engine._verify[tp] = (row["next_offset"] - 1, row["last_event_id"])


def tune_garbage_collector() -> None:
    """A batch makes hundreds of thousands of objects that live until it is written; with the
    default thresholds the collector scans them over and over (measured: decoding took twice
    as long). Collect young objects far less often; the process still collects."""
    gc.set_threshold(200_000, 50, 1000)


def _event_id_of(value: bytes | None) -> str | None:
    try:
        return str(parse_envelope(value or b"").event_id)
    except EventContractError:
        return None
