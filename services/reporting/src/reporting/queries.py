"""Reads of the reporting read models: a teacher's portable CPD record."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any, Literal

import asyncpg
from pydantic import BaseModel, Field

from cpd_events.types import (
    AcademicYear,
    ActivityType,
    CareerStage,
    Hours,
    MentoringProgramme,
    Pence,
    Trn,
    Urn,
)
from cpd_eventstore.db import Connection, Pool
from reporting.reading import read_model

RequestStatus = Literal["requested", "approved", "declined", "withdrawn", "completed"]


class YearRecord(BaseModel):
    academic_year: AcademicYear
    hours_entitled: Hours
    hours_logged: Hours
    hours_remaining_to_minimum: Hours = Field(
        description="Hours still to log to reach the entitlement: never below zero"
    )
    funding_entitled_pence: Pence
    funding_committed_pence: Pence = Field(description="Approved and not yet spent")
    funding_spent_pence: Pence = Field(description="Spent on completed CPD")
    minimum_met_on: date | None = Field(
        default=None,
        description="The day the year's logged hours reached the hours entitled"
        " (MinimumEntitlementMet, once a year: a later correction below does not retract it)",
    )


class ActivityHours(BaseModel):
    academic_year: AcademicYear
    activity_type: ActivityType
    hours: Hours


class RequestRecord(BaseModel):
    request_id: str
    academic_year: AcademicYear
    course_id: str
    course_title: str | None = Field(description="Null until the course's listing is seen")
    status: RequestStatus
    cost_pence: Pence
    plan_goal: str | None = Field(
        default=None, description="The development plan goal the request cites, if any"
    )


class MentorLink(BaseModel):
    mentor_trn: Trn
    programme: MentoringProgramme
    since: date


class MenteeLink(BaseModel):
    mentee_trn: Trn
    programme: MentoringProgramme
    since: date


class MentoringYear(BaseModel):
    """Mentoring sessions a teacher took part in, as mentor and as mentee, in one year."""

    academic_year: AcademicYear
    sessions_as_mentor: int
    hours_as_mentor: Hours
    sessions_as_mentee: int
    hours_as_mentee: Hours


class DevelopmentPlan(BaseModel):
    """The teacher's current development plan: it belongs to the teacher and moves with them."""

    academic_year: AcademicYear = Field(description="The first year the plan covers")
    until_academic_year: AcademicYear | None = Field(
        description="The last year of a multi-year plan (null: one year)"
    )
    goals: list[str]
    agreed_with: str = Field(description="The CPD lead the plan was agreed with")
    school_urn: Urn = Field(description="The teacher's school when it was agreed")
    agreed_at: datetime
    plans_agreed: int = Field(description="Plans agreed so far; the latest replaces the others")


class SchoolPeriod(BaseModel):
    """A school the teacher worked in, and the trust it belonged to when they joined it."""

    school_urn: Urn
    school_name: str | None = Field(description="Null until the school's registration is seen")
    trust_id: str | None = Field(description="The school's trust today (null: none)")
    from_date: date
    to_date: date | None = Field(description="Null: the teacher's current school")


class CompletedCourse(BaseModel):
    request_id: str
    course_id: str
    title: str | None
    kind: str | None
    completed_on: date
    hours: Hours | None = Field(description="The course's hours, as listed")
    rating: int | None = Field(description="The teacher's rating of the course (1-5), if given")


class GoalProgress(BaseModel):
    """Progress on one goal of the current development plan, from the requests that cite it."""

    goal: str
    requests: int
    approved_or_completed: int
    completed: int


class TeacherRecord(BaseModel):
    """A teacher's CPD record: it follows the teacher across school moves."""

    trn: Trn
    given_name: str
    family_name: str
    school_urn: Urn = Field(description="The teacher's current school")
    career_stage: CareerStage
    left_on: date | None = Field(description="When the teacher left the profession, if they did")
    years: list[YearRecord]
    hours_by_activity: list[ActivityHours]
    requests: list[RequestRecord]
    current_mentors: list[MentorLink]
    mentees: list[MenteeLink] = Field(description="Current mentees of the teacher as a mentor")
    mentoring: list[MentoringYear] = Field(
        description="Mentoring sessions per year, for information: entitlement logs each session"
        " as HoursLogged (activity mentoring) for mentor and mentee, so these hours are already"
        " in years[].hours_logged and hours_by_activity; do not add them again"
    )
    development_plan: DevelopmentPlan | None = Field(
        default=None, description="The current development plan, if one is agreed"
    )
    plan_progress: list[GoalProgress] = Field(
        default=[], description="Each goal of the current plan and the requests citing it"
    )
    schools: list[SchoolPeriod] = Field(
        default=[], description="Every school the teacher worked in, oldest first"
    )
    completed_courses: list[CompletedCourse] = Field(default=[])


async def teacher_record(db: Pool | Connection, trn: str) -> TeacherRecord | None:
    """The record of teacher ``trn``, or ``None`` if their registration is not seen yet.

    Given a pool, all parts are read from one snapshot of the live read models (see
    reading.py); given a connection, from the generation and snapshot it is already reading.
    """
    if isinstance(db, asyncpg.Pool):
        async with read_model(db) as conn:
            return await _read(conn, trn)
    return await _read(db, trn)


