"""HTTP routes of the catalogue: commands on providers, courses, cohorts and feedback, and its
queries (a stream's current state, or the read model for search, uptake and ratings)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any
from uuid import uuid4

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from catalogue import app as service
from catalogue import queries
from catalogue.domain import (
    BadgeStatus,
    BookPlace,
    DeactivateProvider,
    ListCourse,
    RegisterProvider,
    RetireCourse,
    ScheduleCohort,
    UpdateCourse,
    UpdateProvider,
    badge_status,
)
from cpd_events import Envelope
from cpd_events.decider import Rule, RuleBroken
from cpd_events.types import (
    CareerStage,
    CourseKind,
    Hours,
    Identifier,
    Name,
    NpqType,
    Pence,
    ProviderKind,
    Text,
    Trn,
    Urn,
)
from cpd_platform.http import PROBLEM_RESPONSES, Offset, metadata_of
from cpd_platform.runtime import runtime_of

router = APIRouter(responses=PROBLEM_RESPONSES)


# --- request bodies ---------------------------------------------------------------------------


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterProviderRequest(Body):
    provider_id: Identifier
    name: Name
    kind: ProviderKind


class UpdateProviderRequest(Body):
    """Only the fields given change."""

    name: Name | None = None
    kind: ProviderKind | None = None


class DeactivateProviderRequest(Body):
    reason: Text


class ListCourseRequest(Body):
    course_id: Identifier
    provider_id: Identifier
    title: Name
    kind: CourseKind
    npq_type: NpqType | None = Field(
        default=None, description="Required for kind npq, absent otherwise", examples=["NPQH"]
    )
    subjects: list[Name] = []
    phases: list[Name] = Field(default=[], examples=[["primary", "secondary"]])
    career_stages: list[CareerStage] = Field(default=[], description="Career stages it suits")
    hours: Hours
    price_pence: Pence = Field(description="Price per participant in pence; 0 for internal")
    government_funded: bool = False
    delivery_mode: Name = Field(default="blended", examples=["online", "face_to_face"])
    evidence_summary: Text = ""


class UpdateCourseRequest(Body):
    """Only the fields given change; kind, NPQ type and provider never do."""

    title: Name | None = None
    subjects: list[Name] | None = None
    phases: list[Name] | None = None
    career_stages: list[CareerStage] | None = None
    hours: Hours | None = None
    price_pence: Pence | None = None
    government_funded: bool | None = None
    delivery_mode: Name | None = None
    evidence_summary: Text | None = None


class RetireCourseRequest(Body):
    reason: Text = ""


class BadgeCourseRequest(Body):
    level: Name = Field(examples=["gold"])
    expires_on: date = Field(description="After today; the badge is valid through this date")


class RevokeBadgeRequest(Body):
    reason: Text


class ScheduleCohortRequest(Body):
    cohort_id: Identifier = Field(default_factory=lambda: f"cohort-{uuid4().hex[:12]}")
    starts_on: date
    ends_on: date = Field(description="On or after starts_on")
    capacity: int = Field(gt=0, le=100_000, description="Places, at least 1", examples=[24])


class BookPlaceRequest(Body):
    booking_id: Identifier = Field(default_factory=lambda: f"bkg-{uuid4().hex[:12]}")
    trn: Trn
    school_urn: Urn


class FeedbackRequest(Body):
    trn: Trn
    rating: int = Field(ge=1, le=5, description="From 1 to 5", examples=[4])
    impact_note: Text = Field(description="What changed in your practice")


# --- responses --------------------------------------------------------------------------------


class Written(BaseModel):
    """Where a command's events went: 201 when it appended, 200 when nothing needed to change."""

    stream_id: str
    version: int
    events: list[str]


class ProviderWritten(Written):
    provider_id: str


class CourseWritten(Written):
    course_id: str


class CohortWritten(Written):
    cohort_id: str
    course_id: str


class BookingWritten(Written):
    booking_id: str
    cohort_id: str


class FeedbackWritten(Written):
    course_id: str
    trn: str


class ProviderView(BaseModel):
    provider_id: str
    name: str
    kind: ProviderKind
    active: bool
    deactivation_reason: str | None
    version: int


class BadgeView(BaseModel):
    level: str
    expires_on: date


