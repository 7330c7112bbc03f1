"""SQL views of the read models for analysts: schema ``analytics``, role ``cpd_analyst``.

Each view reads one table (or a few) of a generation of the read models and shows teachers by
a **pseudonym** instead of their TRN, with no names: ``teacher_id`` (and ``mentor_id``,
``mentee_id``, ``cpd_lead_id``) is a keyed hash of the TRN, the same in every view, table and
generation of a deployment, so analysts can join and count teachers without knowing who they are.

The key is a random secret of the deployment in ``reporting_meta.pseudonym_key`` (made once,
never shown to analysts). The views compute pseudonyms by joining that table: a view reads its
tables with its owner's rights, so analysts need (and get) no right on the key, on the
generation schemas or on any function. ``analytics.pseudonym(trn)`` computes the same pseudonym
for operators (a support case: "which pseudonym is TRN 1234567?"); analysts may not execute it,
since with TRNs being 7 digits anyone who can call it can tabulate all ten million of them.

:func:`install_analyst_views` (re)creates the views on the generation given; run it in the
transaction that makes a generation live, so analysts always see the live generation whole.
The same column lists feed the analysts' HTTP API (:mod:`reporting.analysts`), which reads the
generation through :func:`reporting.reading.read_model` and so also serves as-of snapshots.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import asyncpg
import structlog

from cpd_eventstore.db import Connection
from reporting.reading import META_SCHEMA

log = structlog.get_logger(__name__)

ANALYTICS_SCHEMA = "analytics"
ANALYST_ROLE = "cpd_analyst"
KEY_TABLE = f"{META_SCHEMA}.pseudonym_key"

#: Hex characters of a pseudonym (128 bits: no collision among any number of teachers).
PSEUDONYM_LENGTH = 32

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def pseudonym_sql(trn: str, key: str = "k.key") -> str:
    """The SQL expression of the pseudonym of the TRN expression ``trn`` (null stays null).

    ``sha256(key || sha256(key || trn))``: keyed, and nested so the outer hash is not open to
    length extension; hex, the first :data:`PSEUDONYM_LENGTH` characters.
    """
    inner = f"sha256({key} || convert_to({trn}, 'UTF8'))"
    return f"left(encode(sha256({key} || {inner}), 'hex'), {PSEUDONYM_LENGTH})"


@dataclass(frozen=True)
class View:
    """An analyst view: its columns as ``(name, SQL expression)``, its ``from`` clause.

    ``source`` names the generation's tables as ``{g}table`` and may join the key as ``k``;
    ``key`` is a unique key of the rows (for stable paging); ``school`` and ``course`` name the
    columns holding a school URN and a course id, if any (for filters by school or course).
    """

    name: str
    description: str
    columns: tuple[tuple[str, str], ...]
    source: str
    key: tuple[str, ...]
    school: str | None = None
    course: str | None = None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    def select(self, schema: str | None = None) -> str:
        """The view's query on the generation ``schema`` (None: unqualified, for search_path)."""
        if schema is not None and not _SCHEMA_NAME.match(schema):
            raise ValueError(f"not a schema name: {schema!r}")
        prefix = f"{schema}." if schema else ""
        columns = ",\n       ".join(f"{expr} as {name}" for name, expr in self.columns)
        return f"select {columns}\n  from {self.source.replace('{g}', prefix)}"


_KEY = f"cross join {KEY_TABLE} k"


def _p(trn: str) -> str:
    return pseudonym_sql(trn)


