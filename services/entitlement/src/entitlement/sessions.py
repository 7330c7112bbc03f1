"""Mentoring as CPD hours: a consumer of ``cpd.mentoring.events``.

- ``MentoringSessionLogged`` -> ``HoursLogged`` (activity ``mentoring``) for the mentor and for
  the mentee, both in one append (all or nothing);
- ``MentorTrainingCompleted`` -> ``HoursLogged`` (activity ``course``) for the mentor. A
  training's hours span the course, so they do not count against the day's 12-hour cap.

Exactly once. The handler runs inside the idempotent consumer's transaction and appends to the
teacher streams on the same connection, so the hours and the consumer's progress commit
together: a redelivered event is a duplicate to the consumer and changes nothing. Beyond that,
every event appended has a deterministic id (``uuid5`` of the mentoring event's id, the teacher
and its place in the decision), so a concurrent duplicate appends nothing (the store ignores an
event id it holds), and a log id already on the teacher's stream (``ms-...``, ``mt-...``) is
skipped silently, e.g. after a consumer's progress was lost and the topic replayed.

The teacher decider decides, with its rules. When it refuses:

- an unknown teacher (``not_found``): the handler raises, so the event goes to the dead letters
  with the reason and is retried by an operator (``cpd dead-letters retry``) once the teacher is
  registered; later events of the mentor's stream wait behind it, in order;
- anything else (the teacher left the profession, the day would exceed 12 hours): that teacher's
  hours are skipped with a warning line (``entitlement.mentoring_hours_skipped``) and the other
  teacher's are logged; the session stays in mentoring and in reporting's sessions section.

Caveat for the owner: the consumer's transaction may already hold a transaction id (from an
earlier event of the batch) when it takes a teacher stream's lock, so an HTTP append to the same
teacher that committed just before can carry a larger transaction id than these hours; the relay,
which publishes in transaction-id order, may then publish this teacher's two events out of
version order. Consumers park the early one and apply both in order (no loss, a brief park).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date

import structlog

from cpd_events import REGISTRY, Envelope, Event, Metadata, NewEvent
from cpd_events.decider import Rule, RuleBroken
from cpd_events.mentoring_events import MentoringSessionLogged, MentorTrainingCompleted
from cpd_events.types import ActivityType, academic_year_of
from cpd_eventstore import ConcurrencyError, EventStore, StreamWrite
from cpd_eventstore.consumer import Handler
from cpd_eventstore.db import Connection
from entitlement.domain.teacher import (
    MENTOR_TRAINING_SOURCE,
    MENTORING_SESSION_SOURCE,
    LogHours,
    Teacher,
    teacher_decider,
    teacher_stream,
)
from entitlement.teacher_app import today

log = structlog.get_logger(__name__)

#: Namespace of the ids of events appended for mentoring: uuid5(HOURS, "<event id>:<trn>:<n>").
HOURS = uuid.UUID("0b7f6f4e-6c55-4d6a-8d0e-3f1c9a52e7d1")
ACTOR = "entitlement.mentoring-hours"
ATTEMPTS = 5
MAX_ID = 64  # an Identifier's length


def log_id(prefix: str, key: str, role: str) -> str:
    """``<prefix>-<key>-<role>``, or with ``key`` hashed when that would exceed 64 characters."""
    candidate = f"{prefix}-{key}-{role}"
    if len(candidate) <= MAX_ID:
        return candidate
    return f"{prefix}-{hashlib.sha256(key.encode()).hexdigest()[:24]}-{role}"


def hours_of_session(event: MentoringSessionLogged) -> list[tuple[str, LogHours]]:
    """The hours a session gives its mentor and its mentee.

    Session ids are unique per mentor only, so the log ids carry the mentor's TRN:
    ``ms-<mentor trn>-<session id>-mentor|mentee``.
    """
    key = f"{event.trn}-{event.session_id}"
    about = f"{event.programme.value.replace('_', ' ')}: {event.focus}"
    return [
        (
            trn,
            LogHours(
                log_id=log_id("ms", key, role),
                academic_year=event.academic_year,
                hours=event.hours,
                activity_type=ActivityType.MENTORING,
                activity_date=event.held_on,
                description=f"Mentoring session as {role} ({other}), {about}"[:4000],
                source=f"{MENTORING_SESSION_SOURCE}:{event.trn}:{event.session_id}:{role}",
            ),
        )
        for trn, role, other in (
            (event.trn, "mentor", f"mentee {event.mentee_trn}"),
            (event.mentee_trn, "mentee", f"mentor {event.trn}"),
        )
    ]


def hours_of_training(event: MentorTrainingCompleted) -> list[tuple[str, LogHours]]:
    day = event.completed_on
    return [
        (
            event.trn,
            LogHours(
                log_id=log_id("mt", f"{event.course_id}-{day:%Y%m%d}", "mentor"),
                academic_year=academic_year_of(day),
                hours=event.hours,
                activity_type=ActivityType.COURSE,
                activity_date=day,
                description=f"Mentor training completed: course {event.course_id}",
                source=f"{MENTOR_TRAINING_SOURCE}:{event.trn}:{event.course_id}:{day}",
            ),
        )
    ]


def mentoring_hours(
    store_of: Callable[[], EventStore], clock: Callable[[], date] = today
) -> Handler:
    """The consumer's handler; ``store_of`` gives the service's event store once it runs."""

    async def handle(conn: Connection, envelope: Envelope, event: Event) -> None:
        match event:
            case MentoringSessionLogged():
                wanted = hours_of_session(event)
            case MentorTrainingCompleted():
                wanted = hours_of_training(event)
            case _:
                return
        # mentoring refused future dates with its own clock: a skew between the two services'
        # clocks must not refuse the hours here
        day = wanted[0][1].activity_date
        await log_hours(store_of(), conn, envelope, wanted, max(clock(), day))

    return handle


async def log_hours(
    store: EventStore,
    conn: Connection,
    envelope: Envelope,
    wanted: Sequence[tuple[str, LogHours]],
    today: date,
) -> None:
    """Decide and append the hours on ``conn``, re-deciding on a version conflict."""
    meta = Metadata(
        actor=ACTOR,
        correlation_id=envelope.correlation_id[:200],
        causation_id=str(envelope.event_id),
        traceparent=None,
    )
    for attempt in range(1, ATTEMPTS + 1):
        writes = []
        for trn, command in wanted:
            stream = teacher_stream(trn)
            version, state = await _load(conn, stream)
            if command.log_id in state.logs:
                continue  # logged already
            events = _decide(trn, command, state, envelope, today)
            if events:
                writes.append(
                    StreamWrite(
                        stream,
                        version,
                        [
                            NewEvent(
                                event=e,
                                event_id=uuid.uuid5(HOURS, f"{envelope.event_id}:{trn}:{n}"),
                                occurred_at=envelope.occurred_at,
                            )
                            for n, e in enumerate(events)
                        ],
                    )
                )
        if not writes:
            return
        try:
            await store.append_many(writes, meta, connection=conn)
            return
        except ConcurrencyError:
            if attempt == ATTEMPTS:
                raise


def _decide(
    trn: str, command: LogHours, state: Teacher, envelope: Envelope, today: date
) -> Sequence[Event]:
    try:
        return teacher_decider.decide(replace(command, today=today), state)
    except RuleBroken as refused:
        if refused.rule is Rule.NOT_FOUND:
            raise  # unknown teacher: dead letter, retried once they are registered
        log.warning(
            "entitlement.mentoring_hours_skipped",
            trn=trn,
            log_id=command.log_id,
            source=command.source,
            event_id=str(envelope.event_id),
            reason=refused.message,
        )
        return []


async def _load(conn: Connection, stream_id: str) -> tuple[int, Teacher]:
    """A teacher's state and version, read on the consumer's connection (its transaction)."""
    rows = await conn.fetch(
        """select stream_version, event_type, schema_version, data from es.events
           where stream_id = $1 order by stream_version""",
        stream_id,
    )
    state = teacher_decider.fold(
        REGISTRY.decode(row["event_type"], row["schema_version"], json.loads(row["data"]))
        for row in rows
    )
    return (rows[-1]["stream_version"] if rows else 0), state