class CourseView(BaseModel):
    course_id: str
    provider_id: str
    title: str
    kind: CourseKind
    npq_type: NpqType | None
    subjects: list[str]
    phases: list[str]
    career_stages: list[CareerStage]
    hours: Decimal
    price_pence: int
    government_funded: bool
    delivery_mode: str
    evidence_summary: str
    badge: BadgeView | None = Field(description="The last badge awarded, even if lapsed")
    badge_status: BadgeStatus = Field(description="badged, lapsed, revoked or none, as of today")
    retired: bool
    retirement_reason: str | None
    version: int


class CohortView(BaseModel):
    cohort_id: str
    course_id: str
    starts_on: date
    ends_on: date
    capacity: int
    booked: int
    places_left: int
    version: int


def _written(envelopes: list[Envelope]) -> dict[str, Any]:
    last = envelopes[-1]
    return {
        "stream_id": last.stream_id,
        "version": last.stream_version,
        "events": [e.event_type for e in envelopes],
    }


# --- providers --------------------------------------------------------------------------------


@router.post(
    "/providers",
    status_code=201,
    tags=["providers"],
    summary="Register a provider (409 if registered already)",
)
async def register_provider(body: RegisterProviderRequest, request: Request) -> ProviderWritten:
    command = RegisterProvider(provider_id=body.provider_id, name=body.name, kind=body.kind)
    store = runtime_of(request).require_store()
    written = await service.change_provider(store, command, metadata_of(request))
    return ProviderWritten(provider_id=body.provider_id, **_written(written))


@router.post(
    "/providers/{provider_id}/update",
    status_code=201,
    responses={200: {"model": ProviderWritten, "description": "Nothing needed to change"}},
    tags=["providers"],
    summary="Change a provider's name or kind (200 if it says so already)",
)
async def update_provider(
    provider_id: Identifier, body: UpdateProviderRequest, request: Request, response: Response
) -> ProviderWritten:
    command = UpdateProvider(provider_id=provider_id, name=body.name, kind=body.kind)
    store = runtime_of(request).require_store()
    written = await service.change_provider(store, command, metadata_of(request))
    if not written:
        response.status_code = 200
        loaded = await service.provider_of(store, provider_id)
        return ProviderWritten(
            provider_id=provider_id, stream_id=loaded.stream_id, version=loaded.version, events=[]
        )
    return ProviderWritten(provider_id=provider_id, **_written(written))


@router.post(
    "/providers/{provider_id}/deactivate",
    status_code=201,
    tags=["providers"],
    summary="Deactivate a provider: it lists no new courses; its courses stay readable",
)
async def deactivate_provider(
    provider_id: Identifier, body: DeactivateProviderRequest, request: Request
) -> ProviderWritten:
    command = DeactivateProvider(provider_id=provider_id, reason=body.reason)
    store = runtime_of(request).require_store()
    written = await service.change_provider(store, command, metadata_of(request))
    return ProviderWritten(provider_id=provider_id, **_written(written))


@router.get(
    "/providers",
    tags=["providers"],
    summary="Providers by kind (read model: follows the topic closely, may lag a command)",
)
async def providers(
    request: Request,
    kind: Annotated[ProviderKind | None, Query()] = None,
    active: Annotated[bool | None, Query()] = None,
) -> list[queries.ProviderSummary]:
    return await queries.list_providers(runtime_of(request).require_pool(), kind, active)


@router.get(
    "/providers/{provider_id}",
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
        active=provider.active,
        deactivation_reason=provider.deactivation_reason,
        version=loaded.version,
    )


# --- courses ----------------------------------------------------------------------------------


@router.post(
    "/courses",
    status_code=201,
    tags=["courses"],
    summary="List a course under an active provider (once per course id)",
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
        career_stages=tuple(body.career_stages),
        hours=body.hours,
        price_pence=body.price_pence,
        government_funded=body.government_funded,
        delivery_mode=body.delivery_mode,
        evidence_summary=body.evidence_summary,
    )
    store = runtime_of(request).require_store()
    written = await service.list_course(store, command, metadata_of(request))
    return CourseWritten(course_id=body.course_id, **_written(written))


