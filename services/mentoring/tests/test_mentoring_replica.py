"""The registry replica and the mentorships read model, through the idempotent consumer, on a
real PostgreSQL; and the "early career teachers without a mentor" flag built on them."""

from __future__ import annotations

from datetime import date

import pytest

from cpd_events.mentoring_events import MentorAssigned, MentorCapacitySet, MentorshipEnded
from cpd_events.registry_events import TeacherLeftProfession, TeacherMovedSchool
from cpd_events.types import CareerStage, MentoringProgramme
from cpd_eventstore import IdempotentConsumer, migrate
from cpd_eventstore.db import Pool
from cpd_platform.testing import Record, record_of
from mentoring.consumers import MIGRATIONS, ects_without_mentor, replicate, school_name
from mentoring.consumers import teacher_facts as facts_of
from mentoring.domain import TeacherFacts

from .mentoring_records import Streams

pytestmark = pytest.mark.integration

SCHOOL, OTHER = "100000", "100001"
SEPT = date(2025, 9, 1)
ECF = MentoringProgramme.EARLY_CAREER_INDUCTION


async def replica(pool: Pool) -> IdempotentConsumer:
    await migrate(pool, "mentoring", MIGRATIONS)
    return IdempotentConsumer(pool, "mentoring.registry-replica", replicate)


async def test_the_replica_follows_the_registry_and_ignores_redeliveries(pool: Pool) -> None:
    consumer = await replica(pool)
    s = Streams()
    records = [
        s.school(SCHOOL, "Primary school 100000"),
        s.registered("1000001", SCHOOL, CareerStage.ECT_YEAR_1),
        s.registered("1000002", SCHOOL),
        s.teacher(
            TeacherMovedSchool(
                trn="1000001", from_school_urn=SCHOOL, school_urn=OTHER, moved_on=date(2026, 1, 5)
            ),
            "1000001",
        ),
        s.teacher(
            TeacherLeftProfession(trn="1000002", school_urn=SCHOOL, left_on=date(2026, 3, 31)),
            "1000002",
        ),
        record_of(s.envelope("mentor-1000002", MentorCapacitySet(trn="1000002", max_mentees=2))),
    ]
    outcome = await consumer.handle_batch(records)
    assert (outcome.applied, outcome.failed, outcome.parked) == (6, 0, 0)
    assert await facts_of(pool, "1000001") == TeacherFacts(
        "1000001", OTHER, CareerStage.ECT_YEAR_1, SEPT, None
    )
    left = await facts_of(pool, "1000002")
    assert left is not None
    assert left.left_on == date(2026, 3, 31)
    assert left.left
    assert await facts_of(pool, "1000003") is None
    assert await school_name(pool, SCHOOL) == "Primary school 100000"
    assert await school_name(pool, OTHER) is None

    again = await consumer.handle_batch(records)
    assert (again.applied, again.duplicates) == (0, 6)
    assert (await facts_of(pool, "1000001")) == TeacherFacts(
        "1000001", OTHER, CareerStage.ECT_YEAR_1, SEPT, None
    )


def assigned(
    s: Streams,
    mentor: str,
    mentee: str,
    on: date,
    programme: MentoringProgramme = ECF,
    assignment_id: str = "asg-1",
) -> Record:
    event = MentorAssigned(
        assignment_id=assignment_id,
        trn=mentor,
        mentee_trn=mentee,
        school_urn=SCHOOL,
        programme=programme,
        starts_on=on,
    )
    return record_of(s.envelope(f"mentor-{mentor}", event))


def ended(s: Streams, mentor: str, mentee: str, on: date, assignment_id: str = "asg-1") -> Record:
    event = MentorshipEnded(
        assignment_id=assignment_id, trn=mentor, mentee_trn=mentee, ended_on=on, reason="moved"
    )
    return record_of(s.envelope(f"mentor-{mentor}", event))


async def test_early_career_teachers_without_a_mentor_are_flagged(pool: Pool) -> None:
    consumer = await replica(pool)
    s = Streams()
    unmentored, mentored, npq_only, experienced, left, lapsed, recent, year_2 = (
        f"200000{n}" for n in range(1, 9)
    )
    ect = CareerStage.ECT_YEAR_1
    records = [
        s.registered(unmentored, SCHOOL, ect),
        s.registered(mentored, SCHOOL, ect),
        s.registered(npq_only, SCHOOL, ect),
        s.registered(experienced, SCHOOL, CareerStage.EXPERIENCED),
        s.registered(left, SCHOOL, ect),
        s.teacher(
            TeacherLeftProfession(trn=left, school_urn=SCHOOL, left_on=date(2025, 9, 20)), left
        ),
        s.registered(lapsed, SCHOOL, ect),
        s.registered(recent, SCHOOL, ect, on=date(2025, 9, 25)),
        s.registered(year_2, OTHER, CareerStage.ECT_YEAR_2),
        assigned(s, "1000001", mentored, date(2025, 9, 10)),
        assigned(s, "1000001", npq_only, SEPT, MentoringProgramme.NPQ, "asg-npq"),
        assigned(s, "1000002", lapsed, SEPT),
        ended(s, "1000002", lapsed, date(2025, 9, 25)),
    ]
    outcome = await consumer.handle_batch(records)
    assert (outcome.applied, outcome.failed) == (len(records), 0)

    async def flagged(as_of: date, days: int = 20, school: str | None = None) -> list[str]:
        return [e.trn for e in await ects_without_mentor(pool, as_of, days, school)]

    # ordered by how long they have been without a mentor, then TRN
    # 30 Sept: 29 days since 1 Sept; the lapsed one lost their mentor 5 days ago
    assert await flagged(date(2025, 9, 30)) == [unmentored, npq_only, year_2]
    assert await flagged(date(2025, 9, 30), school=OTHER) == [year_2]
    # exactly 20 days is not more than 20; 21 is
    assert await flagged(date(2025, 9, 21)) == []
    assert await flagged(date(2025, 9, 22)) == [unmentored, npq_only, year_2]
    # on 9 September the mentored one had no mentor yet, and the leaver had not left
    nine = await flagged(date(2025, 9, 9), days=5)
    assert nine == [unmentored, mentored, npq_only, left, year_2]
    # 20 October: the lapsed one has been without a mentor since 25 September, 25 days
    later = await ects_without_mentor(pool, date(2025, 10, 20), 20)
    assert [e.trn for e in later] == [unmentored, npq_only, year_2, lapsed, recent]
    lapsed_flag = next(e for e in later if e.trn == lapsed)
    assert (lapsed_flag.without_mentor_since, lapsed_flag.days_without_mentor) == (
        date(2025, 9, 25),
        25,
    )
