"""The teacher record shows a teacher's life in entitlement: the year's minimum met, the
development plan (moving with the teacher), plan goals of requests, and mentoring hours counted
once. On a real PostgreSQL, through the idempotent consumer."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from cpd_events import Envelope, Event
from cpd_events.entitlement_events import (
    CPDRequested,
    DevelopmentPlanAgreed,
    EntitlementGranted,
    HoursLogCorrected,
    HoursLogged,
    MinimumEntitlementMet,
)
from cpd_events.mentoring_events import MentoringSessionLogged, session_hours
from cpd_events.registry_events import TeacherMovedSchool, TeacherRegistered
from cpd_events.types import ActivityType, CareerStage, MentoringProgramme, hours
from cpd_eventstore import list_dead_letters
from cpd_eventstore.db import Pool
from cpd_platform.testing import Record, record_of
from reporting.generations import Generation
from reporting.queries import TeacherRecord, teacher_record
from reporting.testing import apply_records, live_generation

pytestmark = pytest.mark.integration

TRN, MENTOR, SCHOOL, NEW_SCHOOL, YEAR = "1234567", "7654321", "100001", "100002", "2025/26"
AT = datetime(2025, 10, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
async def db(pool: Pool) -> Pool:
    global GENERATION
    GENERATION = await live_generation(pool)
    return pool


GENERATION: Generation


def numbered(streams: dict[str, list[Event]]) -> list[Record]:
    """Each stream's events as the store would number them, one stream after another."""
    records: list[Record] = []
    versions: dict[str, int] = defaultdict(int)
    for stream_id, events in streams.items():
        for event in events:
            versions[stream_id] += 1
            envelope = Envelope(
                event_id=uuid4(),
                event_type=event.event_type,
                schema_version=event.schema_version,
                stream_id=stream_id,
                stream_version=versions[stream_id],
                occurred_at=AT,
                recorded_at=AT,
                correlation_id="c",
                actor="test",
                data=event.model_dump(mode="json"),
            )
            records.append(record_of(envelope, len(records)))
    return records


async def feed(pool: Pool, records: list[Record]) -> None:
    outcome = await apply_records(pool, GENERATION, records)
    assert outcome.failed == outcome.parked == 0, await list_dead_letters(pool)


async def record_of_teacher(pool: Pool, trn: str = TRN) -> TeacherRecord:
    record = await teacher_record(pool, trn)
    assert record is not None
    return record


def registered(trn: str = TRN) -> TeacherRegistered:
    return TeacherRegistered(
        trn=trn,
        school_urn=SCHOOL,
        given_name="Ada",
        family_name="Lovelace",
        career_stage=CareerStage.EXPERIENCED,
        fte=Decimal(100),
        registered_on=date(2025, 9, 1),
    )


GRANT = EntitlementGranted(
    trn=TRN,
    school_urn=SCHOOL,
    academic_year=YEAR,
    policy_version=1,
    hours=hours(35),
    funding_pence=60_000,
)


def plan(*goals: str, school: str = SCHOOL) -> DevelopmentPlanAgreed:
    return DevelopmentPlanAgreed(
        trn=TRN,
        school_urn=school,
        academic_year=YEAR,
        goals=list(goals),
        agreed_with="Ms Lead",
        until_academic_year="2027/28",
    )


def logged(log_id: str, amount: str, activity: ActivityType = ActivityType.COURSE) -> HoursLogged:
    return HoursLogged(
        log_id=log_id,
        trn=TRN,
        school_urn=SCHOOL,
        academic_year=YEAR,
        hours=hours(amount),
        activity_type=activity,
        activity_date=date(2025, 10, 1),
    )