@router.post(
    "/courses/{course_id}/update",
    status_code=201,
    responses={200: {"model": CourseWritten, "description": "Nothing needed to change"}},
    tags=["courses"],
    summary="Change a listed course's details (409 if retired; 200 if it says so already)",
)
async def update_course(
    course_id: Identifier, body: UpdateCourseRequest, request: Request, response: Response
) -> CourseWritten:
    command = UpdateCourse(
        course_id=course_id,
        title=body.title,
        subjects=None if body.subjects is None else tuple(body.subjects),
        phases=None if body.phases is None else tuple(body.phases),
        career_stages=None if body.career_stages is None else tuple(body.career_stages),
        hours=body.hours,
        price_pence=body.price_pence,
        government_funded=body.government_funded,
        delivery_mode=body.delivery_mode,
        evidence_summary=body.evidence_summary,
    )
    store = runtime_of(request).require_store()
    written = await service.change_course(store, command, metadata_of(request))
    if not written:
        response.status_code = 200
        loaded = await service.course_of(store, course_id)
        return CourseWritten(
            course_id=course_id, stream_id=loaded.stream_id, version=loaded.version, events=[]
        )
    return CourseWritten(course_id=course_id, **_written(written))


@router.post(
    "/courses/{course_id}/retire",
    status_code=201,
    tags=["courses"],
    summary="Retire a course: it stays readable, flagged retired (409 if retired already)",
)
async def retire_course(
    course_id: Identifier, body: RetireCourseRequest, request: Request
) -> CourseWritten:
    command = RetireCourse(course_id=course_id, reason=body.reason)
    store = runtime_of(request).require_store()
    written = await service.change_course(store, command, metadata_of(request))
    return CourseWritten(course_id=course_id, **_written(written))


@router.post(
    "/courses/{course_id}/badge",
    status_code=201,
    tags=["badges"],
    summary="Award or renew a course's quality badge, valid through a date after today",
)
async def badge_course(
    course_id: Identifier, body: BadgeCourseRequest, request: Request
) -> CourseWritten:
    store = runtime_of(request).require_store()
    written = await service.badge_course(
        store, course_id, body.level, body.expires_on, metadata_of(request)
    )
    return CourseWritten(course_id=course_id, **_written(written))


@router.post(
    "/courses/{course_id}/badge/revoke",
    status_code=201,
    tags=["badges"],
    summary="Revoke a course's valid badge (409 if it has none, or it lapsed)",
)
async def revoke_badge(
    course_id: Identifier, body: RevokeBadgeRequest, request: Request
) -> CourseWritten:
    store = runtime_of(request).require_store()
    written = await service.revoke_badge(store, course_id, body.reason, metadata_of(request))
    return CourseWritten(course_id=course_id, **_written(written))


@router.get(
    "/courses",
    tags=["courses"],
    summary="Search courses (read model): filters combine with AND; free text over title, NPQ "
    "type and evidence summary",
)
async def search_courses(
    request: Request,
    kind: Annotated[CourseKind | None, Query()] = None,
    npq_type: Annotated[NpqType | None, Query()] = None,
    subject: Annotated[str | None, Query(max_length=200)] = None,
    phase: Annotated[str | None, Query(max_length=200)] = None,
    career_stage: Annotated[CareerStage | None, Query()] = None,
    badged: Annotated[bool | None, Query(description="A badge valid today, or not")] = None,
    badge_status: Annotated[BadgeStatus | None, Query()] = None,
    max_price_pence: Annotated[int | None, Query(ge=0)] = None,
    government_funded: Annotated[bool | None, Query()] = None,
    provider_id: Annotated[Identifier | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=200, description="Free text")] = None,
    include_retired: Annotated[bool, Query()] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> queries.CoursePage:
    where = queries.CourseFilter(
        kind=kind,
        npq_type=npq_type,
        subject=subject,
        phase=phase,
        career_stage=career_stage,
        badged=badged,
        badge_status=badge_status,
        max_price_pence=max_price_pence,
        government_funded=government_funded,
        provider_id=provider_id,
        q=q,
        include_retired=include_retired,
    )
    pool = runtime_of(request).require_pool()
    return await queries.search_courses(pool, where, service.today(), limit, offset)


