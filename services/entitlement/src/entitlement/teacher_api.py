"""HTTP commands of a teacher's life in entitlement: moving school, leaving, closing requests,
correcting hours and agreeing a development plan (requesting CPD and logging hours are in
:mod:`entitlement.api`)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, Field

from cpd_events.types import AcademicYear, Hours, Identifier, Name, Text, Trn, Urn
from cpd_eventstore.application import load
from cpd_platform.http import PROBLEM_RESPONSES, metadata_of
from cpd_platform.runtime import runtime_of
from entitlement.api import Accepted, Body, accepted
from entitlement.domain.teacher import MAX_PLAN_GOALS, AgreePlan, teacher_decider, teacher_stream
from entitlement.teacher_app import TeacherLifecycle

router = APIRouter(responses=PROBLEM_RESPONSES)
TrnPath = Annotated[Trn, Path(description="Teacher reference number")]
RequestPath = Annotated[Identifier, Path(description="The request's id")]
LogPath = Annotated[Identifier, Path(description="The hours log's id")]


def lifecycle(request: Request) -> TeacherLifecycle:
    return TeacherLifecycle(runtime_of(request).require_store())


class MoveIn(Body):
    school_urn: Urn = Field(description="The registered school the teacher moves to")
    moved_on: date


class LeaveIn(Body):
    left_on: date
    reason: Text = ""


class DeclineIn(Body):
    declined_by: Name
    reason: Text = Field(min_length=1)
    decliner_trn: Trn | None = Field(
        default=None,
        description="The decider's TRN: when given, they must be the school's CPD lead (a trust"
        " CPD lead under a centralised trust), as for approvals",
    )


class WithdrawIn(Body):
    reason: Text = ""


class CompleteIn(Body):
    completed_on: date = Field(description="Not in the future")


class CorrectionIn(Body):
    corrected_hours: Hours = Field(description="The hours the log should record (0 to undo it)")
    reason: Text = Field(min_length=1)


class PlanIn(Body):
    academic_year: AcademicYear = Field(description="The first academic year the plan covers")
    until_academic_year: AcademicYear | None = Field(
        default=None, description="The last year of a multi-year plan (default: this year only)"
    )
    goals: list[Name] = Field(min_length=1, max_length=MAX_PLAN_GOALS)
    agreed_with: Name = Field(description="The CPD lead the teacher agreed the plan with")


@router.post(
    "/teachers/{trn}/move",
    status_code=201,
    tags=["registry"],
    summary="A teacher moves school: their record, requests and unspent entitlement follow them",
)
async def move(trn: TrnPath, body: MoveIn, request: Request) -> Accepted:
    envelopes = await lifecycle(request).move(
        trn, body.school_urn, body.moved_on, metadata_of(request)
    )
    return accepted(envelopes)


@router.post(
    "/teachers/{trn}/leave",
    status_code=201,
    tags=["registry"],
    summary="A teacher leaves the profession: every later command about them is refused",
)
async def leave(trn: TrnPath, body: LeaveIn, request: Request) -> Accepted:
    envelopes = await lifecycle(request).leave(trn, body.left_on, body.reason, metadata_of(request))
    return accepted(envelopes)


@router.post(
    "/teachers/{trn}/requests/{request_id}/decline",
    status_code=201,
    tags=["requests"],
    summary="Decline a requested CPD, with a reason",
)
async def decline(
    trn: TrnPath, request_id: RequestPath, body: DeclineIn, request: Request
) -> Accepted:
    envelopes = await lifecycle(request).decline(
        trn, request_id, body.declined_by, body.reason, body.decliner_trn, metadata_of(request)
    )
    return accepted(envelopes)


@router.post(
    "/teachers/{trn}/requests/{request_id}/withdraw",
    status_code=201,
    tags=["requests"],
    summary="Withdraw a requested or approved CPD (an approval's funding is released)",
)
async def withdraw(
    trn: TrnPath, request_id: RequestPath, body: WithdrawIn, request: Request
) -> Accepted:
    envelopes = await lifecycle(request).withdraw(
        trn, request_id, body.reason, metadata_of(request)
    )
    return accepted(envelopes)


@router.post(
    "/teachers/{trn}/requests/{request_id}/complete",
    status_code=201,
    tags=["requests"],
    summary="Complete an approved CPD (its funding is spent)",
)
async def complete(
    trn: TrnPath, request_id: RequestPath, body: CompleteIn, request: Request
) -> Accepted:
    envelopes = await lifecycle(request).complete(
        trn, request_id, body.completed_on, metadata_of(request)
    )
    return accepted(envelopes)


@router.post(
    "/teachers/{trn}/hours/{log_id}/correct",
    status_code=201,
    tags=["hours"],
    summary="Correct logged hours (a new event; the original log is never edited)",
)
async def correct_hours(
    trn: TrnPath, log_id: LogPath, body: CorrectionIn, request: Request
) -> Accepted:
    envelopes = await lifecycle(request).correct_hours(
        trn, log_id, body.corrected_hours, body.reason, metadata_of(request)
    )
    return accepted(envelopes)


@router.post(
    "/teachers/{trn}/plan",
    status_code=201,
    tags=["development plan"],
    summary="Agree a development plan (it replaces the current one and moves with the teacher)",
)
async def agree_plan(trn: TrnPath, body: PlanIn, request: Request) -> Accepted:
    command = AgreePlan(
        body.academic_year, tuple(body.goals), body.agreed_with, body.until_academic_year
    )
    return accepted(await lifecycle(request).agree_plan(trn, command, metadata_of(request)))


class PlanOut(BaseModel):
    academic_year: AcademicYear
    until_academic_year: AcademicYear | None
    goals: list[str]
    agreed_with: str
    school_urn: str = Field(description="The school the teacher was at when it was agreed")
    plans_agreed: int = Field(description="How many plans the teacher has agreed, this one too")


class HoursYearOut(BaseModel):
    academic_year: AcademicYear
    hours_logged: Hours
    minimum_hours: Hours | None = Field(description="The hours granted for the year, if any")
    minimum_met: bool


@router.get(
    "/teachers/{trn}/plan",
    tags=["development plan"],
    summary="A teacher's current development plan",
)
async def get_plan(trn: TrnPath, request: Request) -> PlanOut:
    state = (
        await load(runtime_of(request).require_store(), teacher_stream(trn), teacher_decider)
    ).state
    if not state.registered:
        raise HTTPException(404, f"no teacher {trn}")
    plan = state.plan
    if plan is None:
        raise HTTPException(404, f"teacher {trn} has no development plan")
    return PlanOut(
        academic_year=plan.academic_year,
        until_academic_year=plan.until_academic_year,
        goals=list(plan.goals),
        agreed_with=plan.agreed_with,
        school_urn=plan.school_urn,
        plans_agreed=len(state.plans),
    )


@router.get(
    "/teachers/{trn}/hours",
    tags=["hours"],
    summary="A teacher's logged hours per academic year against the year's minimum",
)
async def get_hours(trn: TrnPath, request: Request) -> list[HoursYearOut]:
    state = (
        await load(runtime_of(request).require_store(), teacher_stream(trn), teacher_decider)
    ).state
    if not state.registered:
        raise HTTPException(404, f"no teacher {trn}")
    years = sorted({e.academic_year for e in state.logs.values()} | set(state.grants))
    return [
        HoursYearOut(
            academic_year=year,
            hours_logged=state.hours_in(year),
            minimum_hours=state.grants[year].hours if year in state.grants else None,
            minimum_met=year in state.minimum_met,
        )
        for year in years
    ]
