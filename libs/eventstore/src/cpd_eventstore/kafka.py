"""Kafka-protocol plumbing shared by relays and consumers. Nothing broker-specific here."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from cpd_events.topics import TOPIC_CONFIG


def make_producer(bootstrap_servers: str, client_id: str) -> AIOKafkaProducer:
    """At-least-once producer: every replica acknowledges, batches of up to 1 MB.

    Idempotent and transactional producing are not used: consumers deduplicate instead, and
    some Kafka-protocol brokers reject aiokafka's InitProducerId request.
    """
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        acks="all",
        linger_ms=5,
        max_batch_size=1024 * 1024,
        request_timeout_ms=30_000,
        enable_idempotence=False,
    )


async def ensure_topics(
    bootstrap_servers: str, topics: Iterable[str], partitions: int, replication_factor: int = 1
) -> list[str]:
    """Create the topics that are missing (retention unlimited); return those created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="cpd-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            # another process may create one between our list and create: that is fine
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [
                        NewTopic(t, partitions, replication_factor, topic_configs=TOPIC_CONFIG)
                        for t in missing
                    ]
                )
        return missing
    finally:
        await admin.close()


async def topic_message_count(bootstrap_servers: str, topic: str) -> int | None:
    """Sum of the partitions' end offsets, or None if the topic does not exist.

    Used to notice a broker that lost its data (the memory-only embedded broker after a
    restart): some brokers report end offsets loosely, but never zero for a non-empty partition.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await consumer._client.fetch_all_metadata()
        numbers = partitions.partitions_for_topic(topic)
        if not numbers:
            return None
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in numbers])
        return int(sum(ends.values()))
    finally:
        await consumer.stop()


async def wait_for_broker(bootstrap_servers: str, within: float = 30.0) -> None:
    """Wait until the broker answers metadata requests, or raise TimeoutError."""
    deadline = asyncio.get_running_loop().time() + within
    last: Exception | None = None
    while asyncio.get_running_loop().time() < deadline:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=2000)
        try:
            await admin.start()
            await admin.list_topics()
            return
        except (KafkaError, OSError) as error:
            last = error
            await asyncio.sleep(0.2)
        finally:
            await admin.close()
    raise TimeoutError(f"no Kafka-protocol broker answers at {bootstrap_servers}: {last}")
