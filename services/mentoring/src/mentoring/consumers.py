"""Mentoring's local tables, kept by one idempotent consumer (``mentoring.registry-replica``).

- A replica of the registry from entitlement's events (``cpd.entitlement.events``): teachers
  (school, career stage, registration and leaving dates) and schools. The application reads it
  and hands the facts to the deciders: mentors and mentees must be known teachers who have not
  left the profession, schools must be registered.
- A read model of mentorships from mentoring's own events (``cpd.mentoring.events``,
  ``MentorAssigned`` / ``MentorshipEnded`` only), for the early career teachers flag.

Both arrive through Kafka, so they lag the writes by tens of milliseconds. One consumer group
reads both topics; the handler dispatches on the event type and ignores the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from cpd_events import Envelope, Event
from cpd_events.mentoring_events import MentorAssigned, MentorshipEnded
from cpd_events.registry_events import (
    SchoolRegistered,
    TeacherLeftProfession,
    TeacherMovedSchool,
    TeacherRegistered,
)
from cpd_events.types import CareerStage, MentoringProgramme
from cpd_eventstore import Migration
from cpd_eventstore.db import Connection, Pool
from mentoring.domain import TeacherFacts

MIGRATIONS = [
    Migration(
        1,
        "registry replica and mentorships read model",
        """
        create schema if not exists mentoring;
        create table mentoring.teachers (
            trn text primary key,
            school_urn text not null,
            career_stage text not null,
            registered_on date not null,
            left_on date
        );
        create index teachers_school on mentoring.teachers (school_urn);
        create table mentoring.schools (
            urn text primary key,
            name text not null
        );
        create table mentoring.mentorships (
            mentor_trn text not null,
            assignment_id text not null,
            mentee_trn text not null,
            school_urn text not null,
            programme text not null,
            starts_on date not null,
            ended_on date,
            primary key (mentor_trn, assignment_id)
        );
        create index mentorships_mentee on mentoring.mentorships (mentee_trn, programme);
        """,
    )
]

#: Career stages the "without a mentor" flag looks at.
EARLY_CAREER_TEACHERS = (CareerStage.ECT_YEAR_1, CareerStage.ECT_YEAR_2)


async def replicate(conn: Connection, _: Envelope, event: Event) -> None:
    """Apply one event to the replica or the read model (inside the consumer's transaction)."""
    match event:
        case TeacherRegistered():
            await conn.execute(
                """insert into mentoring.teachers (trn, school_urn, career_stage, registered_on)
                   values ($1, $2, $3, $4)
                   on conflict (trn) do update set school_urn = excluded.school_urn,
                       career_stage = excluded.career_stage,
                       registered_on = excluded.registered_on, left_on = null""",
                event.trn,
                event.school_urn,
                event.career_stage.value,
                event.registered_on,
            )
        case TeacherMovedSchool():
            await conn.execute(
                "update mentoring.teachers set school_urn = $2 where trn = $1",
                event.trn,
                event.school_urn,
            )
        case TeacherLeftProfession():
            await conn.execute(
                "update mentoring.teachers set left_on = $2 where trn = $1",
                event.trn,
                event.left_on,
            )
        case SchoolRegistered():
            await conn.execute(
                """insert into mentoring.schools (urn, name) values ($1, $2)
                   on conflict (urn) do update set name = excluded.name""",
                event.urn,
                event.name,
            )
        case MentorAssigned():
            await conn.execute(
                """insert into mentoring.mentorships (mentor_trn, assignment_id, mentee_trn,
                       school_urn, programme, starts_on)
                   values ($1, $2, $3, $4, $5, $6)
                   on conflict (mentor_trn, assignment_id) do nothing""",
                event.trn,
                event.assignment_id,
                event.mentee_trn,
                event.school_urn,
                event.programme.value,
                event.starts_on,
            )
        case MentorshipEnded():
            await conn.execute(
                """update mentoring.mentorships set ended_on = $3
                   where mentor_trn = $1 and assignment_id = $2""",
                event.trn,
                event.assignment_id,
                event.ended_on,
            )
        case _:
            pass  # other events of both topics are not needed here


# --- reading the replica ----------------------------------------------------------------------


async def teacher_facts(pool: Pool, trn: str) -> TeacherFacts | None:
    row = await pool.fetchrow(
        "select trn, school_urn, career_stage, registered_on, left_on from mentoring.teachers"
        " where trn = $1",
        trn,
    )
    if row is None:
        return None
    return TeacherFacts(
        trn=row["trn"],
        school_urn=row["school_urn"],
        career_stage=CareerStage(row["career_stage"]),
        registered_on=row["registered_on"],
        left_on=row["left_on"],
    )


async def school_name(pool: Pool, urn: str) -> str | None:
    name: str | None = await pool.fetchval("select name from mentoring.schools where urn = $1", urn)
    return name


@dataclass(frozen=True)
class UnmentoredEct:
    trn: str
    school_urn: str
    career_stage: CareerStage
    registered_on: date
    without_mentor_since: date  # registration, or the end of their last induction mentorship
    days_without_mentor: int


async def ects_without_mentor(
    pool: Pool, as_of: date, grace_days: int, school_urn: str | None = None
) -> list[UnmentoredEct]:
    """Early career teachers without an induction mentor for more than ``grace_days`` on
    ``as_of``: registered (or last mentored) earlier than that, not left, and no
    ``early_career_induction`` mentorship active on ``as_of``."""
    rows = await pool.fetch(
        """
        select t.trn, t.school_urn, t.career_stage, t.registered_on,
               greatest(t.registered_on, last.ended_on) as since
          from mentoring.teachers t
          left join lateral (
               select max(m.ended_on) as ended_on from mentoring.mentorships m
                where m.mentee_trn = t.trn and m.programme = $3 and m.ended_on <= $1
          ) last on true
         where t.career_stage = any($4::text[])
           and (t.left_on is null or t.left_on > $1)
           and ($5::text is null or t.school_urn = $5)
           and not exists (
               select 1 from mentoring.mentorships m
                where m.mentee_trn = t.trn and m.programme = $3 and m.starts_on <= $1
                  and (m.ended_on is null or m.ended_on > $1))
           and greatest(t.registered_on, last.ended_on) < $1::date - $2::int
         order by since, t.trn
        """,
        as_of,
        grace_days,
        MentoringProgramme.EARLY_CAREER_INDUCTION.value,
        [stage.value for stage in EARLY_CAREER_TEACHERS],
        school_urn,
    )
    return [
        UnmentoredEct(
            trn=row["trn"],
            school_urn=row["school_urn"],
            career_stage=CareerStage(row["career_stage"]),
            registered_on=row["registered_on"],
            without_mentor_since=row["since"],
            days_without_mentor=(as_of - row["since"]).days,
        )
        for row in rows
    ]
