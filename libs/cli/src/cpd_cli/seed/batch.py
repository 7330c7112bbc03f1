"""Writing in chunks through the deciders, as the imports and the grant run do.

A chunk reads every event of its streams in one query, decides its commands one after another
with the services' pure deciders against the state those streams reach (each decision sees the
ones before it), and appends every stream it changed in one transaction (``append_many``), each
at the version it was read at. A chunk that meets a concurrent writer (a version conflict) is read
and decided again; a refusal (``RuleBroken``) writes nothing for that command and is counted.

Event ids are ``uuid5`` of the stream, the version the event takes, its type and the command's
own key (a request id, a log id...), so two runs of the same seed write the same ids, and the
domain's own idempotency (a request id, log id or session id used already) makes a re-run, also
after Ctrl-C, decide nothing twice.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any, Generic, TypeVar

from cpd_events import Event, Metadata, NewEvent
from cpd_events.decider import Decider, RuleBroken
from cpd_eventstore import ConcurrencyError, EventStore, PartiallyStoredError, StreamWrite
from cpd_eventstore.db import Pool
from entitlement.importing import load_streams

#: Namespace of the seed's event ids (never change it: re-runs rely on it).
SEED_EVENTS = uuid.UUID("8d7e5f2a-1c3b-4e6d-9a8f-2b4c6d8e0f13")
ATTEMPTS = 5

S = TypeVar("S")
U = TypeVar("U")


def at(day: date, minutes: int = 0) -> datetime:
    """When something that happened on ``day`` is said to have occurred (16:00 UTC + minutes)."""
    return datetime.combine(day, clock_time(16, 0), tzinfo=UTC) + timedelta(minutes=minutes)


class Batch:
    """The stored events of a chunk's streams, their states, and what the chunk decided."""

    def __init__(self, stored: dict[str, list[Event]], versions: dict[str, int]) -> None:
        self._events = stored
        self._versions = versions
        self._states: dict[str, dict[int, tuple[Decider[Any, Any], Any]]] = {}
        self._new: dict[str, list[NewEvent]] = {}
        self.types: Counter[str] = Counter()

    def events(self, stream_id: str) -> list[Event]:
        return self._events.get(stream_id, [])

    def state(self, stream_id: str, decider: Decider[S, Any]) -> S:
        states = self._states.setdefault(stream_id, {})
        found = states.get(id(decider))
        if found is None:
            found = (decider, decider.fold(self.events(stream_id)))
            states[id(decider)] = found
        state: S = found[1]
        return state

    def add(
        self, stream_id: str, events: Sequence[Event], key: str, when: datetime | None = None
    ) -> None:
        """Decided events of one stream (the states of that stream evolve with them)."""
        new = self._new.setdefault(stream_id, [])
        version = self._versions.get(stream_id, 0) + len(new)
        states = self._states.get(stream_id, {})
        for offset, event in enumerate(events, start=1):
            name = f"{stream_id}|{version + offset}|{event.event_type}|{key}"
            stamp = {"occurred_at": when} if when is not None else {}
            new.append(NewEvent(event=event, event_id=uuid.uuid5(SEED_EVENTS, name), **stamp))
            self._events.setdefault(stream_id, []).append(event)
            for slot, (decider, state) in list(states.items()):
                states[slot] = (decider, decider.evolve(state, event))
            self.types[event.event_type] += 1

    def writes(self) -> list[StreamWrite]:
        return [
            StreamWrite(stream_id, self._versions.get(stream_id, 0), events)
            for stream_id, events in self._new.items()
            if events
        ]


async def load_batch(pool: Pool, stream_ids: Iterable[str]) -> Batch:
    """Every event of the given streams, in one query (as the registry imports load them)."""
    return Batch(*await load_streams(pool, stream_ids))


# --- outcomes ----------------------------------------------------------------------------------


_NUMBERS = re.compile(r"[0-9][0-9:,.\-]*|£[0-9,.]+")


@dataclass
class Tally:
    """What one attempt at a chunk decided (merged into the phase's report once appended)."""

    applied: int = 0
    unchanged: int = 0
    skipped: int = 0  # follows a command that was refused (e.g. hours for a declined request)
    refused: Counter[str] = field(default_factory=Counter)

    def refuse(self, what: str, error: RuleBroken) -> None:
        self.refused[f"{what}: {_NUMBERS.sub('#', error.message)}"] += 1


@dataclass
class PhaseReport:
    name: str
    units: int = 0
    applied: int = 0
    unchanged: int = 0
    skipped: int = 0
    events: int = 0
    retries: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    types: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    note: str = ""

    def merge(self, tally: Tally, batch: Batch) -> None:
        self.applied += tally.applied
        self.unchanged += tally.unchanged
        self.skipped += tally.skipped
        self.refused.update(tally.refused)
        self.types.update(batch.types)
        self.events += sum(batch.types.values())


Progress = Callable[[int], None]


@dataclass(frozen=True)
class Phase(Generic[U]):
    """Units written chunk by chunk: which streams a unit reads, and how it decides."""

    name: str
    streams: Callable[[U], Iterable[str]]
    decide: Callable[[Batch, U, Tally], None]
    size: Callable[[U], int] = lambda _: 1  # for progress (e.g. teachers in a group)


async def run_phase(
    store: EventStore,
    phase: Phase[U],
    chunks: Sequence[Sequence[U]],
    metadata: Metadata,
    progress: Progress | None = None,
    workers: int = 1,
    report: PhaseReport | None = None,
) -> PhaseReport:
    """Decide and append ``chunks`` (each a list of units whose streams no other chunk of the
    phase writes), ``workers`` chunks at once."""
    report = report or PhaseReport(phase.name)
    started = time.perf_counter()
    queue: asyncio.Queue[Sequence[U] | None] = asyncio.Queue()
    for chunk in chunks:
        queue.put_nowait(chunk)
    for _ in range(workers):
        queue.put_nowait(None)

    async def work() -> None:
        while (chunk := await queue.get()) is not None:
            await _chunk(store, phase, chunk, metadata, report)
            if progress is not None:
                progress(sum(phase.size(unit) for unit in chunk))

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, workers)):
                group.create_task(work())
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    report.seconds += time.perf_counter() - started
    return report


async def _chunk(
    store: EventStore,
    phase: Phase[U],
    units: Sequence[U],
    metadata: Metadata,
    report: PhaseReport,
) -> None:
    stream_ids = {s for unit in units for s in phase.streams(unit)}
    for attempt in range(1, ATTEMPTS + 1):
        batch = await load_batch(store.pool, stream_ids)
        tally = Tally()
        for unit in units:
            phase.decide(batch, unit, tally)
        writes = batch.writes()
        try:
            if writes:
                await store.append_many(writes, metadata)
        except (ConcurrencyError, PartiallyStoredError):
            if attempt == ATTEMPTS:
                raise  # another writer keeps changing these streams: run the seed again
            report.retries += 1
            await asyncio.sleep(0.05 * attempt)
            continue
        report.units += len(units)
        report.merge(tally, batch)
        return


def chunked(items: Sequence[U], size: int) -> list[Sequence[U]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


Step = Callable[[], Awaitable[None]]
