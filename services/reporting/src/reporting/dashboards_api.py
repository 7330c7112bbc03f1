"""HTTP routes of the dashboards: school, trust, nation, region, local authority and course.

Each route reads one snapshot of the live read models, or of the as-of snapshot an operator
built (``as_of``). On-track figures are worked out for today, or for the as-of day.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, TypeVar

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from cpd_events.types import AcademicYear, Identifier, Region, TrustId, Urn, academic_year_of
from cpd_eventstore.db import Connection
from cpd_platform.http import PROBLEM_RESPONSES, problem
from cpd_platform.runtime import runtime_of
from reporting.dashboards import (
    AreaLevel,
    AreaSummary,
    CourseReport,
    CourseUptake,
    SchoolDashboard,
    TrustDashboard,
    area_summary,
    course_report,
    course_uptake,
    school_dashboard,
    trust_dashboard,
)
from reporting.reading import ReadModelUnavailable, read_model

router = APIRouter()

#: Today's date; tests replace it to pin the on-track figures to a day.
today: Callable[[], date] = date.today

#: Seconds a client is told to wait while the read models are being built.
RETRY_AFTER_SECONDS = 5

T = TypeVar("T", bound=BaseModel)

YearQuery = Annotated[
    AcademicYear | None,
    Query(description="Academic year, e.g. 2025/26 (default: the current one, or as_of's)"),
]
AsOfQuery = Annotated[
    date | None,
    Query(
        description="Read the snapshot of the read models as of this day (an operator builds"
        " it) instead of the live ones"
    ),
]
UrnPath = Annotated[Urn, Path(description="School unique reference number")]
TrustPath = Annotated[TrustId, Path(description="Trust group UID")]
CoursePath = Annotated[Identifier, Path(description="Course identifier")]
RegionPath = Annotated[Region, Path(description="Region of England")]
LocalAuthorityPath = Annotated[
    str, Path(min_length=1, max_length=100, description="Local authority name")
]


def _day(as_of: date | None) -> date:
    return as_of or today()


async def _serve(
    request: Request,
    as_of: date | None,
    query: Callable[[Connection], Awaitable[T | None]],
    missing: str,
) -> T | JSONResponse:
    try:
        async with read_model(runtime_of(request).require_pool(), as_of) as conn:
            result = await query(conn)
    except ReadModelUnavailable as error:
        if as_of is None:
            return problem(
                503,
                "Read models unavailable",
                str(error),
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        return problem(404, "No such snapshot", str(error))
    if result is None:
        return problem(404, "Not found", missing)
    return result


@router.get(
    "/schools/{urn}/dashboard",
    response_model=SchoolDashboard,
    summary="A school's CPD dashboard",
    description=(
        "Headcount and FTE, CPD lead, progress of the teachers to the year's minimum (on track"
        " pro rata to the day), hours, funding by pot, ECTs without a mentor, mentor capacity"
        " used and the courses its teachers ask for."
    ),
    tags=["dashboards"],
    responses=PROBLEM_RESPONSES,
)
async def get_school_dashboard(
    request: Request, urn: UrnPath, academic_year: YearQuery = None, as_of: AsOfQuery = None
) -> SchoolDashboard | JSONResponse:
    on = _day(as_of)
    year = academic_year or academic_year_of(on)
    return await _serve(
        request,
        as_of,
        lambda conn: school_dashboard(conn, urn, year, on),
        f"no school {urn} in the reporting read model",
    )


@router.get(
    "/trusts/{trust_id}/dashboard",
    response_model=TrustDashboard,
    summary="A trust's CPD dashboard",
    description=(
        "The school dashboard rolled up over the trust's schools, with a per-school breakdown,"
        " the funding model in force and central against delegated spending. Stock figures"
        " (headcount, progress, mentoring) are those of the schools in the trust today; flow"
        " figures (hours, requests, funding) count a school while it was in the trust."
    ),
    tags=["dashboards"],
    responses=PROBLEM_RESPONSES,
)
async def get_trust_dashboard(
    request: Request,
    trust_id: TrustPath,
    academic_year: YearQuery = None,
    as_of: AsOfQuery = None,
) -> TrustDashboard | JSONResponse:
    on = _day(as_of)
    year = academic_year or academic_year_of(on)
    return await _serve(
        request,
        as_of,
        lambda conn: trust_dashboard(conn, trust_id, year, on),
        f"no trust {trust_id} in the reporting read model",
    )


async def _area(
    request: Request,
    level: AreaLevel,
    name: str | None,
    academic_year: str | None,
    as_of: date | None,
) -> AreaSummary | JSONResponse:
    on = _day(as_of)
    year = academic_year or academic_year_of(on)
    return await _serve(
        request,
        as_of,
        lambda conn: area_summary(conn, level, name, year, on),
        f"no school in {level.replace('_', ' ')} {name!r}",
    )


_AREA_DESCRIPTION = (
    "Rollout (schools, CPD leads, teachers, grants, share on track), spending against"
    " entitlement and budgets, mentoring coverage and course uptake by kind and badge; in"
    " total, by phase and by disadvantage band (PP50 schools and the others)."
)


@router.get(
    "/areas/nation",
    response_model=AreaSummary,
    summary="National rollout and uptake",
    description=_AREA_DESCRIPTION,
    tags=["dashboards"],
    responses=PROBLEM_RESPONSES,
)
async def get_nation(
    request: Request, academic_year: YearQuery = None, as_of: AsOfQuery = None
) -> AreaSummary | JSONResponse:
    return await _area(request, "nation", None, academic_year, as_of)


@router.get(
    "/areas/regions/{region}",
    response_model=AreaSummary,
    summary="A region's rollout and uptake",
    description=_AREA_DESCRIPTION,
    tags=["dashboards"],
    responses=PROBLEM_RESPONSES,
)
async def get_region(
    request: Request,
    region: RegionPath,
    academic_year: YearQuery = None,
    as_of: AsOfQuery = None,
) -> AreaSummary | JSONResponse:
    return await _area(request, "region", region.value, academic_year, as_of)


@router.get(
    "/areas/local-authorities/{la}",
    response_model=AreaSummary,
    summary="A local authority's rollout and uptake",
    description=_AREA_DESCRIPTION,
    tags=["dashboards"],
    responses=PROBLEM_RESPONSES,
)
async def get_local_authority(
    request: Request,
    la: LocalAuthorityPath,
    academic_year: YearQuery = None,
    as_of: AsOfQuery = None,
) -> AreaSummary | JSONResponse:
    return await _area(request, "local_authority", la, academic_year, as_of)


@router.get(
    "/courses/uptake",
    response_model=CourseUptake,
    summary="National course uptake in a year",
    description="Requests, approvals and completions by course kind and badge, and top courses.",
    tags=["dashboards"],
    responses=PROBLEM_RESPONSES,
)
async def get_course_uptake(
    request: Request, academic_year: YearQuery = None, as_of: AsOfQuery = None
) -> CourseUptake | JSONResponse:
    on = _day(as_of)
    year = academic_year or academic_year_of(on)
    return await _serve(
        request, as_of, lambda conn: course_uptake(conn, year, on), "no course uptake"
    )


@router.get(
    "/courses/{course_id}/report",
    response_model=CourseReport,
    summary="A course's report",
    description=(
        "Enrolments, completions, average rating and cost per hour delivered of one course"
        " (since it was listed), and its requests in the academic year and in every year."
    ),
    tags=["dashboards"],
    responses=PROBLEM_RESPONSES,
)
async def get_course_report(
    request: Request,
    course_id: CoursePath,
    academic_year: YearQuery = None,
    as_of: AsOfQuery = None,
) -> CourseReport | JSONResponse:
    on = _day(as_of)
    year = academic_year or academic_year_of(on)
    return await _serve(
        request,
        as_of,
        lambda conn: course_report(conn, course_id, year, on),
        f"no course {course_id} in the reporting read model",
    )
