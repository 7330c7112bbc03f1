"""HTTP routes of mentoring: mentors, mentorships, sessions, lead mentors, and queries."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated
from uuid import uuid4

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from cpd_events import Envelope
from cpd_events.mentoring_events import MAX_SESSION_MINUTES, LeadMentorDesignated
from cpd_events.types import CareerStage, Hours, Identifier, MentoringProgramme, Trn, Urn
from cpd_platform.http import PROBLEM_RESPONSES, metadata_of
from cpd_platform.runtime import runtime_of
from mentoring.app import Mentoring
from mentoring.consumers import ects_without_mentor, school_name, teacher_facts
from mentoring.domain import (
    DEFAULT_CAPACITY,
    MAX_CAPACITY,
    Assignment,
    Mentorship,
    mentee_stream,
    mentor_stream,
)
from mentoring.settings import MentoringSettings

router = APIRouter(responses=PROBLEM_RESPONSES)

#: Free text that must say something (leading and trailing blanks are stripped).
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


def service(request: Request) -> Mentoring:
    return Mentoring(runtime_of(request).require_store())


def settings_of(request: Request) -> MentoringSettings:
    settings: MentoringSettings = request.app.state.mentoring_settings
    return settings


def version_of(written: list[Envelope], stream_id: str) -> int:
    return max(e.stream_version for e in written if e.stream_id == stream_id)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid4().hex[:12]}"


# --- request bodies ---------------------------------------------------------------------------


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterMentorRequest(Body):
    trn: Trn
    school_urn: Urn = Field(description="The first school the mentor serves")


class AddSchoolRequest(Body):
    school_urn: Urn


class TrainingRequest(Body):
    course_id: Identifier = Field(description="The catalogue course of the mentor training")
    completed_on: date
    hours: Hours = Field(gt=0, description="CPD hours the training counts for")


class SetCapacityRequest(Body):
    max_mentees: int = Field(ge=0, le=MAX_CAPACITY)


class AssignMentorRequest(Body):
    assignment_id: Identifier | None = Field(
        default=None, description="Chosen by the caller, or generated as asg-<12 hex digits>"
    )
    mentee_trn: Trn
    school_urn: Urn | None = Field(
        default=None, description="The mentee's school (the default); the mentor must serve it"
    )
    programme: MentoringProgramme
    starts_on: date


class EndMentorshipRequest(Body):
    ended_on: date
    reason: Reason


class ReplaceMentorRequest(Body):
    new_mentor_trn: Trn
    assignment_id: Identifier | None = Field(
        default=None, description="Of the new mentorship; generated as asg-<12 hex digits>"
    )
    reason: Reason = Field(description="Why the current mentorship ends")
    on: date = Field(description="The current mentorship ends and the new one starts that day")


class SessionRequest(Body):
    session_id: Identifier | None = Field(
        default=None, description="Chosen by the caller, or generated as ses-<12 hex digits>"
    )
    assignment_id: Identifier
    held_on: date
    minutes: int = Field(ge=1, le=MAX_SESSION_MINUTES)
    focus: Reason = Field(description="What the session worked on")


class LeadMentorRequest(Body):
    trn: Trn = Field(description="A registered mentor serving the school")


# --- command responses ------------------------------------------------------------------------


class MentorWritten(BaseModel):
    trn: str
    stream_id: str
    version: int


class AssignmentWritten(BaseModel):
    trn: str = Field(description="The mentor")
    assignment_id: str
    mentee_trn: str
    stream_id: str
    version: int
    mentee_stream_id: str
    mentee_version: int


class ReplacementWritten(BaseModel):
    mentee_trn: str
    programme: MentoringProgramme
    ended_assignment_id: str
    previous_mentor_trn: str
    assignment_id: str
    new_mentor_trn: str
    versions: dict[str, int] = Field(description="Stream id -> version after the change")


class SessionWritten(BaseModel):
    trn: str
    session_id: str
    assignment_id: str
    hours: Decimal
    academic_year: str
    stream_id: str
    version: int


class LeadMentorWritten(BaseModel):
    school_urn: str
    trn: str
    replaces_trn: str | None
    stream_id: str
    version: int


# --- views ------------------------------------------------------------------------------------


class AssignmentView(BaseModel):
    assignment_id: str
    mentee_trn: str
    school_urn: str
    programme: MentoringProgramme
    starts_on: date
    active: bool
    ended_on: date | None
    end_reason: str | None


class TrainingView(BaseModel):
    course_id: str
    completed_on: date
    hours: Decimal


class SessionView(BaseModel):
    session_id: str
    assignment_id: str
    held_on: date
    minutes: int
    hours: Decimal
    focus: str


class MentorView(BaseModel):
    trn: str
    school_urn: str = Field(description="The school the mentor was registered at")
    schools: list[str] = Field(description="Every school the mentor serves")
    max_mentees: int = Field(description=f"{DEFAULT_CAPACITY} until a capacity is set")
    active_mentees: int
    assignments: list[AssignmentView]
    trainings: list[TrainingView]
    sessions: list[SessionView]
    version: int


class MentorshipView(BaseModel):
    assignment_id: str
    mentor_trn: str
    school_urn: str
    starts_on: date
    ended_on: date | None
    end_reason: str | None


class ProgrammeView(BaseModel):
    programme: MentoringProgramme
    active: MentorshipView | None
    past: list[MentorshipView]


class MenteeView(BaseModel):
    trn: str
    programmes: list[ProgrammeView] = Field(description="Programmes the teacher was mentored on")
    version: int


class LeadMentorView(BaseModel):
    school_urn: str
    trn: str
    previous: list[str] = Field(description="Earlier lead mentors, oldest first")
    version: int


class TeacherView(BaseModel):
    trn: str
    school_urn: str
    school_name: str | None
    career_stage: CareerStage
    registered_on: date
    left_on: date | None


class SchoolView(BaseModel):
    urn: str
    name: str


class UnmentoredEctView(BaseModel):
    trn: str
    school_urn: str
    career_stage: CareerStage
    registered_on: date
    without_mentor_since: date
    days_without_mentor: int


class EctsWithoutMentor(BaseModel):
    as_of: date
    grace_days: int
    school_urn: str | None
    ects: list[UnmentoredEctView]


def assignment_view(a: Assignment) -> AssignmentView:
    return AssignmentView(
        assignment_id=a.assignment_id,
        mentee_trn=a.mentee_trn,
        school_urn=a.school_urn,
        programme=a.programme,
        starts_on=a.starts_on,
        active=a.active,
        ended_on=a.ended_on,
        end_reason=a.end_reason,
    )


def mentorship_view(m: Mentorship) -> MentorshipView:
    return MentorshipView(
        assignment_id=m.assignment_id,
        mentor_trn=m.mentor_trn,
        school_urn=m.school_urn,
        starts_on=m.starts_on,
        ended_on=m.ended_on,
        end_reason=m.end_reason,
    )


# --- mentors ----------------------------------------------------------------------------------


@router.post(
    "/mentors",
    status_code=201,
    tags=["mentors"],
    summary="Register a teacher as a mentor at a school",
    description="The teacher must be registered and not have left the profession (404, 409),"
    " the school registered (404), as mentoring's registry replica knows them. 409 if the"
    " teacher is a mentor already.",
)
async def register_mentor(body: RegisterMentorRequest, request: Request) -> MentorWritten:
    written = await service(request).register_mentor(
        body.trn, body.school_urn, metadata_of(request)
    )
    stream_id = mentor_stream(body.trn)
    return MentorWritten(trn=body.trn, stream_id=stream_id, version=version_of(written, stream_id))


@router.post(
    "/mentors/{trn}/schools",
    status_code=201,
    tags=["mentors"],
    summary="A mentor serves one more school",
)
async def add_school(trn: Trn, body: AddSchoolRequest, request: Request) -> MentorWritten:
    written = await service(request).add_school(trn, body.school_urn, metadata_of(request))
    stream_id = mentor_stream(trn)
    return MentorWritten(trn=trn, stream_id=stream_id, version=version_of(written, stream_id))


@router.post(
    "/mentors/{trn}/training",
    status_code=201,
    tags=["mentors"],
    summary="A mentor completed mentor training (a catalogue course, counted as CPD hours)",
)
async def complete_training(trn: Trn, body: TrainingRequest, request: Request) -> MentorWritten:
    written = await service(request).complete_training(
        trn, body.course_id, body.completed_on, body.hours, metadata_of(request)
    )
    stream_id = mentor_stream(trn)
    return MentorWritten(trn=trn, stream_id=stream_id, version=version_of(written, stream_id))


@router.post(
    "/mentors/{trn}/capacity",
    status_code=201,
    tags=["mentors"],
    summary="Set how many active mentees a mentor may hold",
)
async def set_capacity(trn: Trn, body: SetCapacityRequest, request: Request) -> MentorWritten:
    written = await service(request).set_capacity(trn, body.max_mentees, metadata_of(request))
    stream_id = mentor_stream(trn)
    return MentorWritten(trn=trn, stream_id=stream_id, version=version_of(written, stream_id))


@router.post(
    "/mentors/{trn}/assignments",
    status_code=201,
    tags=["mentorships"],
    summary="Assign a mentor to a mentee for a programme",
    description="Refused when the teacher would mentor themselves (422), the mentor is not"
    " registered (404) or left the profession (409), the mentee is unknown (404) or left (409),"
    " the mentor does not serve the mentee's school (409), is at capacity (409), or the mentee"
    " has an active mentor on the programme already (409). Concurrent assignments for a last"
    " slot or for the same mentee: exactly one wins.",
)
async def assign_mentor(trn: Trn, body: AssignMentorRequest, request: Request) -> AssignmentWritten:
    assignment_id = body.assignment_id or new_id("asg")
    written = await service(request).assign(
        trn,
        assignment_id,
        body.mentee_trn,
        body.school_urn,
        body.programme,
        body.starts_on,
        metadata_of(request),
    )
    stream_id, mentee_stream_id = mentor_stream(trn), mentee_stream(body.mentee_trn)
    return AssignmentWritten(
        trn=trn,
        assignment_id=assignment_id,
        mentee_trn=body.mentee_trn,
        stream_id=stream_id,
        version=version_of(written, stream_id),
        mentee_stream_id=mentee_stream_id,
        mentee_version=version_of(written, mentee_stream_id),
    )


@router.post(
    "/mentors/{trn}/assignments/{assignment_id}/end",
    status_code=201,
    tags=["mentorships"],
    summary="End an active mentorship, with a reason",
)
async def end_mentorship(
    trn: Trn, assignment_id: Identifier, body: EndMentorshipRequest, request: Request
) -> MentorWritten:
    written = await service(request).end(
        trn, assignment_id, body.ended_on, body.reason, metadata_of(request)
    )
    stream_id = mentor_stream(trn)
    return MentorWritten(trn=trn, stream_id=stream_id, version=version_of(written, stream_id))


@router.post(
    "/mentees/{trn}/programmes/{programme}/replace",
    status_code=201,
    tags=["mentorships"],
    summary="Replace a mentee's mentor on a programme: end the current one, assign the new one",
    description="One transaction across the old mentor's, the new mentor's and the mentee's"
    " streams: all or nothing. The new mentor's rules are those of an assignment.",
)
async def replace_mentor(
    trn: Trn, programme: MentoringProgramme, body: ReplaceMentorRequest, request: Request
) -> ReplacementWritten:
    assignment_id = body.assignment_id or new_id("asg")
    written = await service(request).replace(
        trn,
        programme,
        body.new_mentor_trn,
        assignment_id,
        body.on,
        body.reason,
        metadata_of(request),
    )
    ended = next(e for e in written if e.event_type == "MentorshipEnded")
    versions: dict[str, int] = {}
    for envelope in written:
        versions[envelope.stream_id] = envelope.stream_version
    return ReplacementWritten(
        mentee_trn=trn,
        programme=programme,
        ended_assignment_id=ended.data["assignment_id"],
        previous_mentor_trn=ended.data["trn"],
        assignment_id=assignment_id,
        new_mentor_trn=body.new_mentor_trn,
        versions=versions,
    )


@router.post(
    "/mentors/{trn}/sessions",
    status_code=201,
    tags=["sessions"],
    summary="Log a mentoring session (CPD hours for mentor and mentee)",
    description="The assignment must be active with this mentor and the session held on or"
    " after its start; session ids are unique per mentor.",
)
async def log_session(trn: Trn, body: SessionRequest, request: Request) -> SessionWritten:
    session_id = body.session_id or new_id("ses")
    written = await service(request).log_session(
        trn,
        session_id,
        body.assignment_id,
        body.held_on,
        body.minutes,
        body.focus,
        metadata_of(request),
    )
    (logged,) = written
    return SessionWritten(
        trn=trn,
        session_id=session_id,
        assignment_id=body.assignment_id,
        hours=Decimal(logged.data["hours"]),
        academic_year=logged.data["academic_year"],
        stream_id=logged.stream_id,
        version=logged.stream_version,
    )


@router.post(
    "/schools/{urn}/lead-mentor",
    status_code=201,
    tags=["lead mentors"],
    summary="Designate the lead mentor of a school (replaces the current one)",
)
async def designate_lead_mentor(
    urn: Urn, body: LeadMentorRequest, request: Request
) -> LeadMentorWritten:
    written = await service(request).designate_lead(urn, body.trn, metadata_of(request))
    (designated,) = written
    event = LeadMentorDesignated.model_validate(designated.data)
    return LeadMentorWritten(
        school_urn=urn,
        trn=event.trn,
        replaces_trn=event.replaces_trn,
        stream_id=designated.stream_id,
        version=designated.stream_version,
    )


# --- queries ----------------------------------------------------------------------------------


@router.get(
    "/mentors/{trn}",
    tags=["mentors"],
    summary="A mentor as their stream tells it: schools, training, capacity, caseload, sessions",
)
async def get_mentor(trn: Trn, request: Request) -> MentorView:
    loaded = await service(request).mentor(trn)
    mentor = loaded.state
    return MentorView(
        trn=mentor.trn,
        school_urn=mentor.school_urn,
        schools=list(mentor.schools),
        max_mentees=mentor.max_mentees,
        active_mentees=len(mentor.active),
        assignments=[assignment_view(a) for a in mentor.assignments],
        trainings=[
            TrainingView(course_id=t.course_id, completed_on=t.completed_on, hours=t.hours)
            for t in mentor.trainings
        ],
        sessions=[
            SessionView(
                session_id=s.session_id,
                assignment_id=s.assignment_id,
                held_on=s.held_on,
                minutes=s.minutes,
                hours=s.hours,
                focus=s.focus,
            )
            for s in mentor.sessions
        ],
        version=loaded.version,
    )


@router.get(
    "/mentees/{trn}",
    tags=["mentorships"],
    summary="A mentee's active and past mentorships per programme (empty if never mentored)",
)
async def get_mentee(trn: Trn, request: Request) -> MenteeView:
    loaded = await service(request).mentee(trn)
    programmes = []
    for programme in MentoringProgramme:
        mentorships = [m for m in loaded.state.mentorships if m.programme == programme]
        if mentorships:
            active = next((m for m in mentorships if m.active), None)
            programmes.append(
                ProgrammeView(
                    programme=programme,
                    active=mentorship_view(active) if active else None,
                    past=[mentorship_view(m) for m in mentorships if not m.active],
                )
            )
    return MenteeView(trn=trn, programmes=programmes, version=loaded.version)


@router.get(
    "/schools/{urn}/lead-mentor",
    tags=["lead mentors"],
    summary="A school's lead mentor (404 if none is designated)",
)
async def get_lead_mentor(urn: Urn, request: Request) -> LeadMentorView:
    loaded = await service(request).lead_mentor(urn)
    if loaded.state.trn is None:
        raise HTTPException(404, f"school {urn} has no lead mentor")
    return LeadMentorView(
        school_urn=urn,
        trn=loaded.state.trn,
        previous=list(loaded.state.previous),
        version=loaded.version,
    )


@router.get(
    "/teachers/{trn}",
    tags=["registry replica"],
    summary="A teacher as mentoring knows them from registry events (404 until replicated)",
)
async def get_teacher(trn: Trn, request: Request) -> TeacherView:
    pool = runtime_of(request).require_pool()
    facts = await teacher_facts(pool, trn)
    if facts is None:
        raise HTTPException(404, f"no teacher {trn} in mentoring's registry replica")
    return TeacherView(
        trn=facts.trn,
        school_urn=facts.school_urn,
        school_name=await school_name(pool, facts.school_urn),
        career_stage=facts.career_stage,
        registered_on=facts.registered_on,
        left_on=facts.left_on,
    )


@router.get(
    "/schools/{urn}",
    tags=["registry replica"],
    summary="A school as mentoring knows it from registry events (404 until replicated)",
)
async def get_school(urn: Urn, request: Request) -> SchoolView:
    name = await school_name(runtime_of(request).require_pool(), urn)
    if name is None:
        raise HTTPException(404, f"no school {urn} in mentoring's registry replica")
    return SchoolView(urn=urn, name=name)


@router.get(
    "/flags/ects-without-mentor",
    tags=["flags"],
    summary="Early career teachers without an induction mentor for more than N days",
    description="ECTs (year 1 or 2, not left) whose registration, or the end of their last"
    " early career induction mentorship, lies more than `days` before `as_of` and who have no"
    " induction mentorship active on `as_of`. `days` defaults to CPD_ECT_MENTOR_GRACE_DAYS"
    " (20). Built from the replica and the mentorships read model: eventually consistent.",
)
async def get_ects_without_mentor(
    request: Request,
    as_of: Annotated[date | None, Query(description="Default: today")] = None,
    days: Annotated[int | None, Query(ge=0, le=3650, description="Grace period in days")] = None,
    school_urn: Annotated[Urn | None, Query(description="Only this school")] = None,
) -> EctsWithoutMentor:
    day = as_of or date.today()
    grace = settings_of(request).ect_mentor_grace_days if days is None else days
    found = await ects_without_mentor(runtime_of(request).require_pool(), day, grace, school_urn)
    return EctsWithoutMentor(
        as_of=day,
        grace_days=grace,
        school_urn=school_urn,
        ects=[UnmentoredEctView(**e.__dict__) for e in found],
    )
