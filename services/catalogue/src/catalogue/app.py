"""The catalogue's application service: load streams, decide, append (retrying on conflicts)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from catalogue.domain import (
    BadgeCourse,
    Course,
    ListCourse,
    Listing,
    Provider,
    RegisterProvider,
    RetireCourse,
    course_decider,
    listing_decider,
    provider_decider,
)
from cpd_events import Envelope, Metadata
from cpd_events.decider import Rule, RuleBroken
from cpd_eventstore.application import Loaded, execute, handle, load
from cpd_eventstore.store import EventStore, StreamWrite


def provider_stream(provider_id: str) -> str:
    return f"provider-{provider_id}"


def course_stream(course_id: str) -> str:
    return f"course-{course_id}"


async def register_provider(
    store: EventStore, command: RegisterProvider, metadata: Metadata
) -> list[Envelope]:
    stream = provider_stream(command.provider_id)
    return await handle(store, stream, provider_decider, command, metadata)


async def list_course(store: EventStore, command: ListCourse, metadata: Metadata) -> list[Envelope]:
    """Read the provider's stream, write the course's: a retry re-reads both."""

    async def plan() -> Sequence[StreamWrite]:
        provider = await load(store, provider_stream(command.provider_id), provider_decider)
        course = await load(store, course_stream(command.course_id), course_decider)
        state = Listing(provider=provider.state, course=course.state)
        return [course.write(listing_decider.decide(command, state))]

    return await execute(store, plan, metadata)


async def retire_course(
    store: EventStore, command: RetireCourse, metadata: Metadata
) -> list[Envelope]:
    stream = course_stream(command.course_id)
    return await handle(store, stream, course_decider, command, metadata)


async def badge_course(
    store: EventStore,
    course_id: str,
    level: str,
    expires_on: date,
    metadata: Metadata,
    today: date | None = None,
) -> list[Envelope]:
    command = BadgeCourse(
        course_id=course_id,
        level=level,
        expires_on=expires_on,
        today=today or datetime.now(UTC).date(),
    )
    return await handle(store, course_stream(course_id), course_decider, command, metadata)


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
