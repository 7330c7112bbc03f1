"""The catalogue's application service: load streams, decide, append (retrying on conflicts).

A command reading several streams writes only one; on a version conflict the whole plan runs
again on fresh state (``cpd_eventstore.application.execute``), so of two bookings racing for a
cohort's last place the loser re-decides against the full cohort and is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from catalogue import queries
from catalogue.domain import (
    BadgeCourse,
    BookPlace,
    Cohort,
    CohortContext,
    Course,
    CourseCommand,
    FeedbackContext,
    ListCourse,
    Listing,
    Provider,
    ProviderCommand,
    RevokeBadge,
    ScheduleCohort,
    SubmitFeedback,
    cohort_decider,
    course_decider,
    feedback_decider,
    listing_decider,
    provider_decider,
)
from cpd_events import Envelope, Metadata
from cpd_events.decider import Rule, RuleBroken
from cpd_eventstore.application import Loaded, execute, handle, load
from cpd_eventstore.db import Pool
from cpd_eventstore.store import EventStore, StreamWrite


def today() -> date:
    return datetime.now(UTC).date()


def provider_stream(provider_id: str) -> str:
    return f"provider-{provider_id}"


def course_stream(course_id: str) -> str:
    return f"course-{course_id}"


def cohort_stream(cohort_id: str) -> str:
    return f"cohort-{cohort_id}"


def feedback_stream(course_id: str, trn: str) -> str:
    """One stream per (course, teacher): a TRN is 7 digits, so the id parses unambiguously."""
    return f"feedback-{course_id}-{trn}"


# --- providers --------------------------------------------------------------------------------


async def change_provider(
    store: EventStore, command: ProviderCommand, metadata: Metadata
) -> list[Envelope]:
    """Register, update or deactivate a provider (its own stream only)."""
    stream = provider_stream(command.provider_id)
    return await handle(store, stream, provider_decider, command, metadata)


# --- courses ----------------------------------------------------------------------------------


async def list_course(store: EventStore, command: ListCourse, metadata: Metadata) -> list[Envelope]:
    """Read the provider's stream, write the course's: a retry re-reads both."""

    async def plan() -> Sequence[StreamWrite]:
        provider = await load(store, provider_stream(command.provider_id), provider_decider)
        course = await load(store, course_stream(command.course_id), course_decider)
        state = Listing(provider=provider.state, course=course.state)
        return [course.write(listing_decider.decide(command, state))]

    return await execute(store, plan, metadata)


async def change_course(
    store: EventStore, command: CourseCommand, metadata: Metadata
) -> list[Envelope]:
    """Update, retire, badge a course or revoke its badge (its own stream only)."""
    stream = course_stream(command.course_id)
    return await handle(store, stream, course_decider, command, metadata)


async def badge_course(
    store: EventStore,
    course_id: str,
    level: str,
    expires_on: date,
    metadata: Metadata,
    on: date | None = None,
) -> list[Envelope]:
    command = BadgeCourse(
        course_id=course_id, level=level, expires_on=expires_on, today=on or today()
    )
    return await change_course(store, command, metadata)


async def revoke_badge(
    store: EventStore, course_id: str, reason: str, metadata: Metadata, on: date | None = None
) -> list[Envelope]:
    command = RevokeBadge(course_id=course_id, reason=reason, today=on or today())
    return await change_course(store, command, metadata)


# --- cohorts ----------------------------------------------------------------------------------


async def _cohort_write(
    store: EventStore, cohort_id: str, course_id: str | None, command: ScheduleCohort | BookPlace
) -> StreamWrite:
    cohort = await load(store, cohort_stream(cohort_id), cohort_decider)
    course_id = course_id or (cohort.state.cohort.course_id if cohort.state.cohort else None)
    course = await load(store, course_stream(course_id), course_decider) if course_id else None
    state = CohortContext(course=course.state if course else None, cohort=cohort.state.cohort)
    return cohort.write(cohort_decider.decide(command, state))


async def schedule_cohort(
    store: EventStore, command: ScheduleCohort, metadata: Metadata
) -> list[Envelope]:
    async def plan() -> Sequence[StreamWrite]:
        return [await _cohort_write(store, command.cohort_id, command.course_id, command)]

    return await execute(store, plan, metadata)


async def book_place(store: EventStore, command: BookPlace, metadata: Metadata) -> list[Envelope]:
    """Capacity is guarded by the cohort stream's expected version: exactly one of two racing
    bookings for the last place is appended; the other re-decides and is refused."""

    async def plan() -> Sequence[StreamWrite]:
        return [await _cohort_write(store, command.cohort_id, None, command)]

    return await execute(store, plan, metadata)


# --- feedback ---------------------------------------------------------------------------------


async def submit_feedback(
    store: EventStore,
    pool: Pool,
    course_id: str,
    trn: str,
    rating: int,
    impact_note: str,
    metadata: Metadata,
) -> list[Envelope]:
    """Whether the teacher completed the course comes from the local completions table, kept
    from entitlement's ``CPDCompleted`` events."""

    async def plan() -> Sequence[StreamWrite]:
        command = SubmitFeedback(
            course_id=course_id,
            trn=trn,
            rating=rating,
            impact_note=impact_note,
            completed=await queries.has_completed(pool, trn, course_id),
        )
        feedback = await load(store, feedback_stream(course_id, trn), feedback_decider)
        course = await load(store, course_stream(course_id), course_decider)
        state = FeedbackContext(course=course.state, submitted=feedback.state.submitted)
        return [feedback.write(feedback_decider.decide(command, state))]

    return await execute(store, plan, metadata)


# --- current state from the streams -----------------------------------------------------------


async def provider_of(store: EventStore, provider_id: str) -> Loaded[Provider]:
    loaded = await load(store, provider_stream(provider_id), provider_decider)
    if loaded.state is None:
        raise RuleBroken(f"provider {provider_id} is not registered", Rule.NOT_FOUND)
    return Loaded(loaded.stream_id, loaded.state, loaded.version)


async def course_of(store: EventStore, course_id: str) -> Loaded[Course]:
    loaded = await load(store, course_stream(course_id), course_decider)
    if loaded.state is None:
        raise RuleBroken(f"course {course_id} is not listed", Rule.NOT_FOUND)
    return Loaded(loaded.stream_id, loaded.state, loaded.version)


async def cohort_of(store: EventStore, cohort_id: str) -> Loaded[Cohort]:
    loaded = await load(store, cohort_stream(cohort_id), cohort_decider)
    if loaded.state.cohort is None:
        raise RuleBroken(f"cohort {cohort_id} is not scheduled", Rule.NOT_FOUND)
    return Loaded(loaded.stream_id, loaded.state.cohort, loaded.version)
