"""The reporting projection on a real PostgreSQL, driven through the idempotent consumer."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import httpx
import pytest

from cpd_events import Envelope, Event
from cpd_events.catalogue_events import CourseListed, CourseUpdated, ProviderRegistered
from cpd_events.entitlement_events import (
    CPDApproved,
    CPDCompleted,
    CPDDeclined,
    CPDRequested,
    CPDWithdrawn,
    EntitlementGranted,
    EntitlementPolicyPublished,
    FundingSpent,
    HoursLogCorrected,
    HoursLogged,
)
from cpd_events.mentoring_events import (
    MentorAssigned,
    MentoringSessionLogged,
    MentorshipEnded,
    session_hours,
)
from cpd_events.registry_events import (
    SchoolRegistered,
    TeacherLeftProfession,
    TeacherMovedSchool,
    TeacherRegistered,
)
from cpd_events.types import (
    ActivityType,
    CareerStage,
    CourseKind,
    MentoringProgramme,
    NpqType,
    academic_year_of,
    hours,
)
from cpd_eventstore import list_dead_letters
from cpd_eventstore.db import Pool
from cpd_platform.runtime import ServiceRuntime, create_app
from cpd_platform.settings import ServiceSettings
from cpd_platform.testing import Record, operator_headers, record_of
from reporting.access import POLICY
from reporting.api import router
from reporting.engine import Progress
from reporting.generations import list_generations
from reporting.queries import TeacherRecord, teacher_record
from reporting.testing import apply_records, live_generation

pytestmark = pytest.mark.integration

TEACHER = "1234567"
MENTOR = "7654321"
SCHOOL = "100001"
NEW_SCHOOL = "100002"
YEAR = "2025/26"
COURSE = "npqh-2025"
OCCURRED = datetime(2025, 10, 1, 9, 30, tzinfo=UTC)


# --- records as the consumer sees them ---------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    """An event as the store would number it: its stream and version."""

    stream_id: str
    version: int
    event: Event

    def record(self, offset: int = 0) -> Record:
        envelope = Envelope(
            event_id=uuid4(),
            event_type=self.event.event_type,
            schema_version=self.event.schema_version,
            stream_id=self.stream_id,
            stream_version=self.version,
            occurred_at=OCCURRED,
            recorded_at=OCCURRED,
            correlation_id="c",
            actor="test",
            data=self.event.model_dump(mode="json"),
        )
        return record_of(envelope, offset)


class Streams:
    """Numbers events per stream, as appending them to the store would."""

    def __init__(self) -> None:
        self._versions: dict[str, int] = defaultdict(int)

    def __call__(self, stream_id: str, *events: Event) -> list[Stored]:
        stored = []
        for event in events:
            self._versions[stream_id] += 1
            stored.append(Stored(stream_id, self._versions[stream_id], event))
        return stored


def records(stored: Sequence[Stored]) -> list[Record]:
    return [s.record(offset) for offset, s in enumerate(stored)]


GENERATION = "reporting_g1"


async def handle(pool: Pool, batch: Sequence[Record]) -> Progress:
    """Apply one batch of records as the engine does for a fetch; return what it did."""
    [generation] = await list_generations(pool)
    return await apply_records(pool, generation, batch)


async def feed(pool: Pool, stored: Sequence[Stored]) -> Progress:
    outcome = await handle(pool, records(stored))
    assert outcome.failed == outcome.parked == 0, await list_dead_letters(pool)
    return outcome


@pytest.fixture
async def db(pool: Pool) -> Pool:
    generation = await live_generation(pool)
    assert generation.schema_name == GENERATION
    return pool


# --- events ------------------------------------------------------------------------------------


def school(urn: str = SCHOOL) -> SchoolRegistered:
    return SchoolRegistered(
        urn=urn, name=f"School {urn}", local_authority="Leeds", phase="Primary", pp50=True
    )


def teacher(trn: str = TEACHER, given: str = "Ada") -> TeacherRegistered:
    return TeacherRegistered(
        trn=trn,
        school_urn=SCHOOL,
        given_name=given,
        family_name="Lovelace",
        career_stage=CareerStage.ECT_YEAR_1,
        fte=Decimal(100),
        registered_on=date(2025, 9, 1),
    )


def policy(version: int = 1, minimum: str = "35") -> EntitlementPolicyPublished:
    return EntitlementPolicyPublished(
        academic_year=YEAR,
        policy_version=version,
        minimum_hours=hours(minimum),
        base_funding_per_fte_pence=50_000,
        pp50_uplift_percent=Decimal(20),
        early_career_uplift_percent=Decimal(10),
        effective_from=date(2025, 9, 1),
    )


def grant(trn: str = TEACHER) -> EntitlementGranted:
    return EntitlementGranted(
        trn=trn,
        school_urn=SCHOOL,
        academic_year=YEAR,
        policy_version=1,
        hours=hours("35"),
        funding_pence=66_000,
    )


PROVIDER = ProviderRegistered(
    provider_id="ambition", name="Ambition Institute", kind="npq_lead_provider"
)
LISTED = CourseListed(
    course_id=COURSE,
    provider_id="ambition",
    title="NPQ for Headship",
    kind=CourseKind.NPQ,
    npq_type=NpqType.NPQH,
    hours=hours("60.5"),
    price_pence=215_000,
)


def requested(request_id: str = "req-1", cost: int = 215_000) -> CPDRequested:
    return CPDRequested(
        request_id=request_id,
        trn=TEACHER,
        school_urn=SCHOOL,
        course_id=COURSE,
        academic_year=YEAR,
        cost_pence=cost,
        expected_hours=hours("60.5"),
    )


def approved(request_id: str = "req-1", cost: int = 215_000) -> CPDApproved:
    return CPDApproved(
        request_id=request_id,
        trn=TEACHER,
        school_urn=SCHOOL,
        approved_by="Head of CPD",
        cost_pence=cost,
    )


def logged(
    log_id: str,
    amount: str,
    activity: ActivityType = ActivityType.COURSE,
    trn: str = TEACHER,
    school_urn: str = SCHOOL,
) -> HoursLogged:
    return HoursLogged(
        log_id=log_id,
        trn=trn,
        school_urn=school_urn,
        academic_year=YEAR,
        hours=hours(amount),
        activity_type=activity,
        activity_date=date(2025, 10, 1),
    )


def assigned(assignment_id: str = "asg-1", mentee: str = TEACHER) -> MentorAssigned:
    return MentorAssigned(
        assignment_id=assignment_id,
        trn=MENTOR,
        mentee_trn=mentee,
        school_urn=SCHOOL,
        programme=MentoringProgramme.EARLY_CAREER_INDUCTION,
        starts_on=date(2025, 9, 8),
    )


def full_slice() -> list[Stored]:
    """Every stream of a small world, each stream in its own order."""
    s = Streams()
    return [
        *s(f"school-{SCHOOL}", school()),
        *s("policy-2025-26", policy(1, "30"), policy(2, "35")),
        *s("provider-ambition", PROVIDER),
        *s(f"course-{COURSE}", LISTED),
        *s(f"teacher-{MENTOR}", teacher(MENTOR, given="Grace")),
        *s(
            f"teacher-{TEACHER}",
            teacher(),
            grant(),
            requested(),
            approved(),
            logged("log-1", "3.5"),
            logged("log-2", "6.25", ActivityType.COACHING),
        ),
        *s(f"mentor-{MENTOR}", assigned()),
    ]


def assert_full_record(record: TeacherRecord | None) -> None:
    assert record is not None
    assert (record.given_name, record.family_name) == ("Ada", "Lovelace")
    assert record.school_urn == SCHOOL
    assert record.career_stage is CareerStage.ECT_YEAR_1
    [year] = record.years
    assert year.academic_year == YEAR
    assert year.hours_entitled == Decimal("35.00")
    assert year.hours_logged == Decimal("9.75")
    assert year.hours_remaining_to_minimum == Decimal("25.25")
    assert year.funding_entitled_pence == 66_000
    assert year.funding_committed_pence == 215_000
    assert year.funding_spent_pence == 0
    assert [(a.activity_type, a.hours) for a in record.hours_by_activity] == [
        (ActivityType.COACHING, Decimal("6.25")),
        (ActivityType.COURSE, Decimal("3.50")),
    ]
    [request] = record.requests
    assert (request.request_id, request.course_id, request.course_title) == (
        "req-1",
        COURSE,
        "NPQ for Headship",
    )
    assert (request.status, request.cost_pence) == ("approved", 215_000)
    [mentor] = record.current_mentors
    assert (mentor.mentor_trn, mentor.programme, mentor.since) == (
        MENTOR,
        MentoringProgramme.EARLY_CAREER_INDUCTION,
        date(2025, 9, 8),
    )
    assert record.mentees == []


async def snapshot(pool: Pool) -> dict[str, list[Any]]:
    tables = await pool.fetch(
        "select table_name from information_schema.tables where table_schema = 'reporting_g1'"
    )
    return {
        t["table_name"]: [
            tuple(row)
            for row in await pool.fetch(
                f"select * from reporting_g1.{t['table_name']} x order by x::text"
            )
        ]
        for t in tables
    }


# --- tests -------------------------------------------------------------------------------------


async def test_a_full_slice_gives_the_teacher_record(db: Pool) -> None:
    outcome = await feed(db, full_slice())
    assert outcome.applied == 13

    record = await teacher_record(db, TEACHER)

    assert_full_record(record)
    assert record is not None
    body = record.model_dump(mode="json")
    assert body["years"][0]["hours_logged"] == "9.75"
    assert body["years"][0]["hours_remaining_to_minimum"] == "25.25"
    assert body["hours_by_activity"][1]["hours"] == "3.50"
    mentor = await teacher_record(db, MENTOR)
    assert mentor is not None
    assert [(m.mentee_trn, m.since) for m in mentor.mentees] == [(TEACHER, date(2025, 9, 8))]
    assert mentor.current_mentors == []
    assert mentor.years == []
    policy_row = await db.fetchrow("select * from reporting_g1.policies")
    assert policy_row is not None
    assert (policy_row["policy_version"], policy_row["minimum_hours"]) == (2, Decimal("35.00"))
    requested_at = await db.fetchval("select requested_at from reporting_g1.requests")
    assert requested_at == OCCURRED


async def test_an_unknown_teacher_has_no_record(db: Pool) -> None:
    assert await teacher_record(db, "9999999") is None


def interleavings() -> list[list[Stored]]:
    """The same events in orders that keep each stream's order but mix streams freely."""
    by_stream: dict[str, list[Stored]] = defaultdict(list)
    for stored in full_slice():
        by_stream[stored.stream_id].append(stored)
    # stream by stream, backwards: the mentor and the teacher before the school and the course
    orders = [[stored for stream in reversed(by_stream) for stored in by_stream[stream]]]
    for seed in range(3):
        rng = random.Random(seed)
        queues = {stream: list(events) for stream, events in by_stream.items()}
        order: list[Stored] = []
        while queues:
            stream = rng.choice(sorted(queues))
            order.append(queues[stream].pop(0))
            if not queues[stream]:
                del queues[stream]
        orders.append(order)
    return orders


