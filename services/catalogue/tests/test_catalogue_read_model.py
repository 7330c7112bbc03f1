"""The read model against a real PostgreSQL: events in through the idempotent consumer, then
search, uptake, ratings, providers and cohorts out of the query functions."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from catalogue.domain import BadgeStatus
from catalogue.projection import MIGRATIONS, READ_MODEL, project
from catalogue.queries import (
    CourseFilter,
    cohorts_of,
    course_stats,
    has_completed,
    list_providers,
    search_courses,
)
from cpd_events import Envelope, Event
from cpd_events.catalogue_events import (
    CohortPlaceBooked,
    CohortScheduled,
    CourseBadged,
    CourseBadgeRevoked,
    CourseFeedbackSubmitted,
    CourseListed,
    CourseRetired,
    CourseUpdated,
    ProviderDeactivated,
    ProviderRegistered,
    ProviderUpdated,
)
from cpd_events.entitlement_events import CPDApproved, CPDCompleted, CPDRequested
from cpd_events.types import CareerStage, CourseKind, NpqType, ProviderKind, hours
from cpd_eventstore import IdempotentConsumer, migrate
from cpd_eventstore.db import Pool
from cpd_platform.testing import Record, record_of

pytestmark = pytest.mark.integration

TODAY = date(2025, 11, 1)
NOW = datetime(2025, 11, 1, 9, tzinfo=UTC)
NPQH, MATHS, COACHING, OLD = "npqh-ambition", "maths-mastery", "coaching-cc", "old-inset"


class Streams:
    """Numbers events per stream as the store would, and wraps them as consumer records."""

    def __init__(self) -> None:
        self.versions: dict[str, int] = defaultdict(int)
        self.records: list[Record] = []

    def __call__(self, stream_id: str, *events: Event) -> None:
        for event in events:
            self.versions[stream_id] += 1
            envelope = Envelope(
                event_id=uuid4(),
                event_type=event.event_type,
                schema_version=event.schema_version,
                stream_id=stream_id,
                stream_version=self.versions[stream_id],
                occurred_at=NOW,
                recorded_at=NOW,
                correlation_id="c",
                actor="test",
                data=event.model_dump(mode="json"),
            )
            self.records.append(record_of(envelope, offset=len(self.records)))


def course(course_id: str, provider_id: str, kind: CourseKind, **fields: object) -> CourseListed:
    return CourseListed.model_validate(
        {
            "course_id": course_id,
            "provider_id": provider_id,
            "title": course_id,
            "kind": kind,
            "hours": hours(10),
            "price_pence": 0,
            **fields,
        }
    )


def catalogue_history() -> Streams:
    s = Streams()
    s(
        "provider-ambition",
        ProviderRegistered(
            provider_id="ambition", name="Ambition Institute", kind=ProviderKind.NPQ_LEAD_PROVIDER
        ),
    )
    s(
        "provider-hub",
        ProviderRegistered(provider_id="hub", name="Hub", kind=ProviderKind.TEACHING_SCHOOL_HUB),
        ProviderUpdated(provider_id="hub", name="Maths Hub North"),
    )
    s(
        "provider-cc",
        ProviderRegistered(
            provider_id="cc", name="Chartered College", kind=ProviderKind.CHARTERED_COLLEGE
        ),
        ProviderDeactivated(provider_id="cc", reason="stopped offering courses"),
    )
    s(
        f"course-{NPQH}",
        course(
            NPQH,
            "ambition",
            CourseKind.NPQ,
            title="NPQ for Headship",
            npq_type=NpqType.NPQH,
            phases=["primary", "secondary"],
            career_stages=[CareerStage.SENIOR_LEADER],
            government_funded=True,
            evidence_summary="Leading school culture and curriculum",
        ),
        CourseBadged(course_id=NPQH, level="gold", expires_on=date(2026, 8, 31)),
    )
    s(
        f"course-{MATHS}",
        course(
            MATHS,
            "hub",
            CourseKind.HUB,
            title="Teaching for Mastery",
            subjects=["Mathematics"],
            phases=["Primary"],
            career_stages=[CareerStage.EXPERIENCED],
            evidence_summary="Mastery approaches in primary mathematics classrooms",
        ),
        CourseUpdated(course_id=MATHS, subjects=["Mathematics", "Numeracy"]),
        CourseBadged(course_id=MATHS, level="silver", expires_on=date(2025, 10, 31)),  # lapsed
    )
    s(
        f"course-{COACHING}",
        course(
            COACHING,
            "cc",
            CourseKind.COACHING,
            title="Instructional coaching for early career teachers",
            career_stages=[CareerStage.ECT_YEAR_1],
            price_pence=45_000,
        ),
        CourseBadged(course_id=COACHING, level="gold", expires_on=date(2027, 1, 1)),
        CourseBadgeRevoked(course_id=COACHING, reason="evidence not renewed"),
    )
    s(
        f"course-{OLD}",
        course(OLD, "hub", CourseKind.INSET, title="Old INSET on coaching", price_pence=5_000),
        CourseRetired(course_id=OLD, reason="replaced"),
    )
    s(
        "cohort-npqh-autumn",
        CohortScheduled(
            cohort_id="npqh-autumn",
            course_id=NPQH,
            starts_on=date(2025, 11, 10),
            ends_on=date(2027, 3, 31),
            capacity=3,
        ),
        *(
            CohortPlaceBooked(
                cohort_id="npqh-autumn",
                course_id=NPQH,
                booking_id=f"b{n}",
                trn=f"111111{n}",
                school_urn="100000",
            )
            for n in (1, 2)
        ),
    )
    for trn, rating in (("1111111", 4), ("1111112", 5)):
        s(
            f"feedback-{NPQH}-{trn}",
            CourseFeedbackSubmitted(course_id=NPQH, trn=trn, rating=rating, impact_note="Useful"),
        )
    # entitlement: two teachers request the NPQ (the same request id, per teacher), one is
    # approved and completes it
    request = {"school_urn": "100000", "request_id": "req-1"}
    s(
        "teacher-1111111",
        CPDRequested(
            **request,
            trn="1111111",
            course_id=NPQH,
            academic_year="2025/26",
            cost_pence=0,
            expected_hours=hours(90),
        ),
        CPDApproved(**request, trn="1111111", approved_by="CPD lead", cost_pence=0),
        CPDCompleted(**request, trn="1111111", course_id=NPQH, completed_on=date(2025, 10, 20)),
    )
    s(
        "teacher-2222222",
        CPDRequested(
            **request,
            trn="2222222",
            course_id=NPQH,
            academic_year="2025/26",
            cost_pence=0,
            expected_hours=hours(90),
        ),
    )
    return s


@pytest.fixture
async def read_model(pool: Pool) -> Pool:
    await migrate(pool, "catalogue", MIGRATIONS)
    consumer = IdempotentConsumer(pool, f"catalogue.{READ_MODEL}", project)
    history = catalogue_history()
    outcome = await consumer.handle_batch(history.records)
    assert (outcome.applied, outcome.failed, outcome.parked) == (len(history.records), 0, 0)
    again = await consumer.handle_batch(history.records)  # redelivered: changes nothing
    assert (again.applied, again.duplicates) == (0, len(history.records))
    return pool


async def found(pool: Pool, **where: Any) -> list[str]:
    page = await search_courses(pool, CourseFilter(**where), TODAY)
    assert page.total == len(page.items)
    return sorted(item.course_id for item in page.items)


async def test_search_filters(read_model: Pool) -> None:
    pool = read_model
    assert await found(pool) == sorted([NPQH, MATHS, COACHING])  # retired ones left out
    assert await found(pool, include_retired=True) == sorted([NPQH, MATHS, COACHING, OLD])
    assert await found(pool, kind=CourseKind.NPQ) == [NPQH]
    assert await found(pool, npq_type=NpqType.NPQH) == [NPQH]
    assert await found(pool, subject="mathematics") == [MATHS]  # case does not matter
    assert await found(pool, subject="numeracy") == [MATHS]  # as updated
    assert await found(pool, subject="history") == []
    assert await found(pool, phase="PRIMARY") == sorted([NPQH, MATHS])
    assert await found(pool, career_stage=CareerStage.ECT_YEAR_1) == [COACHING]
    assert await found(pool, badged=True) == [NPQH]
    assert await found(pool, badged=False) == sorted([MATHS, COACHING])
    assert await found(pool, badge_status=BadgeStatus.LAPSED) == [MATHS]
    assert await found(pool, badge_status=BadgeStatus.REVOKED) == [COACHING]
    assert await found(pool, max_price_pence=0) == sorted([NPQH, MATHS])
    assert await found(pool, max_price_pence=45_000) == sorted([NPQH, MATHS, COACHING])
    assert await found(pool, government_funded=True) == [NPQH]
    assert await found(pool, provider_id="cc") == [COACHING]
    assert await found(pool, q="coaching") == [COACHING]
    assert await found(pool, q="coaching", include_retired=True) == sorted([COACHING, OLD])
    assert await found(pool, q="mathematics mastery") == [MATHS]  # stemmed, any order
    assert await found(pool, q="NPQH") == [NPQH]
    assert await found(pool, q="the") == sorted([NPQH, MATHS, COACHING])  # stop words only
    assert await found(pool, q='"early career" -mastery') == [COACHING]  # web search syntax
    assert await found(pool, q="headship", kind=CourseKind.HUB) == []  # filters combine


async def test_search_results_are_flagged_and_paged(read_model: Pool) -> None:
    page = await search_courses(read_model, CourseFilter(include_retired=True), TODAY, limit=2)
    assert (page.total, len(page.items)) == (4, 2)
    rest = await search_courses(
        read_model, CourseFilter(include_retired=True), TODAY, limit=2, offset=2
    )
    assert {i.course_id for i in page.items} | {i.course_id for i in rest.items} == {
        NPQH,
        MATHS,
        COACHING,
        OLD,
    }
    items = {i.course_id: i for i in page.items + rest.items}
    assert items[OLD].retired
    assert not items[NPQH].retired
    assert {cid: i.badge_status for cid, i in items.items()} == {
        NPQH: BadgeStatus.BADGED,
        MATHS: BadgeStatus.LAPSED,
        COACHING: BadgeStatus.REVOKED,
        OLD: BadgeStatus.NONE,
    }
    assert (items[MATHS].provider_name, items[COACHING].provider_active) == (
        "Maths Hub North",
        False,
    )
    # the same badge was valid the day it expired
    before = await search_courses(read_model, CourseFilter(badged=True), date(2025, 10, 31))
    assert {i.course_id for i in before.items} == {NPQH, MATHS}


async def test_uptake_and_rating(read_model: Pool) -> None:
    stats = await course_stats(read_model, NPQH)
    assert stats is not None
    assert (stats.requests, stats.approvals, stats.completions, stats.places_booked) == (
        2,
        1,
        1,
        2,
    )
    assert (stats.rating_count, stats.rating_average) == (2, Decimal("4.50"))
    quiet = await course_stats(read_model, MATHS)
    assert quiet is not None
    assert (quiet.requests, quiet.rating_count, quiet.rating_average) == (0, 0, None)
    assert await course_stats(read_model, "no-such-course") is None


async def test_providers_cohorts_and_completions(read_model: Pool) -> None:
    everyone = await list_providers(read_model)
    assert [p.provider_id for p in everyone] == ["ambition", "cc", "hub"]  # by name
    [hub] = await list_providers(read_model, kind=ProviderKind.TEACHING_SCHOOL_HUB)
    assert (hub.name, hub.courses) == ("Maths Hub North", 1)  # the retired one not counted
    assert [p.provider_id for p in await list_providers(read_model, active=False)] == ["cc"]

    [cohort] = await cohorts_of(read_model, NPQH)
    assert (cohort.capacity, cohort.booked, cohort.places_left) == (3, 2, 1)

    assert await has_completed(read_model, "1111111", NPQH)
    assert not await has_completed(read_model, "2222222", NPQH)