VIEWS: tuple[View, ...] = (
    View(
        "teachers",
        "One row per teacher: pseudonym, school today (and since when), career stage, FTE (no"
        " names, no TRN).",
        (
            ("teacher_id", _p("t.trn")),
            ("school_urn", "t.school_urn"),
            ("career_stage", "t.career_stage"),
            ("fte", "t.fte"),
            ("registered_on", "t.registered_on"),
            ("left_on", "t.left_on"),
            ("school_since", "t.school_since"),
        ),
        f"{{g}}teachers t {_KEY}",
        ("teacher_id",),
        school="school_urn",
    ),
    View(
        "teacher_schools",
        "The schools each teacher worked in, as periods [from_date, to_date).",
        (
            ("teacher_id", _p("ts.trn")),
            ("from_date", "ts.from_date"),
            ("school_urn", "ts.school_urn"),
            ("to_date", "ts.to_date"),
        ),
        f"{{g}}teacher_schools ts {_KEY}",
        ("teacher_id", "from_date", "school_urn"),
        school="school_urn",
    ),
    View(
        "teacher_years",
        "One row per teacher and academic year: entitlement, hours and funding. School filters"
        " apply to current_school_urn (the teacher's school today).",
        (
            ("teacher_id", _p("ty.trn")),
            ("academic_year", "ty.academic_year"),
            ("current_school_urn", "t.school_urn"),
            ("career_stage", "t.career_stage"),
            ("policy_version", "ty.policy_version"),
            ("hours_entitled", "ty.hours_entitled"),
            ("funding_entitled_pence", "ty.funding_entitled_pence"),
            ("hours_logged", "ty.hours_logged"),
            ("funding_committed_pence", "ty.funding_committed_pence"),
            ("funding_spent_pence", "ty.funding_spent_pence"),
            ("minimum_met_on", "ty.minimum_met_on"),
        ),
        f"{{g}}teacher_years ty left join {{g}}teachers t on t.trn = ty.trn {_KEY}",
        ("teacher_id", "academic_year"),
        school="current_school_urn",
    ),
    View(
        "requests",
        "CPD requests: course, school, year, status, cost, expected hours and dates.",
        (
            ("teacher_id", _p("r.trn")),
            ("request_id", "r.request_id"),
            ("course_id", "r.course_id"),
            ("school_urn", "r.school_urn"),
            ("academic_year", "r.academic_year"),
            ("status", "r.status"),
            ("cost_pence", "r.cost_pence"),
            ("expected_hours", "r.expected_hours"),
            ("requested_at", "r.requested_at"),
            ("decided_at", "r.decided_at"),
            ("completed_on", "r.completed_on"),
            ("plan_goal", "r.plan_goal"),
        ),
        f"{{g}}requests r {_KEY}",
        ("teacher_id", "request_id"),
        school="school_urn",
        course="course_id",
    ),
    View(
        "hours_log",
        "Hours of CPD logged, one row per log entry (corrections already applied).",
        (
            ("teacher_id", _p("h.trn")),
            ("log_id", "h.log_id"),
            ("school_urn", "h.school_urn"),
            ("academic_year", "h.academic_year"),
            ("hours", "h.hours"),
            ("activity_type", "h.activity_type"),
            ("activity_date", "h.activity_date"),
            ("request_id", "h.request_id"),
        ),
        f"{{g}}hours_log h {_KEY}",
        ("teacher_id", "log_id"),
        school="school_urn",
    ),
    View(
        "schools",
        "Schools: local authority, phase, region, disadvantage (pp50), trust today.",
        (
            ("urn", "s.urn"),
            ("name", "s.name"),
            ("local_authority", "s.local_authority"),
            ("phase", "s.phase"),
            ("region", "s.region"),
            ("pp50", "s.pp50"),
            ("pupils_on_roll", "s.pupils_on_roll"),
            ("fsm_percent", "s.fsm_percent"),
            ("trust_id", "s.trust_id"),
            ("trust_joined_on", "s.trust_joined_on"),
            ("cpd_lead_id", _p("s.cpd_lead_trn")),
            ("cpd_lead_since", "s.cpd_lead_since"),
        ),
        f"{{g}}schools s {_KEY}",
        ("urn",),
        school="urn",
    ),
    View(
        "school_trusts",
        "Which trust each school belonged to when: periods [joined_on, left_on).",
        (
            ("urn", "st.urn"),
            ("joined_on", "st.joined_on"),
            ("trust_id", "st.trust_id"),
            ("left_on", "st.left_on"),
        ),
        "{g}school_trusts st",
        ("urn", "joined_on"),
        school="urn",
    ),
    View(
        "trusts",
        "Trusts: region and funding model.",
        (
            ("trust_id", "tr.trust_id"),
            ("name", "tr.name"),
            ("region", "tr.region"),
            ("funding_model", "tr.funding_model"),
            ("central_share_percent", "tr.central_share_percent"),
            ("funding_model_from", "tr.funding_model_from"),
            ("cpd_lead_id", _p("tr.cpd_lead_trn")),
        ),
        f"{{g}}trusts tr {_KEY}",
        ("trust_id",),
    ),
    View(
        "providers",
        "Course providers.",
        (
            ("provider_id", "pr.provider_id"),
            ("name", "pr.name"),
            ("kind", "pr.kind"),
            ("active", "pr.active"),
        ),
        "{g}providers pr",
        ("provider_id",),
    ),
    View(
        "courses",
        "Courses with their uptake, average rating (1-5) and cost per hour completed (pence).",
        (
            ("course_id", "c.course_id"),
            ("provider_id", "c.provider_id"),
            ("provider_name", "pr.name"),
            ("title", "c.title"),
            ("kind", "c.kind"),
            ("npq_type", "c.npq_type"),
            ("hours", "c.hours"),
            ("price_pence", "c.price_pence"),
            ("government_funded", "c.government_funded"),
            ("retired", "c.retired"),
            ("badge_level", "c.badge_level"),
            ("badge_expires_on", "c.badge_expires_on"),
            ("requests", "c.requests"),
            ("enrolments", "c.enrolments"),
            ("completions", "c.completions"),
            ("cost_completed_pence", "c.cost_completed_pence"),
            ("hours_completed", "c.hours_completed"),
            ("ratings", "c.ratings"),
            ("average_rating", "round(c.rating_total::numeric / nullif(c.ratings, 0), 2)"),
            (
                "cost_per_hour_pence",
                "round(c.cost_completed_pence / nullif(c.hours_completed, 0), 2)",
            ),
        ),
        "{g}courses c left join {g}providers pr on pr.provider_id = c.provider_id",
        ("course_id",),
        course="course_id",
    ),
    View(
        "course_feedback",
        "Ratings of courses, one per teacher and course.",
        (
            ("course_id", "cf.course_id"),
            ("teacher_id", _p("cf.trn")),
            ("rating", "cf.rating"),
            ("submitted_at", "cf.submitted_at"),
        ),
        f"{{g}}course_feedback cf {_KEY}",
        ("course_id", "teacher_id"),
        course="course_id",
    ),
    View(
        "policies",
        "The entitlement policy of each academic year (its latest version).",
        (
            ("academic_year", "po.academic_year"),
            ("policy_version", "po.policy_version"),
            ("minimum_hours", "po.minimum_hours"),
            ("base_funding_per_fte_pence", "po.base_funding_per_fte_pence"),
            ("pp50_uplift_percent", "po.pp50_uplift_percent"),
            ("early_career_uplift_percent", "po.early_career_uplift_percent"),
            ("effective_from", "po.effective_from"),
        ),
        "{g}policies po",
        ("academic_year",),
    ),
    View(
        "school_years",
        "Additive facts per school and academic year: hours, requests, decisions, funding.",
        (
            ("urn", "sy.urn"),
            ("academic_year", "sy.academic_year"),
            ("hours_logged", "sy.hours_logged"),
            ("requests", "sy.requests"),
            ("approvals", "sy.approvals"),
            ("declines", "sy.declines"),
            ("completions", "sy.completions"),
            ("funding_entitled_pence", "sy.funding_entitled_pence"),
            ("funding_committed_pence", "sy.funding_committed_pence"),
            ("funding_spent_pence", "sy.funding_spent_pence"),
            ("grants", "sy.grants"),
        ),
        "{g}school_years sy",
        ("urn", "academic_year"),
        school="urn",
    ),
    View(
        "school_days",
        "Additive facts per school and day (the day the activity or decision happened).",
        (
            ("urn", "sd.urn"),
            ("day", "sd.day"),
            ("academic_year", "sd.academic_year"),
            ("hours_logged", "sd.hours_logged"),
            ("requests", "sd.requests"),
            ("approvals", "sd.approvals"),
            ("declines", "sd.declines"),
            ("completions", "sd.completions"),
            ("funding_committed_pence", "sd.funding_committed_pence"),
            ("funding_spent_pence", "sd.funding_spent_pence"),
        ),
        "{g}school_days sd",
        ("urn", "day"),
        school="urn",
    ),
    View(
        "school_activity_hours",
        "Hours per school, academic year and activity type.",
        (
            ("urn", "sa.urn"),
            ("academic_year", "sa.academic_year"),
            ("activity_type", "sa.activity_type"),
            ("hours", "sa.hours"),
        ),
        "{g}school_activity_hours sa",
        ("urn", "academic_year", "activity_type"),
        school="urn",
    ),
    View(
        "school_summaries",
        "Current state per school: headcount, progress histogram (5 % bands), mentoring cover.",
        (
            ("urn", "ss.urn"),
            ("academic_year", "ss.academic_year"),
            ("teachers", "ss.teachers"),
            ("fte", "ss.fte"),
            ("teachers_granted", "ss.teachers_granted"),
            ("hours_entitled", "ss.hours_entitled"),
            ("hours_logged", "ss.hours_logged"),
            ("minimum_met", "ss.minimum_met"),
            ("progress_histogram", "ss.progress_histogram"),
            ("ects", "ss.ects"),
            ("ects_without_mentor", "ss.ects_without_mentor"),
            ("mentors", "ss.mentors"),
            ("mentor_capacity", "ss.mentor_capacity"),
            ("mentees_assigned", "ss.mentees_assigned"),
            ("refreshed_at", "ss.refreshed_at"),
        ),
        "{g}school_summaries ss",
        ("urn",),
        school="urn",
    ),
    View(
        "budgets",
        "CPD budgets per holder and year: allocated, committed, spent, released.",
        (
            ("budget_id", "b.budget_id"),
            ("holder", "b.holder"),
            ("trust_id", "b.trust_id"),
            ("school_urn", "b.school_urn"),
            ("academic_year", "b.academic_year"),
            ("allocated_pence", "b.allocated_pence"),
            ("committed_pence", "b.committed_pence"),
            ("spent_pence", "b.spent_pence"),
            ("released_pence", "b.released_pence"),
        ),
        "{g}budgets b",
        ("budget_id",),
        school="school_urn",
    ),
    View(
        "mentors",
        "Trained mentors (pseudonyms) and their capacity.",
        (
            ("mentor_id", _p("m.trn")),
            ("school_urn", "m.school_urn"),
            ("trained_on", "m.trained_on"),
            ("lead_mentor_of", "m.lead_mentor_of"),
            ("max_mentees", "m.max_mentees"),
            ("active_mentees", "m.active_mentees"),
        ),
        f"{{g}}mentors m {_KEY}",
        ("mentor_id",),
        school="school_urn",
    ),
    View(
        "mentoring",
        "Mentorships (mentor and mentee as pseudonyms) with their sessions and hours so far.",
        (
            ("mentor_id", _p("ms.mentor_trn")),
            ("assignment_id", "ms.assignment_id"),
            ("mentee_id", _p("ms.mentee_trn")),
            ("school_urn", "ms.school_urn"),
            ("programme", "ms.programme"),
            ("starts_on", "ms.starts_on"),
            ("ended_on", "ms.ended_on"),
            ("sessions", "coalesce(se.sessions, 0)"),
            ("session_hours", "coalesce(se.hours, 0)"),
        ),
        "{g}mentorships ms"
        " left join (select mentor_trn, assignment_id, count(*)::int as sessions,"
        " sum(hours) as hours from {g}mentoring_sessions group by mentor_trn, assignment_id) se"
        " on se.mentor_trn = ms.mentor_trn and se.assignment_id = ms.assignment_id"
        f" {_KEY}",
        ("mentor_id", "assignment_id"),
        school="school_urn",
    ),
    View(
        "mentoring_sessions",
        "Mentoring sessions held (mentor and mentee as pseudonyms).",
        (
            ("mentor_id", _p("mse.mentor_trn")),
            ("session_id", "mse.session_id"),
            ("assignment_id", "mse.assignment_id"),
            ("mentee_id", _p("mse.mentee_trn")),
            ("school_urn", "mse.school_urn"),
            ("academic_year", "mse.academic_year"),
            ("held_on", "mse.held_on"),
            ("minutes", "mse.minutes"),
            ("hours", "mse.hours"),
        ),
        f"{{g}}mentoring_sessions mse {_KEY}",
        ("mentor_id", "session_id"),
        school="school_urn",
    ),
    View(
        "development_plans",
        "Each teacher's current development plan: goals and years (not whom it was agreed with).",
        (
            ("teacher_id", _p("dp.trn")),
            ("school_urn", "dp.school_urn"),
            ("academic_year", "dp.academic_year"),
            ("until_academic_year", "dp.until_academic_year"),
            ("goals", "dp.goals"),
            ("agreed_at", "dp.agreed_at"),
            ("plans_agreed", "dp.plans_agreed"),
        ),
        f"{{g}}development_plans dp {_KEY}",
        ("teacher_id",),
        school="school_urn",
    ),
)

