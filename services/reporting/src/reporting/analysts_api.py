"""HTTP routes for analysts: list datasets, query a page of one, export one as CSV or Parquet.

Every route reads the live generation (or the as-of snapshot of ``as_of``) in one read-only
snapshot; teachers appear by pseudonym only (see :mod:`reporting.analyst_views`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import date
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.types import Receive, Scope, Send

from cpd_platform.http import PROBLEM_RESPONSES, FieldProblem, Problem, problem
from cpd_platform.runtime import runtime_of
from reporting.analysts import (
    DATASETS,
    FILTERS,
    MAX_LIMIT,
    QueryError,
    csv_chunks,
    dataset,
    open_export,
    parquet_chunks,
    query_page,
)
from reporting.reading import NoSuchSnapshot, ReadModelUnavailable, read_model

router = APIRouter(prefix="/analysts", tags=["analysts"])

RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "A filter, sort or cursor this dataset cannot take"},
    **PROBLEM_RESPONSES,
}

AsOf = Annotated[
    date | None,
    Query(description="Read the snapshot of the read models as of this day instead of live"),
]
Values = Annotated[list[str] | None, Query()]


class DatasetInfo(BaseModel):
    name: str
    description: str
    view: str = Field(description="The SQL view of the same rows, for the cpd_analyst role")
    columns: list[str]
    key: list[str] = Field(description="Unique key: the default sort, appended to any sort")
    sortable: list[str]
    filters: list[str]


class DatasetList(BaseModel):
    datasets: list[DatasetInfo]
    filters: dict[str, str] = Field(description="Every filter and its meaning")


class DatasetPage(BaseModel):
    dataset: str
    columns: list[str]
    rows: list[dict[str, Any]]
    next_cursor: str | None = Field(description="Pass as cursor= for the next page; null: last")


def _filters(
    academic_year: list[str] | None,
    region: list[str] | None,
    local_authority: list[str] | None,
    phase: list[str] | None,
    trust_id: list[str] | None,
    pp50: list[str] | None,
    course_kind: list[str] | None,
    badge: list[str] | None,
) -> dict[str, list[str]]:
    given = {
        "academic_year": academic_year,
        "region": region,
        "local_authority": local_authority,
        "phase": phase,
        "trust_id": trust_id,
        "pp50": pp50,
        "course_kind": course_kind,
        "badge": badge,
    }
    return {name: values for name, values in given.items() if values}


def _bad_query(error: QueryError) -> JSONResponse:
    if error.field == "name":
        return problem(404, "No such dataset", str(error))
    return problem(
        400,
        "Invalid query",
        str(error),
        [FieldProblem(field=error.field, message=error.message)],
    )


def _unavailable(error: ReadModelUnavailable) -> JSONResponse:
    if isinstance(error, NoSuchSnapshot):  # as the dashboards answer it
        return problem(404, "No such snapshot", str(error))
    return problem(503, "Read models unavailable", str(error), headers={"Retry-After": "30"})


@router.get(
    "/datasets",
    summary="The datasets analysts can query and export",
    description="Each dataset with its columns, unique key, sortable columns and filters.",
    responses=RESPONSES,
)
async def list_datasets() -> DatasetList:
    return DatasetList(
        datasets=[
            DatasetInfo(
                name=ds.name,
                description=ds.view.description,
                view=f"analytics.{ds.view.name}",
                columns=list(ds.columns),
                key=list(ds.key),
                sortable=list(ds.sortable),
                filters=sorted(ds.filters),
            )
            for ds in DATASETS.values()
        ],
        filters=FILTERS,
    )


@router.get(
    "/datasets/{name}",
    summary="A page of a dataset, filtered and sorted",
    description=(
        "Rows of the dataset matching every filter given (a filter repeated: any of its values),"
        " sorted by `sort` (`col,-col`; the dataset's key is appended so the order is total),"
        " `limit` at a time. Pass `next_cursor` as `cursor` with the same filters and sort for"
        " the next page: every row comes exactly once, even while the read models move on"
        " (each page is read afresh, so rows added meanwhile appear where they sort)."
    ),
    responses=RESPONSES,
    response_model=DatasetPage,
)
async def get_dataset_page(
    name: str,
    request: Request,
    academic_year: Values = None,
    region: Values = None,
    local_authority: Values = None,
    phase: Values = None,
    trust_id: Values = None,
    pp50: Annotated[list[str] | None, Query(description="'pp50' or 'other'")] = None,
    course_kind: Values = None,
    badge: Values = None,
    sort: Annotated[str | None, Query(description="e.g. `academic_year,-hours_logged`")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    as_of: AsOf = None,
) -> DatasetPage | JSONResponse:
    filters = _filters(
        academic_year, region, local_authority, phase, trust_id, pp50, course_kind, badge
    )
    try:
        ds = dataset(name)
        async with read_model(runtime_of(request).require_pool(), as_of) as conn:
            page = await query_page(conn, ds, filters, sort, limit, cursor)
    except QueryError as error:
        return _bad_query(error)
    except ReadModelUnavailable as error:
        return _unavailable(error)
    return DatasetPage(
        dataset=ds.name, columns=page.columns, rows=page.rows, next_cursor=page.next_cursor
    )


_MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}


@router.get(
    "/datasets/{name}/export",
    summary="A whole dataset, filtered, as CSV or Parquet (streamed)",
    description=(
        "Every row of the dataset matching the filters, in one snapshot, streamed as it is read"
        " (a server-side cursor, a chunk at a time): CSV with a header row, or one Parquet file"
        " (zstd, a row group per 50,000 rows; numeric columns as float64). Unordered unless"
        " `sort` is given."
    ),
    responses={
        **RESPONSES,
        200: {"content": {media: {} for media in _MEDIA_TYPES.values()}},
    },
    response_class=StreamingResponse,
    response_model=None,
)
async def export_dataset(
    name: str,
    request: Request,
    format: Annotated[Literal["csv", "parquet"], Query()] = "csv",
    academic_year: Values = None,
    region: Values = None,
    local_authority: Values = None,
    phase: Values = None,
    trust_id: Values = None,
    pp50: Annotated[list[str] | None, Query(description="'pp50' or 'other'")] = None,
    course_kind: Values = None,
    badge: Values = None,
    sort: Annotated[str | None, Query(description="e.g. `academic_year,-hours_logged`")] = None,
    as_of: AsOf = None,
) -> StreamingResponse | JSONResponse:
    filters = _filters(
        academic_year, region, local_authority, phase, trust_id, pp50, course_kind, badge
    )
    stack = AsyncExitStack()
    try:
        ds = dataset(name)
        conn = await stack.enter_async_context(
            read_model(runtime_of(request).require_pool(), as_of)
        )
        export = await open_export(conn, ds, filters, sort, numeric_as_float=format == "parquet")
    except BaseException as error:
        await stack.aclose()
        if isinstance(error, QueryError):
            return _bad_query(error)
        if isinstance(error, ReadModelUnavailable):
            return _unavailable(error)
        raise

    chunks = csv_chunks(export) if format == "csv" else parquet_chunks(export)

    async def close() -> None:
        with anyio.CancelScope(shield=True):  # release the connection even when cancelled
            try:
                await chunks.aclose()
            finally:
                await stack.aclose()

    stamp = (as_of or date.today()).isoformat()
    filename = f"{ds.name}-{stamp}.{format}"
    return _ExportResponse(
        chunks,
        close,
        media_type=_MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


class _ExportResponse(StreamingResponse):
    """A streamed export that gives its connection back however the response ends.

    ``close`` runs when the response is sent, and also when the client went away mid-stream
    (Starlette then stops iterating the body without closing it).
    """

    def __init__(
        self,
        content: AsyncIterator[bytes],
        close: Callable[[], Awaitable[None]],
        media_type: str,
        headers: dict[str, str],
    ) -> None:
        super().__init__(content, media_type=media_type, headers=headers)
        self._close = close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._close()
