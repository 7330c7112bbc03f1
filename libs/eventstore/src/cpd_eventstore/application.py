"""Application-service helpers: load a stream's state, decide, append; retry on conflicts."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from cpd_events import REGISTRY, Envelope, Event, Metadata, NewEvent
from cpd_events.decider import Decider
from cpd_eventstore.errors import ConcurrencyError
from cpd_eventstore.store import EventStore, StreamWrite

S = TypeVar("S")
C = TypeVar("C")

DEFAULT_ATTEMPTS = 5


@dataclass(frozen=True)
class Loaded(Generic[S]):
    stream_id: str
    state: S
    version: int

    def write(self, events: Sequence[Event]) -> StreamWrite:
        """The events decided for this stream, expecting it still at the loaded version."""
        return StreamWrite(self.stream_id, self.version, [NewEvent(event=e) for e in events])


async def load(store: EventStore, stream_id: str, decider: Decider[S, C]) -> Loaded[S]:
    envelopes = await store.read_stream(stream_id)
    state = decider.fold(REGISTRY.load(envelope) for envelope in envelopes)
    return Loaded(stream_id, state, envelopes[-1].stream_version if envelopes else 0)


async def execute(
    store: EventStore,
    plan: Callable[[], Awaitable[Sequence[StreamWrite]]],
    metadata: Metadata,
    attempts: int = DEFAULT_ATTEMPTS,
) -> list[Envelope]:
    """Run ``plan`` (load, decide) and append what it decided, all streams in one transaction.

    On a version conflict the whole plan runs again on fresh state, at most ``attempts`` times;
    domain refusals (``RuleBroken``) propagate at once.
    """
    for attempt in range(1, attempts + 1):
        writes = [write for write in await plan() if write.events]
        if not writes:
            return []
        try:
            return await store.append_many(writes, metadata)
        except ConcurrencyError:
            if attempt == attempts:
                raise
            await asyncio.sleep(random.uniform(0, 0.005 * attempt))
    raise AssertionError("unreachable")


async def handle(
    store: EventStore,
    stream_id: str,
    decider: Decider[S, C],
    command: C,
    metadata: Metadata,
    attempts: int = DEFAULT_ATTEMPTS,
) -> list[Envelope]:
    """The common case: one stream, one decider."""

    async def plan() -> list[StreamWrite]:
        loaded = await load(store, stream_id, decider)
        return [loaded.write(decider.decide(command, loaded.state))]

    return await execute(store, plan, metadata, attempts)