VIEW_BY_NAME: dict[str, View] = {view.name: view for view in VIEWS}

#: Columns no analyst view may have (tested): names and the TRN itself.
FORBIDDEN_COLUMNS = frozenset(
    {"trn", "given_name", "family_name", "mentor_trn", "mentee_trn", "cpd_lead_trn", "email"}
)

PSEUDONYM_KEY_SQL = f"""
create schema if not exists {META_SCHEMA};
create table if not exists {KEY_TABLE} (
    only_one boolean primary key default true check (only_one),
    key bytea not null check (length(key) >= 32),
    created_at timestamptz not null default now()
);
revoke all on {KEY_TABLE} from public;
"""

PSEUDONYM_FUNCTION_SQL = f"""
create or replace function {ANALYTICS_SCHEMA}.pseudonym(trn text) returns text
    language sql stable strict security definer
    set search_path = pg_catalog, pg_temp
as $$
    select {pseudonym_sql("trn")} from {KEY_TABLE} k
$$;
revoke all on function {ANALYTICS_SCHEMA}.pseudonym(text) from public;
comment on function {ANALYTICS_SCHEMA}.pseudonym(text) is
    'The analysts'' pseudonym of a TRN. Operators only: not granted to {ANALYST_ROLE}.';
"""


def analyst_views_sql(schema: str) -> str:
    """The statements (re)creating every analyst view on the generation ``schema``."""
    parts = [f"create schema if not exists {ANALYTICS_SCHEMA};"]
    parts += [f"drop view if exists {ANALYTICS_SCHEMA}.{view.name};" for view in VIEWS]
    for view in VIEWS:
        parts.append(f"create view {ANALYTICS_SCHEMA}.{view.name} as\n{view.select(schema)};")
        comment = view.description.replace("'", "''")
        parts.append(f"comment on view {ANALYTICS_SCHEMA}.{view.name} is '{comment}';")
    return "\n".join(parts)