@router.get(
    "/courses/{course_id}",
    tags=["courses"],
    summary="A course as its stream tells it, flagged if retired or not badged",
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
        career_stages=list(course.career_stages),
        hours=course.hours,
        price_pence=course.price_pence,
        government_funded=course.government_funded,
        delivery_mode=course.delivery_mode,
        evidence_summary=course.evidence_summary,
        badge=BadgeView(level=badge.level, expires_on=badge.expires_on) if badge else None,
        badge_status=badge_status(course, service.today()),
        retired=course.retired,
        retirement_reason=course.retirement_reason,
        version=loaded.version,
    )


@router.get(
    "/courses/{course_id}/stats",
    tags=["courses"],
    summary="A course's uptake (requests, approvals, completions, places booked) and rating",
)
async def course_stats(course_id: Identifier, request: Request) -> queries.CourseStats:
    stats = await queries.course_stats(runtime_of(request).require_pool(), course_id)
    if stats is None:
        raise RuleBroken(f"course {course_id} is not in the read model (yet)", Rule.NOT_FOUND)
    return stats


# --- cohorts ----------------------------------------------------------------------------------


@router.post(
    "/courses/{course_id}/cohorts",
    status_code=201,
    tags=["cohorts"],
    summary="Schedule a run of a listed, unretired course with dates and capacity",
)
async def schedule_cohort(
    course_id: Identifier, body: ScheduleCohortRequest, request: Request
) -> CohortWritten:
    command = ScheduleCohort(
        cohort_id=body.cohort_id,
        course_id=course_id,
        starts_on=body.starts_on,
        ends_on=body.ends_on,
        capacity=body.capacity,
    )
    store = runtime_of(request).require_store()
    written = await service.schedule_cohort(store, command, metadata_of(request))
    return CohortWritten(cohort_id=body.cohort_id, course_id=course_id, **_written(written))


@router.get(
    "/courses/{course_id}/cohorts",
    tags=["cohorts"],
    summary="A course's cohorts and places left (read model)",
)
async def course_cohorts(course_id: Identifier, request: Request) -> list[queries.CohortSummary]:
    return await queries.cohorts_of(runtime_of(request).require_pool(), course_id)


@router.post(
    "/cohorts/{cohort_id}/bookings",
    status_code=201,
    tags=["cohorts"],
    summary="Book a teacher's place (409 when full, retired, ended or booked already)",
)
async def book_place(
    cohort_id: Identifier, body: BookPlaceRequest, request: Request
) -> BookingWritten:
    command = BookPlace(
        cohort_id=cohort_id,
        booking_id=body.booking_id,
        trn=body.trn,
        school_urn=body.school_urn,
        today=service.today(),
    )
    store = runtime_of(request).require_store()
    written = await service.book_place(store, command, metadata_of(request))
    return BookingWritten(booking_id=body.booking_id, cohort_id=cohort_id, **_written(written))


@router.get(
    "/cohorts/{cohort_id}",
    tags=["cohorts"],
    summary="A cohort and its places left, as its stream tells it",
)
async def get_cohort(cohort_id: Identifier, request: Request) -> CohortView:
    loaded = await service.cohort_of(runtime_of(request).require_store(), cohort_id)
    cohort = loaded.state
    return CohortView(
        cohort_id=cohort.cohort_id,
        course_id=cohort.course_id,
        starts_on=cohort.starts_on,
        ends_on=cohort.ends_on,
        capacity=cohort.capacity,
        booked=cohort.booked,
        places_left=cohort.places_left,
        version=loaded.version,
    )


# --- feedback ---------------------------------------------------------------------------------


@router.post(
    "/courses/{course_id}/feedback",
    status_code=201,
    tags=["feedback"],
    summary="A teacher who completed the course rates it from 1 to 5, once",
)
async def submit_feedback(
    course_id: Identifier, body: FeedbackRequest, request: Request
) -> FeedbackWritten:
    runtime = runtime_of(request)
    written = await service.submit_feedback(
        runtime.require_store(),
        runtime.require_pool(),
        course_id,
        body.trn,
        body.rating,
        body.impact_note,
        metadata_of(request),
    )
    return FeedbackWritten(course_id=course_id, trn=body.trn, **_written(written))
