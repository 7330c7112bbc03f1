"""Idempotent consumer, dead letters and parking, against a real PostgreSQL."""

from __future__ import annotations

import pytest

from cpd_events import Envelope, Event
from cpd_eventstore import IdempotentConsumer
from cpd_eventstore.db import Connection, Pool
from cpd_platform.testing import Record, record_of

from .helpers import envelope_for, hours_logged

pytestmark = pytest.mark.integration


class Projection:
    """Sums logged hours per stream; can be told to fail on one event type or id."""

    def __init__(self) -> None:
        self.fail_on: set[str] = set()

    async def setup(self, pool: Pool) -> None:
        await pool.execute("create table totals (stream_id text primary key, events int)")

    async def apply(self, conn: Connection, envelope: Envelope, event: Event) -> None:
        if str(envelope.event_id) in self.fail_on:
            raise RuntimeError("projection bug")
        await conn.execute(
            "insert into totals values ($1, 1) on conflict (stream_id)"
            " do update set events = totals.events + 1",
            envelope.stream_id,
        )


async def totals(pool: Pool) -> dict[str, int]:
    return dict(await pool.fetch("select stream_id, events from totals"))  # type: ignore[arg-type]


@pytest.fixture
async def projection(pool: Pool) -> Projection:
    projection = Projection()
    await projection.setup(pool)
    return projection


async def test_a_redelivered_event_changes_nothing(pool: Pool, projection: Projection) -> None:
    consumer = IdempotentConsumer(pool, "test", projection.apply)
    records = [record_of(envelope_for("s-1", v)) for v in (1, 2)]
    first = await consumer.handle_batch(records)
    again = await consumer.handle_batch(records)
    assert (first.applied, again.applied, again.duplicates) == (2, 0, 2)
    assert await totals(pool) == {"s-1": 2}


async def test_garbage_unknown_and_invalid_events_go_to_dead_letters(
    pool: Pool, projection: Projection
) -> None:
    consumer = IdempotentConsumer(pool, "test", projection.apply)
    unknown = envelope_for("s-2", 1).model_copy(update={"event_type": "TeacherTeleported"})
    invalid = envelope_for("s-3", 1).model_copy(update={"data": {"trn": "12"}})
    outcome = await consumer.handle_batch(
        [
            Record(b"\x00garbage"),
            record_of(unknown),
            record_of(invalid),
            record_of(envelope_for("s-4", 1)),
        ]
    )
    assert (outcome.failed, outcome.applied) == (3, 1)
    letters = await consumer.dead_letters()
    assert [d.status for d in letters] == ["failed"] * 3
    assert "envelope" in letters[0].error
    assert "unknown event type 'TeacherTeleported'" in letters[1].error
    assert "data.trn" in letters[2].error
    assert await totals(pool) == {"s-4": 1}


async def test_a_failed_event_parks_its_stream_and_a_retry_after_the_fix_applies_it_once(
    pool: Pool, projection: Projection
) -> None:
    consumer = IdempotentConsumer(pool, "test", projection.apply)
    stream = [envelope_for("s-1", v) for v in (1, 2, 3, 4)]
    projection.fail_on = {str(stream[1].event_id)}
    other = envelope_for("s-9", 1)
    outcome = await consumer.handle_batch([record_of(e) for e in (*stream, other)])
    assert (outcome.applied, outcome.failed, outcome.parked) == (2, 1, 2)
    assert await totals(pool) == {"s-1": 1, "s-9": 1}  # other streams flow on
    letters = await consumer.dead_letters()
    assert [(d.status, d.stream_version) for d in letters] == [
        ("failed", 2),
        ("parked", 3),
        ("parked", 4),
    ]
    # still broken: retry fails again, nothing moves
    outcome, error = await consumer.retry(letters[0].id)
    assert outcome.failed == 1
    assert error is not None
    assert "projection bug" in error
    assert await totals(pool) == {"s-1": 1, "s-9": 1}

    projection.fail_on = set()  # the fix is deployed
    outcome, error = await consumer.retry(letters[0].id)
    assert error is None
    assert outcome.applied == 3  # the failed one and its two followers
    assert await totals(pool) == {"s-1": 4, "s-9": 1}
    assert await consumer.dead_letters() == []
    # a redelivery of the whole stream after all this changes nothing
    await consumer.handle_batch([record_of(e) for e in stream])
    assert await totals(pool) == {"s-1": 4, "s-9": 1}


async def test_an_event_ahead_of_a_missing_version_waits_for_it(
    pool: Pool, projection: Projection
) -> None:
    consumer = IdempotentConsumer(pool, "test", projection.apply)
    stream = [envelope_for("s-1", v) for v in (1, 2, 3)]
    await consumer.handle_batch([record_of(stream[0]), record_of(stream[2])])
    assert await totals(pool) == {"s-1": 1}
    outcome = await consumer.handle_batch([record_of(stream[1])])
    assert outcome.applied == 2
    assert await totals(pool) == {"s-1": 3}


async def test_discarding_a_failed_event_needs_a_reason_and_releases_its_followers(
    pool: Pool, projection: Projection
) -> None:
    consumer = IdempotentConsumer(pool, "test", projection.apply)
    stream = [envelope_for("s-1", v, hours_logged()) for v in (1, 2)]
    projection.fail_on = {str(stream[0].event_id)}
    await consumer.handle_batch([record_of(e) for e in stream])
    failed = (await consumer.dead_letters(["failed"]))[0]
    with pytest.raises(ValueError, match="reason"):
        await consumer.discard(failed.id, " ")
    outcome = await consumer.discard(failed.id, "known bad import, superseded")
    assert outcome.applied == 1
    assert await totals(pool) == {"s-1": 1}
    assert await consumer.dead_letters() == []
