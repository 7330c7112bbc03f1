"""Mentoring sessions and mentor training become hours, exactly once: the service's consumer
handler driven through the real idempotent consumer, on a real PostgreSQL and a real event store
sharing one pool."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from cpd_events import REGISTRY, Envelope, Event, Metadata, NewEvent
from cpd_events.entitlement_events import EntitlementGranted, HoursLogged, MinimumEntitlementMet
from cpd_events.mentoring_events import (
    MentorAssigned,
    MentoringSessionLogged,
    MentorTrainingCompleted,
    session_hours,
)
from cpd_events.registry_events import TeacherLeftProfession, TeacherRegistered
from cpd_events.types import ActivityType, CareerStage, MentoringProgramme, hours
from cpd_eventstore import EventStore, IdempotentConsumer, StreamWrite, list_dead_letters
from cpd_eventstore.db import Connection, Pool
from cpd_platform.testing import record_of
from entitlement.sessions import HOURS, log_id, mentoring_hours

pytestmark = pytest.mark.integration

MENTOR, MENTEE, SCHOOL = "7654321", "1234567", "100000"
TODAY = date(2026, 11, 22)
CONSUMER = "entitlement.mentoring-hours"


async def register(store: EventStore, trn: str, *more: Event) -> None:
    teacher = TeacherRegistered(
        trn=trn,
        school_urn=SCHOOL,
        given_name="T",
        family_name=trn,
        career_stage=CareerStage.EXPERIENCED,
        fte=Decimal(100),
        registered_on=date(2025, 9, 1),
    )
    events = [NewEvent(event=e) for e in (teacher, *more)]
    await store.append(f"teacher-{trn}", 0, events, Metadata(actor="test"))


def envelope(event: Event, version: int = 1, stream: str = f"mentor-{MENTOR}") -> Envelope:
    now = datetime(2025, 10, 6, 16, tzinfo=UTC)
    return Envelope(
        event_id=uuid.uuid4(),
        event_type=event.event_type,
        schema_version=event.schema_version,
        stream_id=stream,
        stream_version=version,
        occurred_at=now,
        recorded_at=now,
        correlation_id="corr-1",
        actor="mentoring",
        data=event.model_dump(mode="json"),
    )


def session(session_id: str = "s-1", minutes: int = 50, mentee: str = MENTEE) -> Envelope:
    held_on = date(2025, 10, 6)
    return envelope(
        MentoringSessionLogged(
            session_id=session_id,
            assignment_id="asg-1",
            trn=MENTOR,
            mentee_trn=mentee,
            school_urn=SCHOOL,
            mentor_school_urn=SCHOOL,
            programme=MentoringProgramme.EARLY_CAREER_INDUCTION,
            held_on=held_on,
            minutes=minutes,
            hours=session_hours(minutes),
            focus="Behaviour",
            academic_year="2025/26",
        )
    )


def consumer(pool: Pool, store: EventStore, name: str = CONSUMER) -> IdempotentConsumer:
    return IdempotentConsumer(pool, name, mentoring_hours(lambda: store, clock=lambda: TODAY))


async def hours_of(store: EventStore, trn: str) -> list[Event]:
    """The events after registration on a teacher's stream."""
    return [REGISTRY.load(e) for e in await store.read_stream(f"teacher-{trn}", after_version=1)]


