"""Granting a year's entitlement to every active teacher: a batch over the teacher streams.

``grant_year`` walks the ``teacher-<trn>`` streams in stream-id order, ``chunk_size`` teachers at
a time; for each chunk it reads the teachers' events and their schools' events in two queries,
decides with the teacher decider (the same rules as a single grant: pro rata to FTE and to the
part of the year the teacher is registered for, PP50 premium, early-career uplift; teachers who
left the profession get nothing) and appends every grant of the chunk in one transaction
(``append_many``, each stream at the version it was read at). Several chunks run at once.

Idempotent: a teacher already granted under the policy's current version is skipped, and each
grant's event id is ``uuid5(trn, year, policy version)``, so a re-run, or a run after a crash
half-way, appends nothing twice. A chunk that meets a concurrent change to one of its teachers
(a version conflict) is read and decided again.

A corrected policy (a new version) grants again: each teacher's grant for the year is replaced
by one under the new version.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from cpd_events import REGISTRY, Envelope, Event, Metadata, NewEvent
from cpd_events.decider import Rule, RuleBroken
from cpd_events.entitlement_events import EntitlementGranted, EntitlementPolicyPublished
from cpd_events.registry_events import TeacherRegistered
from cpd_events.types import academic_year_of
from cpd_eventstore import ConcurrencyError, EventStore, StreamWrite
from cpd_eventstore.application import Loaded, execute, load
from entitlement.domain.policy import policy_decider, policy_stream
from entitlement.domain.registry import School, school_decider, school_stream
from entitlement.domain.teacher import (
    GrantEntitlement,
    Teacher,
    teacher_decider,
    teacher_stream,
)

#: Namespace of grant event ids: uuid5(GRANTS, "<trn>:<year>:<policy version>").
GRANTS = uuid.UUID("5f0c2b0e-4a51-4b43-9d0f-6c1e2a7d9b31")
DEFAULT_CHUNK = 2000
DEFAULT_WORKERS = 3
ATTEMPTS = 5


def grant_event_id(trn: str, academic_year: str, policy_version: int) -> uuid.UUID:
    return uuid.uuid5(GRANTS, f"{trn}:{academic_year}:{policy_version}")


def grant_event(event: EntitlementGranted) -> NewEvent:
    """A grant to append, with its deterministic event id."""
    return NewEvent(
        event=event,
        event_id=grant_event_id(event.trn, event.academic_year, event.policy_version),
    )


def stored(events: Iterable[Event]) -> list[NewEvent]:
    return [
        grant_event(e) if isinstance(e, EntitlementGranted) else NewEvent(event=e) for e in events
    ]


@dataclass
class GrantRun:
    """Counts of a run so far (also the progress report)."""

    academic_year: str
    policy_version: int
    total: int = 0  # teacher streams found when the run started
    teachers: int = 0  # teacher streams examined
    granted: int = 0
    already_granted: int = 0  # granted under this policy version before
    not_eligible: int = 0  # left the profession, or registered after the year
    chunks: int = 0
    retries: int = 0  # chunks decided again after a concurrent change
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def seconds(self) -> float:
        """Seconds the run took (so far, while it runs)."""
        return (self.finished or time.monotonic()) - self.started

    def as_dict(self) -> dict[str, object]:
        return {
            "academic_year": self.academic_year,
            "policy_version": self.policy_version,
            "total": self.total,
            "teachers": self.teachers,
            "granted": self.granted,
            "already_granted": self.already_granted,
            "not_eligible": self.not_eligible,
            "chunks": self.chunks,
            "retries": self.retries,
            "seconds": round(self.seconds, 3),
        }


Progress = Callable[[GrantRun], None]

_TEACHERS = "teacher-%"
_FIRST = "teacher-"


async def count_teachers(store: EventStore) -> int:
    count = await store.pool.fetchval(
        "select count(*) from es.events where stream_version = 1 and stream_id like $1",
        _TEACHERS,
    )
    return int(count or 0)


async def _page(store: EventStore, after: str, chunk_size: int) -> list[str]:
    rows = await store.pool.fetch(
        """select stream_id from es.events
           where stream_id > $1 and stream_version = 1 and stream_id like $2
           order by stream_id limit $3""",
        after,
        _TEACHERS,
        chunk_size,
    )
    return [row["stream_id"] for row in rows]


async def _read(store: EventStore, streams: Sequence[str]) -> dict[str, list[tuple[int, Event]]]:
    rows = await store.pool.fetch(
        """select stream_id, stream_version, event_type, schema_version, data from es.events
           where stream_id = any($1::text[]) order by stream_id, stream_version""",
        list(streams),
    )
    found: dict[str, list[tuple[int, Event]]] = {}
    for row in rows:
        event = REGISTRY.decode(row["event_type"], row["schema_version"], json.loads(row["data"]))
        found.setdefault(row["stream_id"], []).append((row["stream_version"], event))
    return found


class _Batch:
    def __init__(
        self,
        store: EventStore,
        policy: EntitlementPolicyPublished,
        run: GrantRun,
        metadata: Metadata,
        progress: Progress | None,
    ) -> None:
        self.store = store
        self.policy = policy
        self.run = run
        self.metadata = metadata
        self.progress = progress
        self.schools: dict[str, School] = {}

    async def school_facts(self, urns: set[str]) -> None:
        missing = sorted(urns - self.schools.keys())
        if not missing:
            return
        read = await _read(self.store, [school_stream(u) for u in missing])
        for urn in missing:
            events = read.get(school_stream(urn), [])
            self.schools[urn] = school_decider.fold(e for _, e in events)

    async def chunk(self, streams: list[str]) -> None:
        for attempt in range(1, ATTEMPTS + 1):
            read = await _read(self.store, streams)
            teachers = {
                stream: (events[-1][0], teacher_decider.fold(e for _, e in events))
                for stream, events in read.items()
            }
            await self.school_facts({t.school_urn for _, t in teachers.values()})
            writes: list[StreamWrite] = []
            already = not_eligible = 0
            for stream, (version, teacher) in teachers.items():
                outcome = self.decide(teacher)
                if outcome == "already":
                    already += 1
                elif outcome == "not_eligible":
                    not_eligible += 1
                elif isinstance(outcome, EntitlementGranted):
                    writes.append(StreamWrite(stream, version, [grant_event(outcome)]))
            try:
                if writes:
                    await self.store.append_many(writes, self.metadata)
            except ConcurrencyError:
                if attempt == ATTEMPTS:
                    raise
                self.run.retries += 1
                continue
            self.run.teachers += len(streams)
            self.run.granted += len(writes)
            self.run.already_granted += already
            self.run.not_eligible += not_eligible
            self.run.chunks += 1
            if self.progress is not None:
                self.progress(self.run)
            return

    def decide(self, teacher: Teacher) -> EntitlementGranted | str:
        school = self.schools.get(teacher.school_urn, School())
        command = GrantEntitlement(self.policy.academic_year, self.policy, school.pp50)
        try:
            [granted] = teacher_decider.decide(command, teacher)
        except RuleBroken:
            current = teacher.grants.get(self.policy.academic_year)
            if current is not None and current.policy_version == self.policy.policy_version:
                return "already"
            return "not_eligible"
        assert isinstance(granted, EntitlementGranted)
        return granted


async def current_policy(store: EventStore, academic_year: str) -> EntitlementPolicyPublished:
    policy = (await load(store, policy_stream(academic_year), policy_decider)).state.current
    if policy is None:
        raise RuleBroken(
            f"no entitlement policy is published for {academic_year}",
            Rule.NOT_FOUND,
            "academic_year",
        )
    return policy


async def grant_year(
    store: EventStore,
    academic_year: str,
    metadata: Metadata | None = None,
    *,
    chunk_size: int = DEFAULT_CHUNK,
    workers: int = DEFAULT_WORKERS,
    progress: Progress | None = None,
    count: bool = True,
) -> GrantRun:
    """Grant ``academic_year``'s entitlement, under its current policy, to every active teacher.

    ``progress`` is called after each chunk with the counts so far (``total`` is the number of
    teacher streams when the run started, for rate and ETA; ``count=False`` skips counting).
    """
    workers = max(1, workers)
    policy = await current_policy(store, academic_year)
    metadata = metadata or Metadata(
        actor="grants", correlation_id=f"grant-{academic_year}-v{policy.policy_version}"
    )
    run = GrantRun(academic_year, policy.policy_version)
    if count:
        run.total = await count_teachers(store)
    if progress is not None:
        progress(run)
    batch = _Batch(store, policy, run, metadata, progress)
    queue: asyncio.Queue[list[str] | None] = asyncio.Queue(maxsize=workers * 2)

    async def work() -> None:
        while (streams := await queue.get()) is not None:
            await batch.chunk(streams)

    async def feed() -> None:
        after = _FIRST
        while streams := await _page(store, after, chunk_size):
            await queue.put(streams)
            after = streams[-1]
        for _ in range(workers):
            await queue.put(None)

    try:
        async with asyncio.TaskGroup() as group:  # one failure cancels the rest
            group.create_task(feed())
            for _ in range(workers):
                group.create_task(work())
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    run.finished = time.monotonic()
    return run


# --- one teacher at a time: the HTTP grant and the grant at registration --------------------


async def grant_teacher(
    store: EventStore, trn: str, academic_year: str, metadata: Metadata
) -> list[Envelope]:
    """Grant one teacher's entitlement for a year (the batch's rules and event id)."""

    async def plan() -> list[StreamWrite]:
        teacher = await load(store, teacher_stream(trn), teacher_decider)
        policy = await load(store, policy_stream(academic_year), policy_decider)
        school = await load(store, school_stream(teacher.state.school_urn), school_decider)
        command = GrantEntitlement(academic_year, policy.state.current, school.state.pp50)
        decided = teacher_decider.decide(command, teacher.state)
        return [StreamWrite(teacher.stream_id, teacher.version, stored(decided))]

    return await execute(store, plan, metadata)


def with_registration_grant(
    before: Teacher,
    decided: Sequence[Event],
    policy: EntitlementPolicyPublished | None,
    school_pp50: bool,
) -> list[Event]:
    """``decided`` (a registration), followed by the teacher's grant under ``policy`` (the
    policy of the academic year of ``registered_on``, if published). Pure: for importers too."""
    state = before
    for event in decided:
        state = teacher_decider.evolve(state, event)
    events = list(decided)
    if policy is not None and state.registered and not before.registered:
        command = GrantEntitlement(policy.academic_year, policy, school_pp50)
        # nothing to grant (e.g. registered after the year): the batch would agree
        with contextlib.suppress(RuleBroken):
            events.extend(teacher_decider.decide(command, state))
    return events


def registration_year(decided: Sequence[Event]) -> str | None:
    for event in decided:
        if isinstance(event, TeacherRegistered):
            return academic_year_of(event.registered_on)
    return None


async def registration_write(
    store: EventStore, teacher: Loaded[Teacher], decided: Sequence[Event], school_pp50: bool
) -> StreamWrite:
    """The teacher stream's write for a registration: ``decided`` (``TeacherRegistered``)
    followed, when a policy is published for the academic year of ``registered_on``, by the
    teacher's grant for that year (pro rata when registered after the policy took effect)."""
    year = registration_year(decided)
    policy = None
    if year is not None:
        policy = (await load(store, policy_stream(year), policy_decider)).state.current
    events = with_registration_grant(teacher.state, decided, policy, school_pp50)
    return StreamWrite(teacher.stream_id, teacher.version, stored(events))