@pytest.mark.parametrize("order", range(4))
async def test_streams_in_any_interleaving_give_the_same_record(db: Pool, order: int) -> None:
    batch = interleavings()[order]
    for start in range(0, len(batch), 3):  # several batches, as a consumer would see them
        await feed(db, batch[start : start + 3])

    assert_full_record(await teacher_record(db, TEACHER))


async def test_hours_before_the_teacher_and_a_request_before_its_course(db: Pool) -> None:
    s = Streams()
    # hours reach reporting from another partition before the teacher's registration
    await feed(
        db,
        [
            *s(f"mentor-{MENTOR}", assigned()),
            *s(f"hours-import-{TEACHER}", logged("log-0", "2.25", ActivityType.INSET)),
        ],
    )
    assert await teacher_record(db, TEACHER) is None  # not registered yet: unknown

    await feed(db, s(f"teacher-{TEACHER}", teacher(), grant(), requested()))
    record = await teacher_record(db, TEACHER)
    assert record is not None
    [year] = record.years
    assert (year.hours_entitled, year.hours_logged) == (Decimal("35.00"), Decimal("2.25"))
    assert year.hours_remaining_to_minimum == Decimal("32.75")
    assert record.requests[0].course_title is None  # the course listing has not arrived
    assert [m.mentor_trn for m in record.current_mentors] == [MENTOR]

    await feed(db, [*s("provider-ambition", PROVIDER), *s(f"course-{COURSE}", LISTED)])
    record = await teacher_record(db, TEACHER)
    assert record is not None
    assert record.requests[0].course_title == "NPQ for Headship"