async def _read(conn: Connection, trn: str) -> TeacherRecord | None:
    teacher = await conn.fetchrow(
        """select trn, given_name, family_name, school_urn, career_stage, left_on
             from teachers where trn = $1""",
        trn,
    )
    if teacher is None:
        return None
    years = await conn.fetch(
        """select academic_year, hours_entitled, hours_logged,
                  greatest(0, hours_entitled - hours_logged) as hours_remaining_to_minimum,
                  funding_entitled_pence,
                  -- approvals add to committed; spending moves money from committed to spent
                  greatest(0, funding_committed_pence - funding_spent_pence)
                      as funding_committed_pence,
                  funding_spent_pence, minimum_met_on
             from teacher_years where trn = $1
            order by academic_year""",
        trn,
    )
    by_activity = await conn.fetch(
        """select academic_year, activity_type, sum(hours) as hours
             from hours_log where trn = $1
            group by academic_year, activity_type
            order by academic_year, activity_type""",
        trn,
    )
    requests = await conn.fetch(
        """select r.request_id, r.academic_year, r.course_id, c.title as course_title,
                  c.kind, c.hours, r.status, r.cost_pence, r.plan_goal, r.completed_on,
                  f.rating
             from requests r
             left join courses c on c.course_id = r.course_id
             left join course_feedback f on f.course_id = r.course_id and f.trn = r.trn
            where r.trn = $1
            order by r.requested_at, r.request_id""",
        trn,
    )
    mentorships = await conn.fetch(
        """select mentor_trn, mentee_trn, programme, starts_on
             from mentorships
            where (mentee_trn = $1 or mentor_trn = $1) and ended_on is null
            order by starts_on, mentor_trn, assignment_id""",
        trn,
    )
    mentoring = await conn.fetch(
        """select academic_year,
                  count(*) filter (where mentor_trn = $1) as sessions_as_mentor,
                  coalesce(sum(hours) filter (where mentor_trn = $1), 0) as hours_as_mentor,
                  count(*) filter (where mentee_trn = $1) as sessions_as_mentee,
                  coalesce(sum(hours) filter (where mentee_trn = $1), 0) as hours_as_mentee
             from mentoring_sessions
            where mentor_trn = $1 or mentee_trn = $1
            group by academic_year
            order by academic_year""",
        trn,
    )
    plan = await conn.fetchrow(
        """select academic_year, until_academic_year, goals, agreed_with, school_urn, agreed_at,
                  plans_agreed
             from development_plans where trn = $1""",
        trn,
    )
    schools = await conn.fetch(
        """select p.school_urn, s.name as school_name, s.trust_id, p.from_date, p.to_date
             from teacher_schools p left join schools s on s.urn = p.school_urn
            where p.trn = $1
            order by p.from_date, p.to_date nulls last""",
        trn,
    )
    return TeacherRecord(
        **dict(teacher),
        development_plan=DevelopmentPlan(**dict(plan)) if plan else None,
        plan_progress=_plan_progress(plan["goals"] if plan else [], requests),
        mentoring=[MentoringYear(**dict(row)) for row in mentoring],
        years=[YearRecord(**dict(row)) for row in years],
        hours_by_activity=[ActivityHours(**dict(row)) for row in by_activity],
        requests=[RequestRecord(**{k: r[k] for k in RequestRecord.model_fields}) for r in requests],
        current_mentors=[
            MentorLink(mentor_trn=m["mentor_trn"], programme=m["programme"], since=m["starts_on"])
            for m in mentorships
            if m["mentee_trn"] == trn
        ],
        mentees=[
            MenteeLink(mentee_trn=m["mentee_trn"], programme=m["programme"], since=m["starts_on"])
            for m in mentorships
            if m["mentor_trn"] == trn
        ],
        schools=[SchoolPeriod(**dict(row)) for row in schools],
        completed_courses=[
            CompletedCourse(
                request_id=r["request_id"],
                course_id=r["course_id"],
                title=r["course_title"],
                kind=r["kind"],
                completed_on=r["completed_on"],
                hours=r["hours"],
                rating=r["rating"],
            )
            for r in requests
            if r["status"] == "completed" and r["completed_on"] is not None
        ],
    )


def _plan_progress(goals: list[str], requests: list[Any]) -> list[GoalProgress]:
    progress = []
    for goal in goals:
        citing = [r for r in requests if r["plan_goal"] == goal]
        progress.append(
            GoalProgress(
                goal=goal,
                requests=len(citing),
                approved_or_completed=sum(
                    1 for r in citing if r["status"] in ("approved", "completed")
                ),
                completed=sum(1 for r in citing if r["status"] == "completed"),
            )
        )
    return progress


class TimelineEntry(BaseModel):
    """One event about a teacher, as recorded, with who did it."""

    seq: int = Field(description="Position in reporting's event log: pass as `after` to page")
    event_id: str
    event_type: str
    stream_id: str
    stream_version: int
    occurred_at: datetime
    actor: str = Field(description="Who did it (the user or system that sent the command)")
    correlation_id: str
    school_urn: Urn | None
    data: dict[str, Any] = Field(
        description="The event's data without free text (reflections, descriptions, evidence)"
    )


async def teacher_timeline(
    pool: Pool, trn: str, after: int = 0, limit: int = 100
) -> list[TimelineEntry]:
    """Every event about teacher ``trn``, in the order reporting received them, after ``after``.

    Read from the trust feeds' event log (reporting_feed.events), which is never rebuilt.
    """
    rows = await pool.fetch(
        """select seq, event_id::text, event_type, stream_id, stream_version, occurred_at, actor,
                  correlation_id, school_urn, data::text as data
             from reporting_feed.events
            where trn = $1 and seq > $2
            order by seq limit $3""",
        trn,
        after,
        limit,
    )
    return [TimelineEntry(**{**dict(row), "data": json.loads(row["data"])}) for row in rows]
