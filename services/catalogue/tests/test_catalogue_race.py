"""Racing bookings against the real event store: capacity holds, and losers are refused
(re-decided against the full cohort), never failed by a version conflict."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import pytest

from catalogue import app
from catalogue.domain import BookPlace, ListCourse, RegisterProvider, ScheduleCohort
from cpd_events import Envelope, Metadata
from cpd_events.decider import RuleBroken
from cpd_events.types import CourseKind, ProviderKind
from cpd_eventstore import ConcurrencyError, EventStore, StreamWrite
from cpd_eventstore.db import Connection, Pool

pytestmark = pytest.mark.integration

META = Metadata(actor="test")


class CountingStore(EventStore):
    """The real store, counting the version conflicts it reports."""

    conflicts = 0

    async def append_many(
        self,
        writes: Sequence[StreamWrite],
        metadata: Metadata,
        connection: Connection | None = None,
    ) -> list[Envelope]:
        try:
            return await super().append_many(writes, metadata, connection)
        except ConcurrencyError:
            self.conflicts += 1
            raise


async def test_of_many_racing_bookings_exactly_capacity_win(pool: Pool) -> None:
    store = CountingStore(pool)
    await app.change_provider(
        store, RegisterProvider("hub", "Hub", ProviderKind.TEACHING_SCHOOL_HUB), META
    )
    listing = ListCourse(
        course_id="c",
        provider_id="hub",
        title="C",
        kind=CourseKind.HUB,
        hours=Decimal(6),
        price_pence=0,
    )
    await app.list_course(store, listing, META)
    schedule = ScheduleCohort(
        cohort_id="h",
        course_id="c",
        starts_on=date(2030, 1, 1),
        ends_on=date(2030, 2, 1),
        capacity=2,
    )
    await app.schedule_cohort(store, schedule, META)

    async def book(n: int) -> str:
        command = BookPlace(
            cohort_id="h",
            booking_id=f"b{n}",
            trn=f"{n:07d}",
            school_urn="100000",
            today=date(2029, 12, 1),
        )
        try:
            await app.book_place(store, command, META)
        except RuleBroken as refused:
            return f"{refused.rule.value}: {'full' if 'full' in refused.message else '?'}"
        return "booked"

    outcomes = await asyncio.gather(*(book(n) for n in range(1, 9)))
    assert sorted(outcomes) == ["booked"] * 2 + ["conflict: full"] * 6
    assert store.conflicts > 0  # the race happened, and the retries re-decided
    cohort = await app.cohort_of(store, "h")
    assert (cohort.state.booked, cohort.state.places_left, cohort.version) == (2, 0, 3)
