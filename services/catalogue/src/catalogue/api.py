"""HTTP routes of the catalogue: commands on providers and courses, and their current state."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from catalogue import app as service
from catalogue.domain import ListCourse, RegisterProvider, RetireCourse
from cpd_events import Envelope
from cpd_events.types import CourseKind, Hours, Identifier, Name, Pence, Text
from cpd_platform.http import PROBLEM_RESPONSES, metadata_of
from cpd_platform.runtime import runtime_of

router = APIRouter()


# --- request bodies ---------------------------------------------------------------------------


class RegisterProviderRequest(BaseModel):
    provider_id: Identifier
    name: Name
    kind: Name = Field(examples=["npq_lead_provider", "university", "teaching_school_hub"])


class ListCourseRequest(BaseModel):
    course_id: Identifier
    provider_id: Identifier
    title: Name
    kind: CourseKind
    npq_type: Name | None = Field(default=None, examples=["NPQH"])
    subjects: list[Name] = []
    phases: list[Name] = []
    hours: Hours
    price_pence: Pence
    government_funded: bool = False
    delivery_mode: Name = "blended"
    evidence_summary: Text = ""


class RetireCourseRequest(BaseModel):
    reason: Text = ""


class BadgeCourseRequest(BaseModel):
    level: Name = Field(examples=["gold"])
    expires_on: date = Field(description="Must be after today")


# --- responses --------------------------------------------------------------------------------


class ProviderWritten(BaseModel):
    provider_id: str
    stream_id: str
    version: int


class CourseWritten(BaseModel):
    course_id: str
    stream_id: str
    version: int


class ProviderView(BaseModel):
    provider_id: str
    name: str
    kind: str
    version: int


class BadgeView(BaseModel):
    level: str
    expires_on: date


class CourseView(BaseModel):
    course_id: str
    provider_id: str
    title: str
    kind: CourseKind
    npq_type: str | None
    subjects: list[str]
    phases: list[str]
    hours: Decimal
    price_pence: int
    government_funded: bool
    delivery_mode: str
    evidence_summary: str
    badge: BadgeView | None
    retired: bool
    retirement_reason: str | None
    version: int


def _version(envelopes: list[Envelope]) -> int:
    return envelopes[-1].stream_version


# --- providers --------------------------------------------------------------------------------


@router.post(
    "/providers",
    status_code=201,
    responses=PROBLEM_RESPONSES,
    tags=["providers"],
    summary="Register a provider (409 if registered already)",
)
async def register_provider(body: RegisterProviderRequest, request: Request) -> ProviderWritten:
    command = RegisterProvider(provider_id=body.provider_id, name=body.name, kind=body.kind)
    store = runtime_of(request).require_store()
    written = await service.register_provider(store, command, metadata_of(request))
    return ProviderWritten(
        provider_id=body.provider_id,
        stream_id=service.provider_stream(body.provider_id),
        version=_version(written),
    )


@router.get(
    "/providers/{provider_id}",
    responses=PROBLEM_RESPONSES,
    tags=["providers"],
    summary="A provider as its stream tells it",
)
async def get_provider(provider_id: Identifier, request: Request) -> ProviderView:
    loaded = await service.provider_of(runtime_of(request).require_store(), provider_id)
    provider = loaded.state
    return ProviderView(
        provider_id=provider.provider_id,
        name=provider.name,
        kind=provider.kind,
        version=loaded.version,
    )


# --- courses ----------------------------------------------------------------------------------


@router.post(
    "/courses",
    status_code=201,
    responses=PROBLEM_RESPONSES,
    tags=["courses"],
    summary="List a course under a registered provider (once per course id)",
)
async def list_course(body: ListCourseRequest, request: Request) -> CourseWritten:
    command = ListCourse(
        course_id=body.course_id,
        provider_id=body.provider_id,
        title=body.title,
        kind=body.kind,
        npq_type=body.npq_type,
        subjects=tuple(body.subjects),
        phases=tuple(body.phases),
        hours=body.hours,
        price_pence=body.price_pence,
        government_funded=body.government_funded,
        delivery_mode=body.delivery_mode,
        evidence_summary=body.evidence_summary,
    )
    store = runtime_of(request).require_store()
    written = await service.list_course(store, command, metadata_of(request))
    return CourseWritten(
        course_id=body.course_id,
        stream_id=service.course_stream(body.course_id),
        version=_version(written),
    )


@router.post(
    "/courses/{course_id}/retire",
    status_code=201,
    responses=PROBLEM_RESPONSES,
    tags=["courses"],
    summary="Retire a course (409 if retired already)",
)
async def retire_course(
    course_id: Identifier, body: RetireCourseRequest, request: Request
) -> CourseWritten:
    command = RetireCourse(course_id=course_id, reason=body.reason)
    store = runtime_of(request).require_store()
    written = await service.retire_course(store, command, metadata_of(request))
    return CourseWritten(
        course_id=course_id, stream_id=service.course_stream(course_id), version=_version(written)
    )


@router.post(
    "/courses/{course_id}/badge",
    status_code=201,
    responses=PROBLEM_RESPONSES,
    tags=["courses"],
    summary="Badge a course for quality until a date after today",
)
async def badge_course(
    course_id: Identifier, body: BadgeCourseRequest, request: Request
) -> CourseWritten:
    store = runtime_of(request).require_store()
    written = await service.badge_course(
        store, course_id, body.level, body.expires_on, metadata_of(request)
    )
    return CourseWritten(
        course_id=course_id, stream_id=service.course_stream(course_id), version=_version(written)
    )


@router.get(
    "/courses/{course_id}",
    responses=PROBLEM_RESPONSES,
    tags=["courses"],
    summary="A course as its stream tells it",
)
async def get_course(course_id: Identifier, request: Request) -> CourseView:
    loaded = await service.course_of(runtime_of(request).require_store(), course_id)
    course = loaded.state
    badge = course.badge
    return CourseView(
        course_id=course.course_id,
        provider_id=course.provider_id,
        title=course.title,
        kind=course.kind,
        npq_type=course.npq_type,
        subjects=list(course.subjects),
        phases=list(course.phases),
        hours=course.hours,
        price_pence=course.price_pence,
        government_funded=course.government_funded,
        delivery_mode=course.delivery_mode,
        evidence_summary=course.evidence_summary,
        badge=BadgeView(level=badge.level, expires_on=badge.expires_on) if badge else None,
        retired=course.retired,
        retirement_reason=course.retirement_reason,
        version=loaded.version,
    )
