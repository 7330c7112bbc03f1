"""The outbox relay against a real PostgreSQL and a real Kafka-protocol broker."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest

from cpd_events import REGISTRY
from cpd_events.topics import HEADER_EVENT_ID, HEADER_EVENT_TYPE, HEADER_SCHEMA_VERSION
from cpd_eventstore import NO_STREAM, EventStore, OutboxRelay, StreamWrite, republish
from cpd_eventstore.db import Pool
from cpd_eventstore.kafka import ensure_topics
from cpd_eventstore.relay import _PENDING, _SELECT, send_rows
from cpd_platform.embedded import LocalBroker, free_port
from cpd_platform.testing import Infrastructure, read_topic

from .helpers import META, hours_logged

pytestmark = pytest.mark.integration


class PositionOrderedRelay(OutboxRelay):
    """The naive relay the design warns about: checkpoints by position alone."""

    async def publish_pending(self) -> int:
        assert self.producer is not None
        cp = await self.checkpoint()
        rows = await self.pool.fetch(
            f"{_SELECT} where position > $1 order by position limit $2",
            cp.position,
            self.batch_size,
        )
        if not rows:
            return 0
        await asyncio.gather(*await send_rows(self.producer, self.topic, rows))
        await self.pool.execute(
            "update es.relay_checkpoints set tx_id = $2::xid8, position = $3,"
            " published = published + $4 where relay = $1",
            self.name,
            rows[-1]["tx_id"],
            rows[-1]["position"],
            len(rows),
        )
        return len(rows)


async def started(relay: OutboxRelay, infra: Infrastructure) -> OutboxRelay:
    await ensure_topics(infra.bootstrap_servers, [relay.topic], 3)
    await relay.start()
    return relay


async def late_commit_scenario(
    pool: Pool, store: EventStore, relay: OutboxRelay, infra: Infrastructure
) -> tuple[set[str], set[str]]:
    """Transaction A appends first but commits after B; the relay runs in between.

    Returns the event ids found on the topic afterwards, and the ids written.
    """
    late = hours_logged(trn="1111111")
    early = hours_logged(trn="2222222")
    async with pool.acquire() as conn_a:
        transaction = conn_a.transaction()
        await transaction.start()
        await store.append_many(
            [StreamWrite("teacher-1111111", NO_STREAM, [late])], META, connection=conn_a
        )
        await store.append("teacher-2222222", NO_STREAM, [early], META)  # commits first
        while await relay.publish_pending():
            pass
        await transaction.commit()
    while await relay.publish_pending():
        pass
    records = await read_topic(infra.bootstrap_servers, relay.topic, expect=2, within=3)
    return {REGISTRY.parse(r.value or b"")[0].event_id.hex for r in records}, {
        late.event_id.hex,
        early.event_id.hex,
    }


async def test_an_event_whose_transaction_commits_late_is_never_skipped(
    pool: Pool, store: EventStore, infra: Infrastructure, topic: str
) -> None:
    relay = await started(OutboxRelay(pool, infra.bootstrap_servers, topic), infra)
    try:
        found, expected = await late_commit_scenario(pool, store, relay, infra)
    finally:
        await relay.stop()
    assert found == expected


async def test_the_late_commit_scenario_does_skip_with_a_position_checkpoint(
    pool: Pool, store: EventStore, infra: Infrastructure, topic: str
) -> None:
    """Proves the test above can fail: without gap safety the late event is lost."""
    relay = await started(PositionOrderedRelay(pool, infra.bootstrap_servers, topic), infra)
    try:
        found, expected = await late_commit_scenario(pool, store, relay, infra)
    finally:
        await relay.stop()
    assert found != expected
    assert len(found) == 1


async def test_keys_headers_and_stream_order(
    pool: Pool, store: EventStore, infra: Infrastructure, topic: str
) -> None:
    for _ in range(5):
        for trn in ("1000001", "1000002", "1000003"):
            await store.append(f"teacher-{trn}", -1, [hours_logged(trn=trn)], META)
    relay = await started(OutboxRelay(pool, infra.bootstrap_servers, topic, batch_size=4), infra)
    try:
        while await relay.publish_pending():
            pass
    finally:
        await relay.stop()
    records = await read_topic(infra.bootstrap_servers, topic, expect=15)
    assert len(records) == 15
    versions: dict[str, list[int]] = defaultdict(list)
    partitions: dict[str, set[int]] = defaultdict(set)
    for record in records:
        envelope, _ = REGISTRY.parse(record.value or b"")
        assert record.key == envelope.stream_id.encode()
        headers = {k: v.decode() for k, v in record.headers}
        assert headers[HEADER_EVENT_TYPE] == "HoursLogged"
        assert headers[HEADER_EVENT_ID] == str(envelope.event_id)
        assert headers[HEADER_SCHEMA_VERSION] == "2"
        versions[envelope.stream_id].append(envelope.stream_version)
        partitions[envelope.stream_id].add(record.partition)
    assert all(v == [1, 2, 3, 4, 5] for v in versions.values())
    assert all(len(p) == 1 for p in partitions.values())


async def test_relay_resumes_after_a_crash_with_nothing_lost(
    pool: Pool, store: EventStore, infra: Infrastructure, topic: str
) -> None:
    written = []
    for i in range(10):
        written += await store.append(f"teacher-{i}", NO_STREAM, [hours_logged()], META)

    class CrashBeforeCheckpoint(OutboxRelay):
        async def publish_pending(self) -> int:
            assert self.producer is not None
            cp = await self.checkpoint()
            rows = await self.pool.fetch(_PENDING, cp.tx_id, cp.position, 6)
            await asyncio.gather(*await send_rows(self.producer, self.topic, rows))
            raise RuntimeError("killed after sending, before the checkpoint")

    crashing = await started(CrashBeforeCheckpoint(pool, infra.bootstrap_servers, topic), infra)
    with pytest.raises(RuntimeError):
        await crashing.publish_pending()
    await crashing.stop()
    relay = await started(OutboxRelay(pool, infra.bootstrap_servers, topic), infra)
    try:
        while await relay.publish_pending():
            pass
        assert await relay.lag() == 0
    finally:
        await relay.stop()
    records = await read_topic(infra.bootstrap_servers, topic, expect=16)
    ids = [REGISTRY.parse(r.value or b"")[0].event_id for r in records]
    assert len(ids) == 16  # six sent twice: at least once, consumers deduplicate
    assert set(ids) == {e.event_id for e in written}


async def test_a_broker_that_lost_its_data_is_refilled(
    pool: Pool, store: EventStore, infra: Infrastructure, topic: str
) -> None:
    for i in range(5):
        await store.append(f"teacher-{i}", NO_STREAM, [hours_logged()], META)
    first = LocalBroker(free_port())
    first.start()
    relay = OutboxRelay(pool, first.bootstrap_servers, topic, broker_check_interval=0.1)
    await ensure_topics(first.bootstrap_servers, [topic], 3)
    await relay.start()
    while await relay.publish_pending():
        pass
    await relay.stop()
    first.stop()

    second = LocalBroker(free_port())  # a new, empty broker: memory storage kept nothing
    second.start()
    try:
        await ensure_topics(second.bootstrap_servers, [topic], 3)
        relay = OutboxRelay(pool, second.bootstrap_servers, topic, broker_check_interval=0.1)
        await relay.start()
        stop = asyncio.Event()
        task = asyncio.create_task(relay.run(stop))
        records = await read_topic(second.bootstrap_servers, topic, expect=5, within=10)
        stop.set()
        await task
        await relay.stop()
        assert len({r.value for r in records}) == 5
    finally:
        second.stop()


async def test_republish_replays_the_store_from_a_position(
    pool: Pool, store: EventStore, infra: Infrastructure, topic: str
) -> None:
    written = []
    for i in range(6):
        written += await store.append(f"teacher-{i}", NO_STREAM, [hours_logged()], META)
    await ensure_topics(infra.bootstrap_servers, [topic], 3)
    sent = await republish(
        pool, infra.bootstrap_servers, topic, from_position=written[2].position or 0
    )
    assert sent == 4
    records = await read_topic(infra.bootstrap_servers, topic, expect=4)
    assert {REGISTRY.parse(r.value or b"")[0].event_id for r in records} == {
        e.event_id for e in written[2:]
    }


async def test_the_message_value_is_exactly_the_stored_envelope(
    pool: Pool, store: EventStore
) -> None:
    from cpd_events import Envelope, Metadata
    from cpd_eventstore.relay import message_of
    from cpd_eventstore.store import row_to_envelope

    meta = Metadata(actor='a "quoted" actor', causation_id="cause", traceparent=None)
    await store.append("teacher-1234567", NO_STREAM, [hours_logged()], meta)
    [row] = await pool.fetch(f"{_SELECT} order by position")
    key, value, _ = message_of(row)
    assert key == b"teacher-1234567"
    assert Envelope.model_validate_json(value) == row_to_envelope(row)
