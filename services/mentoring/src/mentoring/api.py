"""HTTP routes of mentoring: register mentors, set capacity, assign and end mentorships."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import uuid4

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, StringConstraints

from cpd_events import Envelope
from cpd_events.types import Identifier, MentoringProgramme, Trn, Urn
from cpd_platform.http import PROBLEM_RESPONSES, metadata_of
from cpd_platform.runtime import runtime_of
from mentoring import app as service
from mentoring.domain import (
    DEFAULT_CAPACITY,
    MAX_CAPACITY,
    AssignMentor,
    EndMentorship,
    RegisterMentor,
    SetMentorCapacity,
)

router = APIRouter(tags=["mentors"])

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


# --- request bodies ---------------------------------------------------------------------------


class RegisterMentorRequest(BaseModel):
    trn: Trn
    school_urn: Urn


class SetCapacityRequest(BaseModel):
    max_mentees: int = Field(ge=0, le=MAX_CAPACITY)


class AssignMentorRequest(BaseModel):
    assignment_id: Identifier | None = Field(
        default=None, description="Chosen by the caller, or generated as asg-<12 hex digits>"
    )
    mentee_trn: Trn
    school_urn: Urn
    programme: MentoringProgramme
    starts_on: date


class EndMentorshipRequest(BaseModel):
    ended_on: date
    reason: Reason


# --- responses --------------------------------------------------------------------------------


class MentorWritten(BaseModel):
    trn: str
    stream_id: str
    version: int


class AssignmentWritten(BaseModel):
    trn: str
    assignment_id: str
    stream_id: str
    version: int


class AssignmentView(BaseModel):
    assignment_id: str
    mentee_trn: str
    school_urn: str
    programme: MentoringProgramme
    starts_on: date
    active: bool
    ended_on: date | None
    end_reason: str | None


class MentorView(BaseModel):
    trn: str
    school_urn: str
    max_mentees: int = Field(description=f"{DEFAULT_CAPACITY} until a capacity is set")
    active_mentees: int
    assignments: list[AssignmentView]
    version: int


def _version(envelopes: list[Envelope]) -> int:
    return envelopes[-1].stream_version


# --- routes -----------------------------------------------------------------------------------


@router.post(
    "/mentors",
    status_code=201,
    responses=PROBLEM_RESPONSES,
    summary="Register a mentor (409 if registered already)",
)
async def register_mentor(body: RegisterMentorRequest, request: Request) -> MentorWritten:
    command = RegisterMentor(trn=body.trn, school_urn=body.school_urn)
    store = runtime_of(request).require_store()
    written = await service.decide(store, command, metadata_of(request))
    return MentorWritten(
        trn=body.trn, stream_id=service.mentor_stream(body.trn), version=_version(written)
    )


@router.post(
    "/mentors/{trn}/capacity",
    status_code=201,
    responses=PROBLEM_RESPONSES,
    summary="Set how many active mentees a mentor may hold",
)
async def set_capacity(trn: Trn, body: SetCapacityRequest, request: Request) -> MentorWritten:
    command = SetMentorCapacity(trn=trn, max_mentees=body.max_mentees)
    store = runtime_of(request).require_store()
    written = await service.decide(store, command, metadata_of(request))
    return MentorWritten(trn=trn, stream_id=service.mentor_stream(trn), version=_version(written))


@router.post(
    "/mentors/{trn}/assignments",
    status_code=201,
    responses=PROBLEM_RESPONSES,
    summary="Assign a mentee to a registered mentor within the mentor's capacity",
)
async def assign_mentor(trn: Trn, body: AssignMentorRequest, request: Request) -> AssignmentWritten:
    assignment_id = body.assignment_id or f"asg-{uuid4().hex[:12]}"
    command = AssignMentor(
        trn=trn,
        assignment_id=assignment_id,
        mentee_trn=body.mentee_trn,
        school_urn=body.school_urn,
        programme=body.programme,
        starts_on=body.starts_on,
    )
    store = runtime_of(request).require_store()
    written = await service.decide(store, command, metadata_of(request))
    return AssignmentWritten(
        trn=trn,
        assignment_id=assignment_id,
        stream_id=service.mentor_stream(trn),
        version=_version(written),
    )


@router.post(
    "/mentors/{trn}/assignments/{assignment_id}/end",
    status_code=201,
    responses=PROBLEM_RESPONSES,
    summary="End an active mentorship",
)
async def end_mentorship(
    trn: Trn, assignment_id: Identifier, body: EndMentorshipRequest, request: Request
) -> AssignmentWritten:
    command = EndMentorship(
        trn=trn, assignment_id=assignment_id, ended_on=body.ended_on, reason=body.reason
    )
    store = runtime_of(request).require_store()
    written = await service.decide(store, command, metadata_of(request))
    return AssignmentWritten(
        trn=trn,
        assignment_id=assignment_id,
        stream_id=service.mentor_stream(trn),
        version=_version(written),
    )


@router.get(
    "/mentors/{trn}",
    responses=PROBLEM_RESPONSES,
    summary="A mentor as their stream tells it: capacity and mentorships",
)
async def get_mentor(trn: Trn, request: Request) -> MentorView:
    loaded = await service.mentor_of(runtime_of(request).require_store(), trn)
    mentor = loaded.state
    return MentorView(
        trn=mentor.trn,
        school_urn=mentor.school_urn,
        max_mentees=mentor.max_mentees,
        active_mentees=len(mentor.active),
        assignments=[
            AssignmentView(
                assignment_id=a.assignment_id,
                mentee_trn=a.mentee_trn,
                school_urn=a.school_urn,
                programme=a.programme,
                starts_on=a.starts_on,
                active=a.active,
                ended_on=a.ended_on,
                end_reason=a.end_reason,
            )
            for a in mentor.assignments
        ],
        version=loaded.version,
    )
