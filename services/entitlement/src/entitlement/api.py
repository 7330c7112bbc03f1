"""HTTP commands and the service's own queries."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated
from uuid import uuid4

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from cpd_events import Envelope
from cpd_events.registry_events import SchoolRegistered, TeacherRegistered
from cpd_events.types import (
    AcademicYear,
    ActivityType,
    Hours,
    Identifier,
    Name,
    Pence,
    Percent,
    Text,
    Trn,
    WebUrl,
)
from cpd_eventstore.application import load
from cpd_platform.http import PROBLEM_RESPONSES, metadata_of
from cpd_platform.runtime import runtime_of
from entitlement.app import Entitlement
from entitlement.consumers import course_offer
from entitlement.domain.policy import PublishPolicy, policy_decider, policy_stream
from entitlement.domain.teacher import ApproveCPD, LogHours, teacher_decider, teacher_stream
from entitlement.teacher_app import TeacherLifecycle

router = APIRouter(responses=PROBLEM_RESPONSES)
TrnPath = Annotated[Trn, Path(description="Teacher reference number")]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Accepted(BaseModel):
    """Events a command appended (empty when it repeated an already applied command)."""

    stream_id: str
    stream_version: int
    events: list[str]
    event_ids: list[str]


def accepted(envelopes: list[Envelope]) -> Accepted:
    last = envelopes[-1]
    return Accepted(
        stream_id=last.stream_id,
        stream_version=last.stream_version,
        events=[e.event_type for e in envelopes],
        event_ids=[str(e.event_id) for e in envelopes],
    )


def service(request: Request) -> Entitlement:
    return Entitlement(runtime_of(request).require_store())


class SchoolIn(SchoolRegistered, Body):
    """A school to register: its URN, name, local authority, phase and disadvantage."""


class TeacherIn(TeacherRegistered, Body):
    """A teacher to register at a registered school."""


class PolicyIn(Body):
    academic_year: AcademicYear
    minimum_hours: Hours
    base_funding_per_fte_pence: Pence
    pp50_uplift_percent: Percent
    early_career_uplift_percent: Percent
    effective_from: date


class GrantIn(Body):
    academic_year: AcademicYear


class CPDRequestIn(Body):
    request_id: Identifier = Field(default_factory=lambda: f"req-{uuid4().hex[:12]}")
    course_id: Identifier
    academic_year: AcademicYear
    reason: Text = Field(default="", description="Why, ideally linked to the development plan")
    plan_goal: Name | None = Field(
        default=None, description="A goal of the teacher's current development plan"
    )
    cohort_id: Identifier | None = Field(
        default=None, description="A cohort (run) of the course with a place left"
    )


class ApprovalIn(Body):
    approved_by: Name
    approver_trn: Trn | None = Field(
        default=None,
        description="The approver's TRN: when given, they must be the school's CPD lead (a trust"
        " CPD lead under a centralised trust)",
    )


class HoursIn(Body):
    log_id: Identifier = Field(default_factory=lambda: f"log-{uuid4().hex[:12]}")
    academic_year: AcademicYear
    hours: Hours = Field(gt=0, le=24)
    activity_type: ActivityType
    activity_date: date
    request_id: Identifier | None = None
    description: Text = ""
    evidence_url: WebUrl | None = Field(default=None, description="A link to evidence")
    reflection: Text = ""


@router.post("/schools", status_code=201, tags=["registry"], summary="Register a school")
async def register_school(body: SchoolIn, request: Request) -> Accepted:
    details = SchoolRegistered.model_validate(body.model_dump())
    return accepted(await service(request).register_school(details, metadata_of(request)))


@router.post("/teachers", status_code=201, tags=["registry"], summary="Register a teacher")
async def register_teacher(body: TeacherIn, request: Request) -> Accepted:
    details = TeacherRegistered.model_validate(body.model_dump())
    return accepted(await service(request).register_teacher(details, metadata_of(request)))


@router.post("/policies", status_code=201, tags=["entitlement"], summary="Publish a year's policy")
async def publish_policy(body: PolicyIn, request: Request) -> Accepted:
    command = PublishPolicy(**body.model_dump())
    published = accepted(await service(request).publish_policy(command, metadata_of(request)))
    runner = getattr(request.app.state, "grant_runner", None)
    if runner is not None:
        runner.wake()  # every active teacher is granted the year in the background
    return published


@router.post(
    "/teachers/{trn}/entitlements",
    status_code=201,
    tags=["entitlement"],
    summary="Grant a teacher's entitlement for a year under its published policy",
)
async def grant(trn: TrnPath, body: GrantIn, request: Request) -> Accepted:
    return accepted(await service(request).grant(trn, body.academic_year, metadata_of(request)))


@router.post("/teachers/{trn}/requests", status_code=201, tags=["requests"], summary="Request CPD")
async def request_cpd(trn: TrnPath, body: CPDRequestIn, request: Request) -> Accepted:
    envelopes = await TeacherLifecycle(runtime_of(request).require_store()).request_cpd(
        trn,
        body.request_id,
        body.academic_year,
        body.course_id,
        body.reason,
        metadata_of(request),
        plan_goal=body.plan_goal,
        cohort_id=body.cohort_id,
    )
    return accepted(envelopes)


@router.post(
    "/teachers/{trn}/requests/{request_id}/approve",
    status_code=201,
    tags=["requests"],
    summary="Approve a CPD request",
)
async def approve(
    trn: TrnPath, request_id: Identifier, body: ApprovalIn, request: Request
) -> Accepted:
    command = ApproveCPD(request_id, body.approved_by, body.approver_trn)
    return accepted(await service(request).approve(trn, command, metadata_of(request)))


@router.post(
    "/teachers/{trn}/hours",
    status_code=201,
    tags=["hours"],
    summary="Log CPD hours",
    description="More than 0 and at most 12 hours a day in all, not in the future, on a date"
    " inside the academic year named (1 September to 31 August).",
)
async def log_hours(trn: TrnPath, body: HoursIn, request: Request) -> Accepted:
    command = LogHours(**body.model_dump())
    lifecycle = TeacherLifecycle(runtime_of(request).require_store())
    return accepted(await lifecycle.log_hours(trn, command, metadata_of(request)))


class GrantOut(BaseModel):
    academic_year: str
    policy_version: int
    hours: Hours
    funding_pence: int


class RequestOut(BaseModel):
    request_id: str
    course_id: str
    academic_year: str
    cost_pence: int
    status: str


class TeacherOut(BaseModel):
    trn: str
    school_urn: str
    career_stage: str
    fte: Decimal
    left_profession: bool
    stream_version: int
    grants: list[GrantOut]
    requests: list[RequestOut]


@router.get("/teachers/{trn}", tags=["registry"], summary="A teacher's entitlement state")
async def get_teacher(trn: TrnPath, request: Request) -> TeacherOut:
    loaded = await load(runtime_of(request).require_store(), teacher_stream(trn), teacher_decider)
    state = loaded.state
    if not state.registered:
        raise HTTPException(404, f"no teacher {trn}")
    return TeacherOut(
        trn=state.trn,
        school_urn=state.school_urn,
        career_stage=state.career_stage,
        fte=state.fte,
        left_profession=state.left,
        stream_version=loaded.version,
        grants=[
            GrantOut(
                academic_year=g.academic_year,
                policy_version=g.policy_version,
                hours=g.hours,
                funding_pence=g.funding_pence,
            )
            for g in state.grants.values()
        ],
        requests=[
            RequestOut(
                request_id=rid,
                course_id=r.course_id,
                academic_year=r.academic_year,
                cost_pence=r.cost_pence,
                status=r.status,
            )
            for rid, r in state.requests.items()
        ],
    )


class PolicyOut(PolicyIn):
    model_config = ConfigDict(extra="ignore")
    policy_version: int


@router.get("/policies", tags=["entitlement"], summary="The current policy of an academic year")
async def get_policy(
    request: Request, academic_year: Annotated[AcademicYear, Query()]
) -> PolicyOut:
    loaded = await load(
        runtime_of(request).require_store(), policy_stream(academic_year), policy_decider
    )
    if loaded.state.current is None:
        raise HTTPException(404, f"no policy published for {academic_year}")
    return PolicyOut.model_validate(loaded.state.current.model_dump())


class CourseOut(BaseModel):
    course_id: str
    title: str
    price_pence: int
    hours: Hours
    retired: bool


@router.get(
    "/courses/{course_id}",
    tags=["catalogue replica"],
    summary="A course as entitlement knows it from catalogue events",
)
async def get_course(course_id: Identifier, request: Request) -> CourseOut:
    offer = await course_offer(runtime_of(request).require_pool(), course_id)
    if offer is None:
        raise HTTPException(404, f"no course {course_id} in entitlement's catalogue replica")
    return CourseOut(**offer.__dict__)
