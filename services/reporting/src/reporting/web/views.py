"""The web dashboard's pages, served by reporting under ``/ui`` (left out of the OpenAPI).

Pages are rendered on the server from the same query functions as the JSON API, in one
read-only snapshot of the live read models each, so every table works without JavaScript.
``static/live.js`` polls ``/ui/live/version`` every 2 seconds and, when the read models moved,
fetches the page again and swaps the parts marked ``data-live``: figures follow events without
a reload.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from cpd_eventstore.db import Pool
from cpd_platform.runtime import runtime_of
from reporting import analysts_api, dashboards_api
from reporting.analysts import DATASETS, FILTERS, QueryError, query_page
from reporting.dashboards import area_summary, trust_dashboard, year_elapsed
from reporting.feeds.credentials import list_credentials
from reporting.feeds.webhooks import list_webhooks
from reporting.queries import teacher_record, teacher_timeline
from reporting.reading import ReadModelUnavailable, read_model
from reporting.web import queries
from reporting.web.auth import (
    COOKIE,
    SESSION_SECONDS,
    Authority,
    Session,
    key_still_live,
    resolve_operator_token,
)
from reporting.web.formatting import FILTERS as FORMAT_FILTERS
from reporting.web.formatting import share
from reporting.web.health import HealthCache

router = APIRouter(prefix="/ui", include_in_schema=False)

_TRUST_ID = re.compile(r"^\d{1,10}$")
_TRN = re.compile(r"^\d{7}$")
_YEAR = re.compile(r"^\d{4}/\d{2}$")
#: Rows of a dataset shown per page in the analysts' view.
ANALYST_PAGE_ROWS = 50

templates = Environment(
    loader=PackageLoader("reporting.web", "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.filters.update(FORMAT_FILTERS)
templates.globals["share"] = share


@dataclass
class WebState:
    """What the pages keep per process (``app.state.web``)."""

    operator_token: str | None = None
    health: HealthCache = field(default_factory=HealthCache)
    _authority: Authority | None = None

    @property
    def authority(self) -> Authority:
        if self._authority is None:
            self._authority = Authority(self.operator_token or resolve_operator_token())
        return self._authority


def web_state(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


def _pool(request: Request) -> Pool:
    return runtime_of(request).require_pool()


def _bootstrap(request: Request) -> str | None:
    servers = runtime_of(request).settings.kafka_bootstrap_servers
    return servers or None


# --------------------------------------------------------------------------------------------
# Rendering


_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
        " form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def render(
    request: Request,
    template: str,
    session: Session | None,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    html = templates.get_template(template).render(
        request=request, session=session, path=request.url.path, **context
    )
    return HTMLResponse(html, status_code=status, headers={**_SECURITY_HEADERS, **(headers or {})})


def problem_page(
    request: Request, session: Session | None, status: int, title: str, detail: str
) -> HTMLResponse:
    headers = {"Retry-After": "5"} if status == 503 else None
    return render(request, "problem.html", session, status, headers, title=title, detail=detail)


def _unavailable(request: Request, session: Session | None, error: Exception) -> HTMLResponse:
    return problem_page(
        request,
        session,
        503,
        "The figures are not ready yet",
        f"{error} This page will work again in a moment.",
    )


def _forbidden(request: Request, session: Session) -> HTMLResponse:
    return problem_page(
        request,
        session,
        403,
        "You cannot see this page",
        "You are signed in for another trust. A trust can only see its own schools, teachers"
        " and feeds.",
    )


# --------------------------------------------------------------------------------------------
# Sessions


async def current_session(request: Request) -> Session | None:
    session = web_state(request).authority.read_cookie(request.cookies.get(COOKIE))
    if session is None:
        return None
    if not await key_still_live(_pool(request), session):
        return None
    return session


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/ui/login?{urlencode({'next': target})}", status_code=303)


def _home(session: Session) -> str:
    return "/ui/national" if session.is_operator else f"/ui/trusts/{session.trust_id}"


def _safe_next(value: str | None) -> str | None:
    if value and value.startswith("/ui/") and not value.startswith("//"):
        return value
    return None


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
async def index(request: Request) -> Response:
    session = await current_session(request)
    if session is None:
        return _to_login(request)
    return RedirectResponse(_home(session), status_code=303)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", None, next=_safe_next(next), error=None)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    form = parse_qs((await request.body()).decode(errors="replace"))
    credential = (form.get("credential") or [""])[0]
    target = _safe_next((form.get("next") or [""])[0])
    guard = getattr(request.app.state, "auth", None)  # the platform's token verifier
    session = await web_state(request).authority.sign_in(
        _pool(request), credential, getattr(guard, "verifier", None)
    )
    if session is None:
        error = (
            "Enter your operator token or your trust's API key"
            if not credential.strip()
            else "The token or key is not right, or the key was revoked"
        )
        return render(request, "login.html", None, 401, next=target, error=error)
    response = RedirectResponse(target or _home(session), status_code=303)
    response.set_cookie(
        COOKIE,
        web_state(request).authority.cookie_value(session),
        max_age=SESSION_SECONDS,
        path="/ui",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
async def logout() -> Response:
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/ui")
    return response


# --------------------------------------------------------------------------------------------
# Live updates


@router.get("/live/version")
async def live_version(request: Request) -> Response:
    """What changes when the figures on any page do (the JavaScript polls it)."""
    session = await current_session(request)
    if session is None:
        return JSONResponse({"detail": "sign in"}, status_code=401)
    try:
        async with read_model(_pool(request)) as conn:
            version = await queries.data_version(conn)
    except ReadModelUnavailable:
        version = "unavailable"
    if session.is_operator:
        version += "|" + web_state(request).health.stamp
    return JSONResponse({"version": version}, headers={"Cache-Control": "no-store"})


def _year(requested: str | None) -> str | None:
    return requested if requested and _YEAR.match(requested) else None


# --------------------------------------------------------------------------------------------
# Operators: the nation


@router.get("/national", response_class=HTMLResponse)
async def national(request: Request, academic_year: str | None = None) -> Response:
    session = await current_session(request)
    if session is None:
        return _to_login(request)
    if not session.is_operator:
        return _forbidden(request, session)
    on = dashboards_api.today()
    try:
        async with read_model(_pool(request)) as conn:
            year = _year(academic_year) or await queries.default_academic_year(conn, on)
            years = await queries.academic_years(conn, on)
            summary = await area_summary(conn, "nation", None, year, on)
            breakdown = await queries.area_breakdown(conn, year, on)
            version = await queries.data_version(conn)
    except ReadModelUnavailable as error:
        return _unavailable(request, session, error)
    assert summary is not None  # the nation always has a total
    health = web_state(request).health.current(_pool(request), _bootstrap(request))
    regions = [row for row in breakdown if row.local_authority is None]
    badges: dict[str, int] = {}
    for uptake in summary.course_uptake:
        badge = uptake.badge_level or "none"
        badges[badge] = badges.get(badge, 0) + uptake.requests
    return render(
        request,
        "national.html",
        session,
        title="National rollout",
        year=year,
        years=years,
        on=on,
        elapsed=float(year_elapsed(year, on)) * 100,
        summary=summary,
        regions=regions,
        local_authorities=[row for row in breakdown if row.local_authority is not None],
        badges=sorted(badges.items(), key=lambda kv: -kv[1]),
        health=health,
        version=version,
    )


@router.get("/health", response_class=HTMLResponse)
async def health_page(request: Request) -> Response:
    session = await current_session(request)
    if session is None:
        return _to_login(request)
    if not session.is_operator:
        return _forbidden(request, session)
    health = await web_state(request).health.fresh(_pool(request), _bootstrap(request))
    return render(request, "health.html", session, title="Platform health", health=health)


@router.get("/trusts", response_class=HTMLResponse)
async def trust_list(request: Request, q: str | None = None) -> Response:
    session = await current_session(request)
    if session is None:
        return _to_login(request)
    if not session.is_operator:
        return RedirectResponse(_home(session), status_code=303)
    try:
        async with read_model(_pool(request)) as conn:
            found = await queries.trusts(conn, (q or "").strip()[:100] or None)
    except ReadModelUnavailable as error:
        return _unavailable(request, session, error)
    return render(request, "trusts.html", session, title="Trusts", trusts=found, q=q or "")


# --------------------------------------------------------------------------------------------
# A trust


@router.get("/trusts/{trust_id}", response_class=HTMLResponse)
async def trust_page(request: Request, trust_id: str, academic_year: str | None = None) -> Response:
    session = await current_session(request)
    if session is None:
        return _to_login(request)
    if not session.may_see_trust(trust_id):
        return _forbidden(request, session)
    if not _TRUST_ID.match(trust_id):
        return problem_page(request, session, 404, "Page not found", "No such trust.")
    on = dashboards_api.today()
    pool = _pool(request)
    try:
        async with read_model(pool) as conn:
            year = _year(academic_year) or await queries.default_academic_year(conn, on)
            years = await queries.academic_years(conn, on)
            dashboard = await trust_dashboard(conn, trust_id, year, on)
            if dashboard is None:
                return problem_page(
                    request, session, 404, "Trust not found", f"No trust {trust_id} is known yet."
                )
            pending = await queries.pending_requests(conn, trust_id, year)
            behind = await queries.teachers_behind(conn, trust_id, year, on)
            ects = await queries.ects_without_mentor(conn, trust_id)
            version = await queries.data_version(conn)
    except ReadModelUnavailable as error:
        return _unavailable(request, session, error)
    webhooks = await list_webhooks(pool, trust_id, attempts=3)
    keys = await list_credentials(pool, trust_id)
    return render(
        request,
        "trust.html",
        session,
        title=dashboard.name or f"Trust {trust_id}",
        year=year,
        years=years,
        on=on,
        trust=dashboard,
        pending=pending,
        behind=behind,
        ects=ects,
        webhooks=webhooks,
        keys=keys,
        version=version,
    )


# --------------------------------------------------------------------------------------------
# A teacher's record


@router.get("/teachers", response_class=HTMLResponse)
async def find_teacher(request: Request, trn: str | None = None) -> Response:
    session = await current_session(request)
    if session is None:
        return _to_login(request)
    if trn and _TRN.match(trn.strip()):
        return RedirectResponse(f"/ui/teachers/{trn.strip()}", status_code=303)
    error = "Enter a teacher reference number (TRN): 7 digits" if trn is not None else None
    status = 400 if error else 200
    return render(request, "find_teacher.html", session, status, error=error, trn=trn)


_TIMELINE_LIMIT = 500


@router.get("/teachers/{trn}", response_class=HTMLResponse)
async def teacher_page(request: Request, trn: str) -> Response:
    session = await current_session(request)
    if session is None:
        return _to_login(request)
    if not _TRN.match(trn):
        return problem_page(request, session, 404, "Page not found", "A TRN is 7 digits.")
    pool = _pool(request)
    on = dashboards_api.today()
    try:
        async with read_model(pool) as conn:
            if not session.is_operator:
                trust_id = await queries.trust_of_teacher(conn, trn)
                if trust_id is None or not session.may_see_trust(trust_id):
                    return _forbidden(request, session)
            record = await teacher_record(conn, trn)
            version = await queries.data_version(conn)
    except ReadModelUnavailable as error:
        return _unavailable(request, session, error)
    if record is None:
        return problem_page(
            request, session, 404, "Teacher not found", f"No teacher {trn} is known yet."
        )
    timeline = await teacher_timeline(pool, trn, 0, _TIMELINE_LIMIT)
    years = record.years
    timeline.reverse()  # newest first
    return render(
        request,
        "teacher.html",
        session,
        title=f"{record.given_name} {record.family_name}",
        record=record,
        timeline=timeline,
        on=on,
        elapsed={y.academic_year: _decimal(year_elapsed(y.academic_year, on)) for y in years},
        version=version,
    )


def _decimal(value: Fraction) -> Decimal:
    return Decimal(value.numerator) / Decimal(value.denominator)


# --------------------------------------------------------------------------------------------
# Analysts


def _analyst_filters(request: Request) -> dict[str, list[str]]:
    """Filters of the form: several values by repeating a parameter or, except for local
    authorities (whose names can hold commas), separated by commas."""
    params = request.query_params
    found: dict[str, list[str]] = {}
    for name in FILTERS:
        given = params.getlist(name)
        parts = given if name == "local_authority" else [p for v in given for p in v.split(",")]
        if values := [p.strip() for p in parts if p.strip()]:
            found[name] = values
    return found


@router.get("/analysts", response_class=HTMLResponse)
async def analysts_page(
    request: Request,
    dataset: str = "teacher_years",
    sort: str | None = None,
    cursor: str | None = None,
) -> Response:
    session = await current_session(request)
    if session is None:
        return _to_login(request)
    if not session.is_operator:
        return _forbidden(request, session)
    ds = DATASETS.get(dataset)
    filters = _analyst_filters(request)
    error: QueryError | None = None
    page = None
    version = None
    if ds is None:
        error = QueryError("dataset", f"there is no dataset {dataset!r}")
    else:
        try:
            async with read_model(_pool(request)) as conn:
                page = await query_page(conn, ds, filters, sort or None, ANALYST_PAGE_ROWS, cursor)
                version = await queries.data_version(conn)
        except QueryError as wrong:
            error = wrong
        except ReadModelUnavailable as unavailable:
            return _unavailable(request, session, unavailable)
    query = [(k, v) for k, values in filters.items() for v in values]
    query += [("sort", sort)] if sort else []
    base = [("dataset", ds.name if ds else dataset), *query]
    next_link = (
        "/ui/analysts?" + urlencode([*base, ("cursor", page.next_cursor)])
        if page is not None and page.next_cursor
        else None
    )
    return render(
        request,
        "analysts.html",
        session,
        400 if error else 200,
        title="Analysts' datasets",
        datasets=DATASETS,
        ds=ds,
        name=dataset,
        filters=filters,
        filter_help=FILTERS,
        sort=sort or "",
        page=page,
        error=error,
        next_link=next_link,
        first_link="/ui/analysts?" + urlencode(base) if cursor else None,
        csv_link="/ui/analysts/export?" + urlencode([*base, ("format", "csv")]),
        parquet_link="/ui/analysts/export?" + urlencode([*base, ("format", "parquet")]),
        version=version,
    )


@router.get("/analysts/export")
async def analysts_export(
    request: Request,
    dataset: str = "teacher_years",
    format: str = "csv",
    sort: str | None = None,
) -> Response:
    """The whole dataset, filtered, as the analysts' API streams it (CSV or Parquet)."""
    session = await current_session(request)
    if session is None:
        return _to_login(request)
    if not session.is_operator:
        return _forbidden(request, session)
    if format not in ("csv", "parquet"):
        return problem_page(request, session, 400, "Unknown format", "Choose CSV or Parquet.")
    filters = _analyst_filters(request)

    def values(name: str) -> list[str] | None:
        return filters.get(name)

    return await analysts_api.export_dataset(
        dataset,
        request,
        format="csv" if format == "csv" else "parquet",
        academic_year=values("academic_year"),
        region=values("region"),
        local_authority=values("local_authority"),
        phase=values("phase"),
        trust_id=values("trust_id"),
        pp50=values("pp50"),
        course_kind=values("course_kind"),
        badge=values("badge"),
        sort=sort or None,
        as_of=None,
    )
