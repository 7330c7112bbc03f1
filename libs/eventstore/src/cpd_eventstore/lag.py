"""Consumer lag per partition, in events and in seconds.

The high-water mark comes from a real fetch (the fetch response carries it), not from
``end_offsets``: some Kafka-protocol brokers (Tansu) answer ListOffsets after a batched send with
the batch's first offset + 1. The same fetch, positioned at the consumer's next offset, gives the
oldest unconsumed record, whose timestamp is the lag in seconds.

One consumer connection (no group, nothing committed) reads every partition; the committed
offsets of a Kafka consumer group come from one OffsetFetch through the admin client.
Consumers that keep their position elsewhere (in PostgreSQL) pass it to :func:`partition_lag`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import BaseModel, ConfigDict, Field

#: Per-partition fetch size: the producer's largest batch (``make_producer``), so the first batch
#: at the consumer's position always comes back whole.
_FETCH_BYTES = 1024 * 1024


class PartitionLag(BaseModel):
    """How far one partition's consumer is behind."""

    model_config = ConfigDict(frozen=True)

    topic: str
    partition: int
    committed_offset: int | None = Field(
        description="Next offset the consumer will read; None if it never committed"
    )
    high_water_mark: int = Field(description="Offset the next record produced will get")
    lag_events: int = Field(ge=0, description="Records produced but not yet consumed")
    lag_seconds: float | None = Field(
        description="Age of the oldest unconsumed record; 0 when caught up, None if unknown"
    )


async def partition_lag(
    bootstrap_servers: str,
    positions: Mapping[tuple[str, int], int | None],
    topics: Sequence[str],
    *,
    within: float = 10.0,
) -> list[PartitionLag]:
    """Lag of every partition of ``topics`` given the consumer's next offset for each.

    ``positions`` maps (topic, partition) to the next offset to read; a partition missing from
    it, or mapped to None, was never consumed: its lag counts from the log start. Topics that do
    not exist are skipped (they are not created). Raises TimeoutError if a partition's
    high-water mark could not be fetched ``within`` seconds.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        client_id="cpd-lag",
        enable_auto_commit=False,
        auto_offset_reset="earliest",  # a position past the log (data lost): read from the start
        fetch_max_wait_ms=50,
        max_partition_fetch_bytes=_FETCH_BYTES,
        request_timeout_ms=max(int(within * 1000), 5000),
    )
    await consumer.start()
    try:
        partitions = await _partitions_of(consumer, topics)
        if not partitions:
            return []
        log_starts: dict[TopicPartition, int] = await consumer.beginning_offsets(partitions)
        starts: dict[TopicPartition, int] = {}
        for tp in partitions:
            committed = positions.get((tp.topic, tp.partition))
            starts[tp] = log_starts[tp] if committed is None else max(committed, log_starts[tp])
        high_water, oldest = await _fetch_heads(consumer, starts, within)
    finally:
        await consumer.stop()
    now = time.time()
    lags = []
    for tp in partitions:
        lag_events = max(0, high_water[tp] - starts[tp])
        lag_seconds: float | None = 0.0
        if lag_events:
            timestamp = oldest.get(tp)
            lag_seconds = None if timestamp is None else max(0.0, now - timestamp / 1000)
        lags.append(
            PartitionLag(
                topic=tp.topic,
                partition=tp.partition,
                committed_offset=positions.get((tp.topic, tp.partition)),
                high_water_mark=high_water[tp],
                lag_events=lag_events,
                lag_seconds=lag_seconds,
            )
        )
    return lags


async def consumer_lag(
    bootstrap_servers: str,
    group_id: str,
    topics: Sequence[str],
    *,
    within: float = 10.0,
) -> list[PartitionLag]:
    """Lag of a Kafka consumer group on every partition of ``topics`` (missing topics skipped)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        client_id="cpd-lag",
        request_timeout_ms=max(int(within * 1000), 5000),
    )
    await admin.start()
    try:
        # describe only topics that exist: naming a missing one auto-creates it on some brokers
        existing = set(await admin.list_topics())
        wanted = list(dict.fromkeys(t for t in topics if t in existing))
        if not wanted:
            return []
        partitions = [
            TopicPartition(described["topic"], p["partition"])
            for described in await admin.describe_topics(wanted)
            if described["error_code"] == 0
            for p in described["partitions"]
        ]
        # explicit partitions: without them some brokers (Tansu) drop the connection
        offsets: dict[TopicPartition, Any] = await admin.list_consumer_group_offsets(
            group_id, partitions=partitions
        )
    finally:
        await admin.close()
    positions: dict[tuple[str, int], int | None] = {
        (tp.topic, tp.partition): (meta.offset if meta.offset >= 0 else None)
        for tp, meta in offsets.items()
    }
    return await partition_lag(bootstrap_servers, positions, wanted, within=within)


async def _partitions_of(consumer: Any, topics: Sequence[str]) -> list[TopicPartition]:
    await consumer.topics()  # metadata of every topic: never names (so never creates) a topic
    partitions: list[TopicPartition] = []
    for topic in dict.fromkeys(topics):
        numbers = consumer.partitions_for_topic(topic)
        partitions.extend(TopicPartition(topic, p) for p in sorted(numbers or ()))
    return partitions


async def _fetch_heads(
    consumer: Any, starts: Mapping[TopicPartition, int], within: float
) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    """Fetch every partition from its start: high-water marks and first records' timestamps.

    A partition is paused once its high-water mark is known and, if it has unconsumed records,
    the first of them arrived; so each partition costs one fetch of at most one batch or so.
    """
    consumer.assign(list(starts))
    for tp, offset in starts.items():
        consumer.seek(tp, offset)
    high_water: dict[TopicPartition, int] = {}
    oldest: dict[TopicPartition, int] = {}
    pending = set(starts)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while pending:
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        batch = await consumer.getmany(timeout_ms=int(min(remaining, 0.1) * 1000))
        for tp, records in batch.items():
            stamp = records[0].timestamp if records else None
            if tp not in oldest and stamp is not None and stamp >= 0:  # -1: no timestamp
                oldest[tp] = stamp
        for tp in list(pending):
            mark = consumer.highwater(tp)
            if mark is None:
                continue
            high_water[tp] = mark
            caught_up = starts[tp] >= mark
            if caught_up or tp in oldest or tp in batch:
                pending.discard(tp)
                consumer.pause(tp)
    missing = sorted(f"{tp.topic}[{tp.partition}]" for tp in starts if tp not in high_water)
    if missing:
        raise TimeoutError(f"no high-water mark within {within} s for {', '.join(missing)}")
    return high_water, oldest
