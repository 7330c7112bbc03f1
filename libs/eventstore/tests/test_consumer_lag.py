"""Consumer lag in events and seconds, against a real Kafka-protocol broker."""

from __future__ import annotations

import asyncio
import json
import time
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import FastAPI
from typer.testing import CliRunner

from cpd_cli.main import app as cli
from cpd_eventstore.kafka import ensure_topics, make_producer
from cpd_eventstore.lag import PartitionLag, consumer_lag, partition_lag
from cpd_platform.admin import install_admin_routes
from cpd_platform.testing import Infrastructure

pytestmark = pytest.mark.integration

#: Records produced per partition; the third partition stays empty.
PRODUCED = {0: 120, 1: 75, 2: 0}


async def produce_batched(bootstrap: str, topic: str, counts: dict[int, int]) -> None:
    """Many sends awaited together (so they go out in batches) plus one explicit batch."""
    producer = make_producer(bootstrap, "lag-test")
    await producer.start()
    try:
        sends = []
        for partition, count in counts.items():
            explicit = min(count, 5)  # the last few of each partition through send_batch
            for i in range(count - explicit):
                sends.append(await producer.send(topic, b"x%d" % i, partition=partition))
            if explicit:
                batch = producer.create_batch()
                for _ in range(explicit):
                    assert batch.append(key=None, value=b"b", timestamp=None) is not None
                sends.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def commit(bootstrap: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    """A group member that joins, reads what it is given and commits ``offsets``."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=2000,
        heartbeat_interval_ms=500,
    )
    await consumer.start()
    try:
        consumer.subscribe(sorted({tp.topic for tp in offsets}))
        deadline = asyncio.get_running_loop().time() + 15
        while not consumer.assignment():
            assert asyncio.get_running_loop().time() < deadline, "the group never formed"
            await consumer.getmany(timeout_ms=200)
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


def by_partition(lags: list[PartitionLag]) -> dict[int, PartitionLag]:
    return {lag.partition: lag for lag in lags}


async def test_fetch_high_water_mark_is_right_after_batched_sends(
    infra: Infrastructure, topic: str
) -> None:
    await ensure_topics(infra.bootstrap_servers, [topic], partitions=3)
    await produce_batched(infra.bootstrap_servers, topic, PRODUCED)

    lags = by_partition(await partition_lag(infra.bootstrap_servers, {}, [topic]))

    assert {p: lag.high_water_mark for p, lag in lags.items()} == PRODUCED
    assert {p: lag.lag_events for p, lag in lags.items()} == PRODUCED  # never consumed
    assert all(lag.committed_offset is None for lag in lags.values())
    assert lags[2].lag_seconds == 0.0  # empty partition: nothing waits
    # what the fetch corrects: ListOffsets after batched sends (Tansu answers first offset + 1)
    consumer = AIOKafkaConsumer(bootstrap_servers=infra.bootstrap_servers)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in PRODUCED]
        ends = {tp.partition: end for tp, end in (await consumer.end_offsets(tps)).items()}
    finally:
        await consumer.stop()
    print(f"end_offsets {ends}, fetch high-water marks {PRODUCED}")
    if "Tansu" in infra.source:
        assert ends[0] < PRODUCED[0]
        assert ends[1] < PRODUCED[1]


async def test_group_lag_per_partition_in_events_and_seconds(
    infra: Infrastructure, topic: str
) -> None:
    bootstrap = infra.bootstrap_servers
    await ensure_topics(bootstrap, [topic], partitions=3)
    produced_from = time.time()
    await produce_batched(bootstrap, topic, PRODUCED)
    produced_by = time.time()
    group = f"lag-{topic}"
    await commit(bootstrap, group, {TopicPartition(topic, 0): 50, TopicPartition(topic, 1): 75})
    await asyncio.sleep(1.0)  # so the oldest unconsumed record is visibly old

    asked = time.time()
    lags = by_partition(await consumer_lag(bootstrap, group, [topic, "no.such.topic"]))
    answered = time.time()

    assert sorted(lags) == [0, 1, 2]  # the missing topic is skipped
    assert (lags[0].committed_offset, lags[0].high_water_mark, lags[0].lag_events) == (50, 120, 70)
    assert (lags[1].committed_offset, lags[1].high_water_mark, lags[1].lag_events) == (75, 75, 0)
    assert (lags[2].committed_offset, lags[2].high_water_mark, lags[2].lag_events) == (None, 0, 0)
    seconds = lags[0].lag_seconds
    assert seconds is not None
    assert asked - produced_by - 0.05 <= seconds <= answered - produced_from + 0.05
    assert seconds >= 1.0
    assert lags[1].lag_seconds == lags[2].lag_seconds == 0.0
    # asking never creates a topic
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        assert "no.such.topic" not in await admin.list_topics()
    finally:
        await admin.close()

    await commit(bootstrap, group, {TopicPartition(topic, 0): 120})
    caught_up = await consumer_lag(bootstrap, group, [topic])
    assert [lag.lag_events for lag in caught_up] == [0, 0, 0]
    assert [lag.lag_seconds for lag in caught_up] == [0.0, 0.0, 0.0]

    never = by_partition(await consumer_lag(bootstrap, f"{group}-never", [topic]))
    assert {p: lag.lag_events for p, lag in never.items()} == PRODUCED
    assert all(lag.committed_offset is None for lag in never.values())
    assert (never[0].lag_seconds or 0) >= 1.0


async def test_positions_kept_outside_kafka(infra: Infrastructure, topic: str) -> None:
    await ensure_topics(infra.bootstrap_servers, [topic], partitions=3)
    await produce_batched(infra.bootstrap_servers, topic, PRODUCED)

    lags = by_partition(
        await partition_lag(
            infra.bootstrap_servers,
            {(topic, 0): 119, (topic, 1): 500, ("other", 0): 3},  # 500: past the log (data lost)
            [topic],
        )
    )

    assert [(lag.committed_offset, lag.lag_events) for lag in lags.values()] == [
        (119, 1),
        (500, 0),
        (None, 0),
    ]
    assert lags[0].lag_seconds is not None
    assert lags[0].lag_seconds >= 0
    assert await partition_lag(infra.bootstrap_servers, {}, ["no.such.topic"]) == []


async def test_cli_and_admin_route_report_lag(infra: Infrastructure, topic: str) -> None:
    bootstrap = infra.bootstrap_servers
    await ensure_topics(bootstrap, [topic], partitions=2)
    await produce_batched(bootstrap, topic, {0: 10, 1: 4})
    group = f"lag-{topic}"
    await commit(bootstrap, group, {TopicPartition(topic, 0): 7})

    result = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        ["lag", group, "--topic", topic, "--bootstrap", bootstrap, "--json"],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["group"], r["partition"], r["lag_events"]) for r in rows] == [
        (group, 0, 3),
        (group, 1, 4),
    ]
    table = await asyncio.to_thread(
        CliRunner().invoke, cli, ["lag", group, "--topic", topic, "--bootstrap", bootstrap]
    )
    assert table.exit_code == 0, table.output
    assert "total" in table.output

    runtime: Any = SimpleNamespace(
        name="reporting",
        settings=SimpleNamespace(kafka_bootstrap_servers=bootstrap),
        subscriptions=[SimpleNamespace(name="mine", topics=[topic])],
        consumers={"mine": SimpleNamespace(name=group)},
        more_consumers=dict,
    )
    web = FastAPI()
    install_admin_routes(web, runtime)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web), base_url="http://test"
    ) as client:
        default = (await client.get("/admin/lag")).json()
        other = (await client.get("/admin/lag", params={"group": f"{group}-x"})).json()
    assert [(r["group"], r["partition"], r["lag_events"]) for r in default] == [
        (group, 0, 3),
        (group, 1, 4),
    ]
    # a group this service does not run: every platform topic that exists, never committed
    assert all(r["group"] == f"{group}-x" and r["committed_offset"] is None for r in other)