async def test_hours_for_a_year_without_a_grant_count_against_nothing_entitled(db: Pool) -> None:
    s = Streams()
    await feed(db, s(f"teacher-{TEACHER}", teacher(), logged("log-1", "40")))

    record = await teacher_record(db, TEACHER)

    assert record is not None
    [year] = record.years
    assert (year.hours_entitled, year.hours_logged) == (Decimal("0.00"), Decimal("40.00"))
    assert year.hours_remaining_to_minimum == Decimal("0.00")  # never below zero
    assert year.funding_entitled_pence == 0


async def test_a_redelivered_batch_changes_nothing(db: Pool) -> None:
    batch = records(full_slice())
    first = await handle(db, batch)
    before = await snapshot(db)

    again = await handle(db, batch)

    assert (first.applied, again.applied, again.duplicates) == (13, 0, 13)
    assert await snapshot(db) == before
    assert_full_record(await teacher_record(db, TEACHER))


async def test_a_teacher_who_moves_school_keeps_their_record(db: Pool) -> None:
    s = Streams()
    await feed(
        db,
        [
            *s(f"school-{SCHOOL}", school()),
            *s(f"school-{NEW_SCHOOL}", school(NEW_SCHOOL)),
            *s(
                f"teacher-{TEACHER}",
                teacher(),
                grant(),
                logged("log-1", "10"),
                TeacherMovedSchool(
                    trn=TEACHER,
                    from_school_urn=SCHOOL,
                    school_urn=NEW_SCHOOL,
                    moved_on=date(2026, 1, 5),
                ),
                logged("log-2", "4.5", ActivityType.NPQ, school_urn=NEW_SCHOOL),
            ),
        ],
    )

    record = await teacher_record(db, TEACHER)

    assert record is not None
    assert record.school_urn == NEW_SCHOOL
    [year] = record.years
    assert (year.hours_logged, year.hours_remaining_to_minimum) == (
        Decimal("14.50"),
        Decimal("20.50"),
    )
    assert {a.activity_type: a.hours for a in record.hours_by_activity} == {
        ActivityType.COURSE: Decimal("10.00"),
        ActivityType.NPQ: Decimal("4.50"),
    }


