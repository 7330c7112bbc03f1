"""HTTP routes of reporting: read models only (reporting decides nothing and writes no events)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request

from cpd_events.types import Trn
from cpd_platform.http import PROBLEM_RESPONSES
from cpd_platform.runtime import runtime_of
from reporting.queries import TeacherRecord, TimelineEntry, teacher_record, teacher_timeline
from reporting.reading import ReadModelUnavailable, read_model

#: ``seq`` is a bigint: a larger ``after`` is refused (422), not sent to the database
MAX_SEQ = 2**63 - 1

router = APIRouter()

TrnPath = Annotated[Trn, Path(description="Teacher reference number")]


@router.get(
    "/teachers/{trn}/record",
    tags=["teacher record"],
    summary="A teacher's portable CPD record",
    description=(
        "Entitlement, hours (in total and by activity type), funding, requests and current"
        " mentoring links of one teacher, per academic year, across school moves. Built from"
        " events, so it may lag the writing services by a moment."
    ),
    responses=PROBLEM_RESPONSES,
)
async def get_teacher_record(
    trn: TrnPath,
    request: Request,
    as_of: Annotated[
        date | None, Query(description="The record as it stood at the end of this day")
    ] = None,
) -> TeacherRecord:
    try:
        async with read_model(runtime_of(request).require_pool(), as_of) as conn:
            record = await teacher_record(conn, trn)
    except ReadModelUnavailable as unavailable:
        raise HTTPException(404 if as_of else 503, str(unavailable)) from None
    if record is None:
        raise HTTPException(404, f"no teacher {trn} in the reporting read model")
    return record


@router.get(
    "/teachers/{trn}/timeline",
    tags=["teacher record"],
    summary="Every event about a teacher, in order, with who did it",
    description=(
        "The audit timeline of one teacher: every event that names them, in the order"
        " reporting received them, with the actor and correlation id. Free text (reflections,"
        " descriptions, evidence links) is left out. Page with `after` = the last `seq`."
    ),
    responses=PROBLEM_RESPONSES,
)
async def get_teacher_timeline(
    trn: TrnPath,
    request: Request,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ, description="The last seq read")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[TimelineEntry]:
    return await teacher_timeline(runtime_of(request).require_pool(), trn, after, limit)