def life() -> list[Record]:
    """A teacher agrees a plan, cites it, meets the minimum, corrects below it, agrees a new
    plan and moves school."""
    return numbered(
        {
            f"teacher-{TRN}": [
                registered(),
                GRANT,
                plan("Headship", "Behaviour"),
                CPDRequested(
                    request_id="r1",
                    trn=TRN,
                    school_urn=SCHOOL,
                    course_id="npq-h",
                    academic_year=YEAR,
                    cost_pence=125_000,
                    expected_hours=hours(60),
                    plan_goal="Headship",
                ),
                logged("l1", "12"),
                logged("l2", "12"),
                logged("l3", "11"),
                MinimumEntitlementMet(
                    trn=TRN,
                    school_urn=SCHOOL,
                    academic_year=YEAR,
                    minimum_hours=hours(35),
                    hours_logged=hours(35),
                    met_on=date(2025, 10, 3),
                ),
                HoursLogCorrected(
                    log_id="l3",
                    trn=TRN,
                    school_urn=SCHOOL,
                    academic_year=YEAR,
                    corrected_hours=hours(9),
                    reason="overstated",
                ),
                plan("Curriculum"),
                TeacherMovedSchool(
                    trn=TRN,
                    from_school_urn=SCHOOL,
                    school_urn=NEW_SCHOOL,
                    moved_on=date(2026, 1, 5),
                ),
            ]
        }
    )


async def test_the_record_shows_the_minimum_met_the_plan_and_the_goal_cited(db: Pool) -> None:
    await feed(db, life())

    record = await record_of_teacher(db)

    [year] = record.years
    assert (year.hours_logged, year.hours_remaining_to_minimum) == (hours(33), hours(2))
    assert year.minimum_met_on == date(2025, 10, 3)  # not retracted by the correction below
    [request] = record.requests
    assert request.plan_goal == "Headship"
    assert record.school_urn == NEW_SCHOOL
    plan_now = record.development_plan
    assert plan_now is not None  # it moved with the teacher
    assert (plan_now.goals, plan_now.plans_agreed, plan_now.until_academic_year) == (
        ["Curriculum"],
        2,
        "2027/28",
    )
    assert (plan_now.agreed_with, plan_now.school_urn, plan_now.agreed_at) == (
        "Ms Lead",
        SCHOOL,
        AT,
    )
    body = record.model_dump(mode="json")
    assert body["years"][0]["minimum_met_on"] == "2025-10-03"
    assert body["development_plan"]["goals"] == ["Curriculum"]


async def test_a_redelivered_life_changes_nothing(db: Pool) -> None:
    records = life()
    await feed(db, records)
    before = await record_of_teacher(db)

    await feed(db, records)

    assert await record_of_teacher(db) == before  # e.g. plans_agreed is still 2


async def test_a_record_without_plan_or_minimum(db: Pool) -> None:
    await feed(db, numbered({f"teacher-{TRN}": [registered(), GRANT, logged("l1", "3")]}))

    record = await record_of_teacher(db)

    assert record.development_plan is None
    assert record.years[0].minimum_met_on is None


async def test_mentoring_hours_count_once_beside_the_sessions_section(db: Pool) -> None:
    minutes = 50
    session = MentoringSessionLogged(
        session_id="s-1",
        assignment_id="asg-1",
        trn=MENTOR,
        mentee_trn=TRN,
        school_urn=SCHOOL,
        mentor_school_urn=SCHOOL,
        programme=MentoringProgramme.EARLY_CAREER_INDUCTION,
        held_on=date(2025, 10, 6),
        minutes=minutes,
        hours=session_hours(minutes),
        focus="Behaviour",
        academic_year=YEAR,
    )
    as_hours = logged(f"ms-{MENTOR}-s-1-mentee", "0.83", ActivityType.MENTORING).model_copy(
        update={"source": f"mentoring-session:{MENTOR}:s-1:mentee"}
    )
    await feed(
        db,
        numbered(
            {
                f"mentor-{MENTOR}": [session],
                f"teacher-{TRN}": [registered(), GRANT, as_hours],  # entitlement's consumer
            }
        ),
    )

    record = await record_of_teacher(db)

    assert record.years[0].hours_logged == hours("0.83")  # once, not 1.66
    assert [(a.activity_type, a.hours) for a in record.hours_by_activity] == [
        (ActivityType.MENTORING, hours("0.83"))
    ]
    [sessions] = record.mentoring
    assert (sessions.sessions_as_mentee, sessions.hours_as_mentee) == (1, hours("0.83"))