async def test_corrections_closures_and_endings(db: Pool) -> None:
    s = Streams()
    await feed(
        db,
        [
            *s(f"course-{COURSE}", LISTED, CourseUpdated(course_id=COURSE, title="NPQH 2025")),
            *s(
                f"teacher-{TEACHER}",
                teacher(),
                grant(),
                logged("log-1", "5"),
                HoursLogCorrected(
                    log_id="log-1",
                    trn=TEACHER,
                    school_urn=SCHOOL,
                    academic_year=YEAR,
                    corrected_hours=hours("3.25"),
                    reason="typo",
                ),
                requested("req-1", 100_000),
                approved("req-1", 90_000),
                requested("req-2", 50_000),
                approved("req-2", 50_000),
                CPDWithdrawn(request_id="req-2", trn=TEACHER, school_urn=SCHOOL),
                requested("req-3", 10_000),
                CPDDeclined(
                    request_id="req-3",
                    trn=TEACHER,
                    school_urn=SCHOOL,
                    declined_by="Head",
                    reason="budget",
                ),
                CPDCompleted(
                    request_id="req-1",
                    trn=TEACHER,
                    school_urn=SCHOOL,
                    course_id=COURSE,
                    completed_on=date(2026, 3, 1),
                ),
                TeacherLeftProfession(trn=TEACHER, school_urn=SCHOOL, left_on=date(2026, 7, 31)),
            ),
            *s(
                f"mentor-{MENTOR}",
                assigned("asg-1"),
                MentorshipEnded(
                    assignment_id="asg-1",
                    trn=MENTOR,
                    mentee_trn=TEACHER,
                    ended_on=date(2026, 7, 1),
                    reason="induction complete",
                ),
            ),
        ],
    )

    record = await teacher_record(db, TEACHER)

    assert record is not None
    [year] = record.years
    assert year.hours_logged == Decimal("3.25")
    assert year.funding_committed_pence == 90_000  # the approved cost; the withdrawal released
    assert [(r.request_id, r.status, r.cost_pence) for r in record.requests] == [
        ("req-1", "completed", 90_000),
        ("req-2", "withdrawn", 50_000),
        ("req-3", "declined", 10_000),
    ]
    assert record.requests[0].course_title == "NPQH 2025"
    assert record.left_on == date(2026, 7, 31)
    assert record.current_mentors == []