async def test_a_session_delivered_twice_logs_hours_once_for_mentor_and_mentee(
    pool: Pool, store: EventStore
) -> None:
    await register(store, MENTOR)
    await register(store, MENTEE)
    delivered = session()

    first = await consumer(pool, store).handle_batch([record_of(delivered)])
    again = await consumer(pool, store).handle_batch([record_of(delivered, offset=1)])
    # progress lost (another consumer name, a replayed topic): the log ids are on the streams
    replayed = await consumer(pool, store, "replay").handle_batch([record_of(delivered)])

    assert (first.applied, again.duplicates, replayed.applied) == (1, 1, 1)
    [mentor] = await hours_of(store, MENTOR)
    [mentee] = await hours_of(store, MENTEE)
    assert mentor == HoursLogged(
        log_id=f"ms-{MENTOR}-s-1-mentor",
        trn=MENTOR,
        school_urn=SCHOOL,
        academic_year="2025/26",
        hours=hours("0.83"),
        activity_type=ActivityType.MENTORING,
        activity_date=date(2025, 10, 6),
        description=f"Mentoring session as mentor (mentee {MENTEE}), early career induction:"
        " Behaviour",
        source=f"mentoring-session:{MENTOR}:s-1:mentor",
    )
    assert isinstance(mentee, HoursLogged)
    assert (mentee.log_id, mentee.activity_type, mentee.hours) == (
        f"ms-{MENTOR}-s-1-mentee",
        ActivityType.MENTORING,
        hours("0.83"),
    )
    [stored] = await store.read_stream(f"teacher-{MENTEE}", after_version=1)
    assert stored.event_id == uuid.uuid5(HOURS, f"{delivered.event_id}:{MENTEE}:0")
    assert (stored.actor, stored.causation_id) == (CONSUMER, str(delivered.event_id))


async def test_a_concurrent_duplicate_appends_nothing(pool: Pool, store: EventStore) -> None:
    await register(store, MENTOR)
    await register(store, MENTEE)
    delivered = session()

    outcomes = await asyncio.gather(
        *(consumer(pool, store, f"c{n}").handle_batch([record_of(delivered)]) for n in range(4))
    )

    assert all(o.applied == 1 and o.failed == 0 for o in outcomes)
    assert len(await hours_of(store, MENTOR)) == len(await hours_of(store, MENTEE)) == 1


async def test_sessions_for_one_mentee_from_two_mentors_with_the_same_session_id(
    pool: Pool, store: EventStore
) -> None:
    other = "7000001"
    await register(store, MENTOR)
    await register(store, other)
    await register(store, MENTEE)
    mine = session()
    theirs = envelope(
        MentoringSessionLogged.model_validate(
            {**mine.data, "trn": other, "mentor_school_urn": SCHOOL}
        ),
        stream=f"mentor-{other}",
    )

    await consumer(pool, store).handle_batch([record_of(mine), record_of(theirs)])

    assert [e.log_id for e in await hours_of(store, MENTEE)] == [  # type: ignore[attr-defined]
        f"ms-{MENTOR}-s-1-mentee",
        f"ms-{other}-s-1-mentee",
    ]


async def test_reaching_the_minimum_through_a_session_records_it(
    pool: Pool, store: EventStore
) -> None:
    grant = EntitlementGranted(
        trn=MENTEE,
        school_urn=SCHOOL,
        academic_year="2025/26",
        policy_version=1,
        hours=hours("0.5"),
        funding_pence=0,
    )
    await register(store, MENTOR)
    await register(store, MENTEE, grant)

    await consumer(pool, store).handle_batch([record_of(session())])

    events = [REGISTRY.load(e) for e in await store.read_stream(f"teacher-{MENTEE}", 2)]
    assert [type(e) for e in events] == [HoursLogged, MinimumEntitlementMet]


async def test_an_unknown_teacher_dead_letters_the_session_and_nothing_is_logged(
    pool: Pool, store: EventStore
) -> None:
    await register(store, MENTOR)

    outcome = await consumer(pool, store).handle_batch([record_of(session())])

    assert outcome.failed == 1
    [dead] = await list_dead_letters(pool, CONSUMER)
    assert "register the teacher first" in dead.error
    assert await hours_of(store, MENTOR) == []  # all or nothing: the mentor waits too
    await register(store, MENTEE)
    retried, error = await consumer(pool, store).retry(dead.id)
    assert (retried.applied, error) == (1, None)
    assert len(await hours_of(store, MENTOR)) == len(await hours_of(store, MENTEE)) == 1


