"""Event store against a real PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from cpd_eventstore import (
    ANY_VERSION,
    NO_STREAM,
    ConcurrencyError,
    EventStore,
    StreamWrite,
)
from cpd_eventstore.application import handle

from .helpers import META, hours_logged

pytestmark = pytest.mark.integration


async def test_append_and_read_a_stream(store: EventStore) -> None:
    first = await store.append("teacher-1", NO_STREAM, [hours_logged(), hours_logged()], META)
    assert [e.stream_version for e in first] == [1, 2]
    await store.append("teacher-1", 2, [hours_logged()], META)
    stream = await store.read_stream("teacher-1")
    assert [e.stream_version for e in stream] == [1, 2, 3]
    assert all(e.actor == "test" and e.teacher_id == "1234567" for e in stream)
    assert await store.stream_version("teacher-1") == 3
    assert [e.stream_version for e in await store.read_stream("teacher-1", after_version=2)] == [3]


async def test_a_wrong_expected_version_is_a_conflict_and_writes_nothing(store: EventStore) -> None:
    await store.append("teacher-1", NO_STREAM, [hours_logged()], META)
    with pytest.raises(ConcurrencyError) as caught:
        await store.append("teacher-1", NO_STREAM, [hours_logged()], META)
    assert (caught.value.expected, caught.value.actual) == (0, 1)
    assert await store.stream_version("teacher-1") == 1
    await store.append("teacher-1", ANY_VERSION, [hours_logged()], META)
    assert await store.stream_version("teacher-1") == 2


async def test_appending_a_stored_event_id_again_is_a_no_op(store: EventStore) -> None:
    event = hours_logged()
    first = await store.append("teacher-1", NO_STREAM, [event], META)
    again = await store.append("teacher-1", NO_STREAM, [event], META)
    assert [e.event_id for e in again] == [e.event_id for e in first]
    assert len(await store.read_stream("teacher-1")) == 1


async def test_several_streams_in_one_transaction_all_or_nothing(store: EventStore) -> None:
    await store.append("budget-1", NO_STREAM, [hours_logged()], META)
    with pytest.raises(ConcurrencyError):
        await store.append_many(
            [
                StreamWrite("teacher-1", NO_STREAM, [hours_logged()]),
                StreamWrite("budget-1", NO_STREAM, [hours_logged()]),  # is at 1: conflict
            ],
            META,
        )
    assert await store.read_stream("teacher-1") == []
    written = await store.append_many(
        [
            StreamWrite("teacher-1", NO_STREAM, [hours_logged()]),
            StreamWrite("budget-1", 1, [hours_logged()]),
        ],
        META,
    )
    assert {(e.stream_id, e.stream_version) for e in written} == {
        ("teacher-1", 1),
        ("budget-1", 2),
    }


async def test_read_all_follows_global_positions(store: EventStore) -> None:
    await store.append("a", NO_STREAM, [hours_logged()], META)
    await store.append("b", NO_STREAM, [hours_logged(), hours_logged()], META)
    everything = await store.read_all()
    assert [e.stream_id for e in everything] == ["a", "b", "b"]
    positions = [e.position or 0 for e in everything]
    assert positions == sorted(positions)
    assert [e.stream_id for e in await store.read_all(after_position=positions[0])] == ["b", "b"]


async def test_concurrent_writers_on_one_stream_lose_no_update(store: EventStore) -> None:
    """Forty writers append to one stream through the retrying command runner."""
    from cpd_events.decider import Decider

    counter: Decider[int, str] = Decider(
        initial=lambda: 0,
        evolve=lambda state, _: state + 1,
        decide=lambda _command, _state: [hours_logged().event],
    )
    results = await asyncio.gather(
        *(handle(store, "teacher-9", counter, "log", META, attempts=50) for _ in range(40))
    )
    assert all(len(r) == 1 for r in results)
    stream = await store.read_stream("teacher-9")
    assert [e.stream_version for e in stream] == list(range(1, 41))