async def test_request_and_log_ids_are_scoped_to_their_teacher(db: Pool) -> None:
    other = "2345678"
    s = Streams()
    await feed(
        db,
        [
            *s(f"teacher-{TEACHER}", teacher(), grant(), logged("log-1", "1")),
            *s(f"teacher-{other}", teacher(other), grant(other), logged("log-1", "2", trn=other)),
        ],
    )

    mine, theirs = await teacher_record(db, TEACHER), await teacher_record(db, other)

    assert mine is not None
    assert theirs is not None
    assert (mine.years[0].hours_logged, theirs.years[0].hours_logged) == (
        Decimal("1.00"),
        Decimal("2.00"),
    )


async def test_pilot_hours_in_minutes_are_upcast(db: Pool) -> None:
    s = Streams()
    await feed(db, s(f"teacher-{TEACHER}", teacher()))
    v1 = Envelope(
        event_id=uuid4(),
        event_type="HoursLogged",
        schema_version=1,
        stream_id=f"teacher-{TEACHER}",
        stream_version=2,
        occurred_at=OCCURRED,
        recorded_at=OCCURRED,
        correlation_id="c",
        actor="pilot",
        data={
            "log_id": "pilot-1",
            "trn": TEACHER,
            "school_urn": SCHOOL,
            "academic_year": YEAR,
            "minutes": 90,
            "activity_date": "2025-10-01",
        },
    )

    outcome = await handle(db, [record_of(v1)])

    assert outcome.applied == 1
    record = await teacher_record(db, TEACHER)
    assert record is not None
    assert [(a.activity_type, a.hours) for a in record.hours_by_activity] == [
        (ActivityType.OTHER, Decimal("1.50"))
    ]


async def test_an_event_whose_predecessor_is_missing_is_dead_lettered(db: Pool) -> None:
    stray = Stored(f"teacher-{TEACHER}", 1, approved("req-404"))

    outcome = await handle(db, [stray.record()])

    assert outcome.failed == 1
    [dead] = await list_dead_letters(db)
    assert "no request req-404" in dead.error


