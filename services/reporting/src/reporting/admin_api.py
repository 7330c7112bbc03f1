"""Operator routes of reporting: generations of the read models (rebuild, as-of snapshots,
consistency check). The dead letters of its projections are served by the platform's
/admin/dead-letters routes like every other consumer's."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, Field

from cpd_platform.http import PROBLEM_RESPONSES
from cpd_platform.runtime import runtime_of
from reporting.generations import (
    Generation,
    consistency_check,
    create_generation,
    drop_generation,
    generation_lag,
    list_generations,
)
from reporting.service import Reporting

router = APIRouter(prefix="/admin/read-models", tags=["operations"], responses=PROBLEM_RESPONSES)


class GenerationOut(BaseModel):
    generation: int
    schema_name: str
    consumer_group: str
    model_version: int
    status: str = Field(
        description="building | live | retired | snapshot-building | snapshot | check"
    )
    as_of: date | None
    created_at: datetime
    live_since: datetime | None
    progress: dict[str, Any] = Field(
        description="This process's engine: events consumed, applied, parked, failed; rate"
    )
    lag_events: int | None = Field(
        default=None, description="Events on the topics not applied yet, all partitions"
    )


class SnapshotIn(BaseModel):
    as_of: date = Field(description="The read models as they stood at the end of this day (UTC)")


class TableCheckOut(BaseModel):
    table: str
    equal: bool
    live_rows: int
    rebuilt_rows: int
    live_checksum: str
    rebuilt_checksum: str


class CheckOut(BaseModel):
    consistent: bool
    tables: list[TableCheckOut]


def _reporting(request: Request) -> Reporting:
    reporting: Reporting = request.app.state.reporting
    return reporting


async def _out(request: Request, generation: Generation, with_lag: bool) -> GenerationOut:
    reporting = _reporting(request)
    lag = None
    if with_lag and generation.status in ("live", "building"):
        try:
            lag = await generation_lag(
                runtime_of(request).require_pool(), generation, reporting.engine_settings()
            )
        except Exception:  # the broker is away: leave the figure out
            lag = None
    return GenerationOut(
        generation=generation.generation,
        schema_name=generation.schema_name,
        consumer_group=generation.group_id,
        model_version=generation.model_version,
        status=generation.status,
        as_of=generation.as_of,
        created_at=generation.created_at,
        live_since=generation.live_since,
        progress=generation.progress,
        lag_events=lag,
    )


@router.get("", summary="Generations of the read models, their progress and lag")
async def generations(request: Request) -> list[GenerationOut]:
    found = await list_generations(runtime_of(request).require_pool())
    return [await _out(request, g, with_lag=True) for g in found]


@router.post(
    "/rebuild",
    status_code=202,
    summary="Rebuild the read models from the beginning of the topics, without downtime",
    description=(
        "Starts a new generation beside the live one; it goes live by itself once caught up."
        " Follow it with GET /admin/read-models. 409 if a rebuild is already running."
    ),
)
async def rebuild(request: Request) -> GenerationOut:
    pool = runtime_of(request).require_pool()
    if any(g.status == "building" for g in await list_generations(pool)):
        raise HTTPException(409, "a rebuild is already running")
    return await _out(request, await create_generation(pool), with_lag=False)


@router.post(
    "/snapshots",
    status_code=202,
    summary="Build the read models as they stood at the end of a past day",
    description=(
        "Replays the topics up to the end of `as_of` (events recorded later are skipped) into"
        " a generation of its own; every read route then answers for that day with"
        " `?as_of=`. 409 if one exists for the day."
    ),
)
async def snapshot(body: SnapshotIn, request: Request) -> GenerationOut:
    pool = runtime_of(request).require_pool()
    if body.as_of > date.today():
        raise HTTPException(422, "as_of: a snapshot is of a past or present day")
    if any(g.as_of == body.as_of for g in await list_generations(pool)):
        raise HTTPException(409, f"a snapshot as of {body.as_of} exists already")
    created = await create_generation(pool, status="snapshot-building", as_of=body.as_of)
    return await _out(request, created, with_lag=False)


@router.delete("/snapshots/{as_of}", status_code=204, summary="Drop an as-of snapshot")
async def drop_snapshot(as_of: Annotated[date, Path()], request: Request) -> None:
    pool = runtime_of(request).require_pool()
    found = [g for g in await list_generations(pool) if g.as_of == as_of]
    if not found:
        raise HTTPException(404, f"no snapshot as of {as_of}")
    await drop_generation(pool, found[0])


@router.post(
    "/check",
    summary="Compare the live read models with a clean rebuild, table by table",
    description=(
        "Rebuilds every read model from the topics into a scratch generation, waits until it"
        " and the live one have applied the same offsets, and compares row counts and"
        " checksums per table. Takes as long as a rebuild: use `cpd reporting check` at scale."
    ),
)
async def check(request: Request) -> CheckOut:
    pool = runtime_of(request).require_pool()
    try:
        tables = await consistency_check(pool, _reporting(request).engine_settings())
    except LookupError as error:
        raise HTTPException(503, str(error)) from None
    except TimeoutError as error:
        raise HTTPException(503, str(error)) from None
    return CheckOut(
        consistent=all(t.equal for t in tables),
        tables=[TableCheckOut(equal=t.equal, **t.__dict__) for t in tables],
    )
