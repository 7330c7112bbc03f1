"""The outbox relay: publishes a service's stored events to its Kafka topic, gap-safe.

Reading by global position alone can skip an event: a position is taken at insert but becomes
visible at commit, so a transaction that commits after a later one would fall behind a
checkpoint already past it. The relay therefore reads in ``(tx_id, position)`` order and only
rows whose transaction id is below the snapshot's ``xmin``: every transaction below that is
finished (committed or rolled back), so no row can appear there later. Its checkpoint is the
last ``(tx_id, position)`` published.

Publishing is at-least-once: a crash between the broker's acknowledgement and the checkpoint
write re-sends a batch, which consumers deduplicate by stream version.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from opentelemetry.trace import SpanKind, Status, StatusCode

from cpd_events.topics import (
    HEADER_EVENT_ID,
    HEADER_EVENT_TYPE,
    HEADER_SCHEMA_VERSION,
    HEADER_TRACEPARENT,
)
from cpd_eventstore import tracing
from cpd_eventstore.db import Pool, Row
from cpd_eventstore.kafka import make_producer, topic_message_count

log = structlog.get_logger(__name__)

_SELECT = """select position, tx_id, event_id, stream_id, stream_version,
    event_type, schema_version, occurred_at, recorded_at, correlation_id, causation_id, actor,
    trust_id, school_urn, teacher_id, traceparent, data
    from es.events"""

#: Rows committed after the checkpoint, below the oldest running transaction.
_PENDING = f"""{_SELECT}
    where (tx_id, position) > ($1::xid8, $2::bigint)
      and tx_id < pg_snapshot_xmin(pg_current_snapshot())
    order by tx_id, position
    limit $3"""


@dataclass(frozen=True)
class Checkpoint:
    tx_id: int
    position: int
    published: int


def message_of(
    row: Row, traceparent: str | None = None
) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """Kafka key, value and headers of one stored event.

    The value is the :class:`~cpd_events.Envelope` as JSON, written straight from the row (the
    payload is already JSON in the store): a test pins it to the Envelope contract. The
    ``traceparent`` header is the stored one unless ``traceparent`` (the publishing span) is given.
    """
    event_id = str(row["event_id"])
    head = {
        "event_id": event_id,
        "event_type": row["event_type"],
        "schema_version": row["schema_version"],
        "stream_id": row["stream_id"],
        "stream_version": row["stream_version"],
        "position": row["position"],
        "occurred_at": row["occurred_at"].isoformat(),
        "recorded_at": row["recorded_at"].isoformat(),
        "correlation_id": row["correlation_id"],
        "causation_id": row["causation_id"],
        "actor": row["actor"],
        "trust_id": row["trust_id"],
        "school_urn": row["school_urn"],
        "teacher_id": row["teacher_id"],
    }
    value = f'{json.dumps(head, separators=(",", ":"))[:-1]},"data":{row["data"]}}}'
    headers = [
        (HEADER_EVENT_TYPE, row["event_type"].encode()),
        (HEADER_EVENT_ID, event_id.encode()),
        (HEADER_SCHEMA_VERSION, str(row["schema_version"]).encode()),
    ]
    traceparent = traceparent or row["traceparent"]
    if traceparent:
        headers.append((HEADER_TRACEPARENT, traceparent.encode()))
    return row["stream_id"].encode(), value.encode(), headers


async def send_rows(
    producer: AIOKafkaProducer, topic: str, rows: Sequence[Row], traced: bool = False
) -> list[asyncio.Future[Any]]:
    """Hand rows to the producer in order; the futures resolve when the broker has them.

    ``traced``: each row that has a stored ``traceparent`` is sent in a ``relay.publish`` span,
    child of it (so of the command's append), ended when the broker acknowledges; the message's
    ``traceparent`` header is that span's, so consumers continue the command's trace.
    """
    if traced:
        return await _send_traced(producer, topic, rows)
    futures = []
    for row in rows:
        key, value, headers = message_of(row)
        futures.append(await producer.send(topic, value=value, key=key, headers=headers))
    return futures


async def _send_traced(
    producer: AIOKafkaProducer, topic: str, rows: Sequence[Row]
) -> list[asyncio.Future[Any]]:
    futures = []
    start = tracing.tracer().start_span
    for row in rows:
        parent = tracing.context_of(row["traceparent"])
        if parent is None:
            key, value, headers = message_of(row)
            futures.append(await producer.send(topic, value=value, key=key, headers=headers))
            continue
        span = start(
            "relay.publish",
            context=parent,
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": topic,
                "cpd.event_type": row["event_type"],
                "cpd.event_id": str(row["event_id"]),
                "cpd.position": row["position"],
            },
        )
        key, value, headers = message_of(row, tracing.traceparent_of(span))
        try:
            future = await producer.send(topic, value=value, key=key, headers=headers)
        except BaseException as error:
            _end(span, error)
            raise
        future.add_done_callback(
            lambda done, span=span: _end(span, None if done.cancelled() else done.exception())
        )
        futures.append(future)
    return futures


def _end(span: Any, error: BaseException | None) -> None:
    if error is not None:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, type(error).__name__))
    span.end()


class OutboxRelay:
    """Publishes one event store to one topic. Run one per service; extra instances wait.

    Leadership is a session advisory lock held on a dedicated connection, so several replicas of
    a service can run a relay each and only one publishes at a time.
    """

    def __init__(
        self,
        pool: Pool,
        bootstrap_servers: str,
        topic: str,
        name: str | None = None,
        batch_size: int = 2000,
        idle_sleep: float = 0.02,
        broker_check_interval: float = 5.0,
    ) -> None:
        self.pool = pool
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.name = name or topic
        self.batch_size = batch_size
        self.idle_sleep = idle_sleep
        self.broker_check_interval = broker_check_interval
        self.producer: AIOKafkaProducer | None = None
        self.is_leader = False
        self.last_error: str | None = None

    async def start(self) -> None:
        self.producer = make_producer(self.bootstrap_servers, client_id=f"relay-{self.name}")
        await self.producer.start()
        await self.pool.execute(
            "insert into es.relay_checkpoints (relay) values ($1) on conflict do nothing",
            self.name,
        )

    async def stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
            self.producer = None

    async def checkpoint(self) -> Checkpoint:
        row = await self.pool.fetchrow(
            "select tx_id, position, published from es.relay_checkpoints where relay = $1",
            self.name,
        )
        if row is None:
            return Checkpoint(0, 0, 0)
        return Checkpoint(row["tx_id"], row["position"], row["published"])

    async def lag(self) -> int:
        """Events stored but not yet published (committed or not)."""
        cp = await self.checkpoint()
        return int(
            await self.pool.fetchval(
                "select count(*) from es.events where (tx_id, position) > ($1::xid8, $2::bigint)",
                cp.tx_id,
                cp.position,
            )
        )

    async def publish_pending(self) -> int:
        """Publish one batch of pending events; return how many were published."""
        cp = await self.checkpoint()
        rows = await self._fetch(cp.tx_id, cp.position)
        if rows:
            await asyncio.gather(*await self._send(rows))
            await self._save_checkpoint(rows)
        return len(rows)

    async def _fetch(self, tx_id: int, position: int) -> list[Row]:
        return list(await self.pool.fetch(_PENDING, tx_id, position, self.batch_size))

    async def _send(self, rows: Sequence[Row]) -> list[asyncio.Future[Any]]:
        if self.producer is None:
            raise RuntimeError("relay not started")
        return await send_rows(self.producer, self.topic, rows, traced=tracing.recording())

    async def _save_checkpoint(self, rows: Sequence[Row]) -> None:
        last = rows[-1]
        await self.pool.execute(
            """update es.relay_checkpoints
               set tx_id = $2::xid8, position = $3, published = published + $4,
                   updated_at = now()
             where relay = $1""",
            self.name,
            last["tx_id"],
            last["position"],
            len(rows),
        )

    async def reset(self) -> None:
        """Publish everything again from the start of the store (to refill a broker)."""
        await self.pool.execute(
            "update es.relay_checkpoints set tx_id = '0', position = 0, published = 0,"
            " updated_at = now() where relay = $1",
            self.name,
        )

    async def broker_lost_data(self) -> bool:
        """True if we published events but the topic is now empty or gone."""
        cp = await self.checkpoint()
        if cp.published == 0:
            return False
        count = await topic_message_count(self.bootstrap_servers, self.topic)
        return not count

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until ``stop`` is set; on errors back off and resume from the checkpoint."""
        backoff = 0.1
        while not stop.is_set():
            try:
                async with self.pool.acquire() as leader_conn:
                    self.is_leader = bool(
                        await leader_conn.fetchval(
                            "select pg_try_advisory_lock(hashtextextended($1, 1))", self.name
                        )
                    )
                    if not self.is_leader:
                        await _sleep_or_stop(stop, 1.0)
                        continue
                    try:
                        await self._lead(stop)
                    finally:
                        self.is_leader = False
                        with contextlib.suppress(Exception):
                            await leader_conn.execute(
                                "select pg_advisory_unlock(hashtextextended($1, 1))", self.name
                            )
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as error:  # broker or database down: retry from checkpoint
                self.last_error = repr(error)
                log.warning("relay.error", relay=self.name, error=repr(error), retry_in=backoff)
                await _sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 5.0)

    async def _lead(self, stop: asyncio.Event) -> None:
        """Publish continuously, reading the next batch while the broker acknowledges the last.

        The checkpoint only ever moves to a batch the broker has acknowledged; on an error the
        caller restarts from it (at-least-once).
        """
        loop = asyncio.get_running_loop()
        next_check = 0.0
        cp = await self.checkpoint()
        cursor = (cp.tx_id, cp.position)
        in_flight: tuple[list[asyncio.Future[Any]], list[Row]] | None = None
        while not stop.is_set():
            if in_flight is None and loop.time() >= next_check:
                if await self.broker_lost_data():
                    log.warning("relay.broker_lost_data", relay=self.name, topic=self.topic)
                    await self.reset()
                    cursor = (0, 0)
                next_check = loop.time() + self.broker_check_interval
            rows = await self._fetch(*cursor)
            sent = await self._send(rows) if rows else []
            if in_flight is not None:
                await asyncio.gather(*in_flight[0])
                await self._save_checkpoint(in_flight[1])
            in_flight = (sent, rows) if rows else None
            if rows:
                cursor = (rows[-1]["tx_id"], rows[-1]["position"])
            self.last_error = None
            if len(rows) < self.batch_size and in_flight is None:
                await _sleep_or_stop(stop, self.idle_sleep)
        if in_flight is not None:
            await asyncio.gather(*in_flight[0])
            await self._save_checkpoint(in_flight[1])


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def republish(
    pool: Pool,
    bootstrap_servers: str,
    topic: str,
    from_position: int = 0,
    batch_size: int = 2000,
) -> int:
    """Send every committed event from ``from_position`` on to ``topic`` again, in order.

    For refilling a broker that lost its data or seeding a new one; consumers deduplicate.
    Returns the number of events sent.
    """
    producer = make_producer(bootstrap_servers, client_id="republish")
    await producer.start()
    sent = 0
    try:
        position = from_position - 1
        while True:
            rows = await pool.fetch(
                f"{_SELECT} where position > $1"
                " and tx_id < pg_snapshot_xmin(pg_current_snapshot())"
                " order by position limit $2",
                position,
                batch_size,
            )
            if not rows:
                return sent
            await asyncio.gather(*await send_rows(producer, topic, rows))
            sent += len(rows)
            position = rows[-1]["position"]
    finally:
        await producer.stop()