async def test_the_endpoint_serves_the_record_as_problem_json_when_unknown(db: Pool) -> None:
    settings = ServiceSettings(
        service_name="reporting", database_url="postgresql://unused/x", kafka_bootstrap_servers="x"
    )
    runtime = ServiceRuntime(settings)
    runtime.pool = db  # the lifespan (which would connect) does not run under ASGITransport
    app = create_app(runtime, title="CPD reporting", description="test", access=POLICY)
    app.include_router(router)
    await feed(db, full_slice())

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://reporting",
        headers=operator_headers(),
    ) as client:
        found = await client.get(f"/teachers/{TEACHER}/record")
        unknown = await client.get("/teachers/9999999/record")
        invalid = await client.get("/teachers/12ab/record")

    assert found.status_code == 200
    body = found.json()
    assert body["years"][0]["hours_remaining_to_minimum"] == "25.25"
    assert body["requests"][0]["course_title"] == "NPQ for Headship"
    assert body["current_mentors"][0]["mentor_trn"] == MENTOR
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert unknown.json()["status"] == 404
    assert invalid.status_code == 422


def session(session_id: str, held_on: date, minutes: int) -> MentoringSessionLogged:
    return MentoringSessionLogged(
        session_id=session_id,
        assignment_id="asg-1",
        trn=MENTOR,
        mentee_trn=TEACHER,
        school_urn=SCHOOL,
        mentor_school_urn=SCHOOL,
        programme=MentoringProgramme.EARLY_CAREER_INDUCTION,
        held_on=held_on,
        minutes=minutes,
        hours=session_hours(minutes),
        focus="Behaviour management",
        academic_year=academic_year_of(held_on),
    )


async def test_mentoring_sessions_show_as_mentoring_hours_for_mentor_and_mentee(db: Pool) -> None:
    mentor_stream = [Stored(f"mentor-{MENTOR}", 1, assigned())]
    stream = Streams()
    stream(f"mentor-{MENTOR}", assigned())  # version 1 is the assignment
    await feed(
        db,
        [
            *(s for s in full_slice() if s.stream_id != f"mentor-{MENTOR}"),
            *mentor_stream,
            *stream(
                f"mentor-{MENTOR}",
                session("s-1", date(2025, 10, 6), 45),
                session("s-2", date(2025, 11, 3), 60),
                session("s-3", date(2026, 9, 7), 30),  # the next academic year
            ),
        ],
    )
    mentee = await teacher_record(db, TEACHER)
    assert mentee is not None
    assert [
        (m.academic_year, m.sessions_as_mentee, m.hours_as_mentee) for m in mentee.mentoring
    ] == [
        ("2025/26", 2, Decimal("1.75")),
        ("2026/27", 1, Decimal("0.50")),
    ]
    assert all(m.sessions_as_mentor == 0 for m in mentee.mentoring)
    mentor = await teacher_record(db, MENTOR)
    assert mentor is not None
    assert [(m.sessions_as_mentor, m.hours_as_mentor) for m in mentor.mentoring] == [
        (2, Decimal("1.75")),
        (1, Decimal("0.50")),
    ]


def spent(amount: int = 215_000) -> FundingSpent:
    return FundingSpent(
        budget_id="budget-2025-26-school-100001",
        request_id="req-1",
        trn=TEACHER,
        school_urn=SCHOOL,
        academic_year=YEAR,
        amount_pence=amount,
    )


@pytest.mark.parametrize("spent_first", [False, True])
async def test_spending_moves_money_from_committed_to_spent_in_either_order(
    db: Pool, spent_first: bool
) -> None:
    budget = [Stored("budget-2025-26-school-100001", 1, spent())]
    world = full_slice()
    await feed(db, [*budget, *world] if spent_first else [*world, *budget])
    record = await teacher_record(db, TEACHER)
    assert record is not None
    [year] = record.years
    assert (year.funding_committed_pence, year.funding_spent_pence) == (0, 215_000)
