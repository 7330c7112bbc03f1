"""HTTP routes of reporting: read models only (reporting decides nothing and writes no events)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request

from cpd_events.types import Trn
from cpd_platform.http import PROBLEM_RESPONSES
from cpd_platform.runtime import runtime_of
from reporting.queries import TeacherRecord, teacher_record

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
async def get_teacher_record(trn: TrnPath, request: Request) -> TeacherRecord:
    record = await teacher_record(runtime_of(request).require_pool(), trn)
    if record is None:
        raise HTTPException(404, f"no teacher {trn} in the reporting read model")
    return record