async def install_pseudonym_key(conn: Connection) -> None:
    """Create the pseudonym key table and its one random key, if missing (never replaced)."""
    await conn.execute(PSEUDONYM_KEY_SQL)
    await conn.execute(
        f"insert into {KEY_TABLE} (key) values ($1) on conflict do nothing",
        secrets.token_bytes(32),
    )


async def ensure_analyst_role(conn: Connection) -> bool:
    """Create the NOLOGIN group role :data:`ANALYST_ROLE` if missing; False if it cannot be had.

    Roles belong to the whole server: a service without CREATEROLE logs why and goes on (the
    views are there; an administrator creates the role and the next install grants it).
    """
    exists = await conn.fetchval("select true from pg_roles where rolname = $1", ANALYST_ROLE)
    if exists:
        return True
    try:
        async with conn.transaction():  # a savepoint: a refusal leaves the caller's work intact
            await conn.execute(f"create role {ANALYST_ROLE} nologin")
    except (asyncpg.DuplicateObjectError, asyncpg.UniqueViolationError):
        return True  # created meanwhile by another database's install
    except asyncpg.InsufficientPrivilegeError as error:
        log.warning(
            "analysts.role_not_created",
            role=ANALYST_ROLE,
            error=str(error),
            hint=f"as a superuser: create role {ANALYST_ROLE} nologin; then switch or reinstall"
            " the analyst views to grant it",
        )
        return False
    log.info("analysts.role_created", role=ANALYST_ROLE)
    return True


async def install_analyst_views(conn: Connection, schema: str) -> None:
    """(Re)create schema ``analytics``'s views on generation ``schema`` and grant them.

    Call it inside the transaction that makes ``schema`` live: the views are dropped and
    created in it, so analysts see the old generation or the new one, never none. Dropping a
    view waits for the analysts' queries on it to end (their locks); the transaction holds its
    own locks on the views until it commits.
    """
    await install_pseudonym_key(conn)
    await conn.execute(analyst_views_sql(schema))
    await conn.execute(PSEUDONYM_FUNCTION_SQL)
    if await ensure_analyst_role(conn):
        await conn.execute(
            f"grant usage on schema {ANALYTICS_SCHEMA} to {ANALYST_ROLE};\n"
            + "\n".join(
                f"grant select on {ANALYTICS_SCHEMA}.{view.name} to {ANALYST_ROLE};"
                for view in VIEWS
            )
        )
    log.info("analysts.views_installed", generation=schema, views=len(VIEWS))