async def test_a_teacher_who_left_is_skipped_and_the_other_logged(
    pool: Pool, store: EventStore
) -> None:
    left = TeacherLeftProfession(trn=MENTEE, school_urn=SCHOOL, left_on=date(2025, 10, 1))
    await register(store, MENTOR)
    await register(store, MENTEE, left)

    outcome = await consumer(pool, store).handle_batch([record_of(session())])

    assert (outcome.applied, outcome.failed) == (1, 0)
    assert len(await hours_of(store, MENTOR)) == 1
    assert await hours_of(store, MENTEE) == [left]


async def test_a_day_over_12_hours_is_skipped_for_that_teacher(
    pool: Pool, store: EventStore
) -> None:
    await register(store, MENTOR)
    await register(store, MENTEE)
    full_day = [session(f"s-{n}", minutes=480) for n in range(2)]  # 8 h, then 8 h more
    for n, delivered in enumerate(full_day, start=1):
        full_day[n - 1] = delivered.model_copy(update={"stream_version": n})

    outcome = await consumer(pool, store).handle_batch([record_of(e) for e in full_day])

    assert (outcome.applied, outcome.failed) == (2, 0)
    assert len(await hours_of(store, MENTOR)) == len(await hours_of(store, MENTEE)) == 1


async def test_mentor_training_is_course_hours_for_the_mentor_once(
    pool: Pool, store: EventStore
) -> None:
    await register(store, MENTOR)
    trained = envelope(
        MentorTrainingCompleted(
            trn=MENTOR, course_id="mentor-dev", completed_on=date(2025, 10, 6), hours=hours(20)
        )
    )
    assigned = envelope(
        MentorAssigned(
            assignment_id="asg-1",
            trn=MENTOR,
            mentee_trn=MENTEE,
            school_urn=SCHOOL,
            programme=MentoringProgramme.EARLY_CAREER_INDUCTION,
            starts_on=date(2025, 9, 8),
        ),
        version=2,
    )

    await consumer(pool, store).handle_batch([record_of(trained), record_of(assigned)])
    await consumer(pool, store, "replay").handle_batch([record_of(trained)])

    [logged] = await hours_of(store, MENTOR)  # 20 hours: a course, not one day's activity
    assert isinstance(logged, HoursLogged)
    assert (logged.log_id, logged.activity_type, logged.hours) == (
        "mt-mentor-dev-20251006-mentor",
        ActivityType.COURSE,
        hours(20),
    )


class Interfering(EventStore):
    """Another writer logs hours for the mentee just before the consumer's first append."""

    interfered = False

    async def append_many(
        self,
        writes: Sequence[StreamWrite],
        metadata: Metadata,
        connection: Connection | None = None,
    ) -> list[Envelope]:
        if not self.interfered:
            self.interfered = True
            inset = HoursLogged(
                log_id="http-1",
                trn=MENTEE,
                school_urn=SCHOOL,
                academic_year="2025/26",
                hours=hours(1),
                activity_type=ActivityType.INSET,
                activity_date=date(2025, 10, 6),
            )
            await EventStore(self.pool).append(
                f"teacher-{MENTEE}", 1, [NewEvent(event=inset)], Metadata(actor="http")
            )
        return await super().append_many(writes, metadata, connection)


async def test_a_concurrent_change_to_a_teacher_is_decided_again(pool: Pool) -> None:
    await register(EventStore(pool), MENTOR)
    await register(EventStore(pool), MENTEE)
    store = Interfering(pool)

    outcome = await consumer(pool, store).handle_batch([record_of(session())])

    assert (outcome.applied, outcome.failed) == (1, 0)
    assert [e.log_id for e in await hours_of(store, MENTEE)] == [  # type: ignore[attr-defined]
        "http-1",
        f"ms-{MENTOR}-s-1-mentee",
    ]


def test_long_keys_are_hashed_into_identifiers() -> None:
    long = "x" * 64
    assert log_id("ms", f"{MENTOR}-{long}", "mentee").startswith("ms-")
    assert len(log_id("ms", f"{MENTOR}-{long}", "mentee")) <= 64
    assert log_id("ms", "a", "mentor") == "ms-a-mentor"
