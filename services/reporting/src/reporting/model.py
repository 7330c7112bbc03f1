"""The tables of one generation of the reporting read models.

Every generation lives in a schema of its own (``reporting_g1``, ``reporting_g2``...) built from
the beginning of the topics; readers find the live one through ``reporting_meta.generations``.
The DDL names no schema: it runs with ``search_path`` set to the generation's schema. Changing
it means bumping :data:`MODEL_VERSION`, which makes the next start build a new generation beside
the live one and switch to it once it has caught up (no migration of read models in place).

Two kinds of table:

- per entity (teachers, schools, requests...), keyed as in the event contracts;
- additive facts, so dashboards sum few rows: ``school_days`` (one row per school and day with
  something to count, by the school the event names: a school that changes trust mid-year counts
  for the old trust up to the date and the new one after, by joining ``school_trusts`` on the
  day), ``school_years`` (the same per school and year) and ``school_summaries`` (current state
  per school: headcount, progress histogram, mentoring coverage), refreshed from the entity
  tables for the schools a batch touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

#: Bump when the DDL or the meaning of a column changes: a new generation is then built.
MODEL_VERSION = 2


@dataclass(frozen=True)
class Table:
    """A read-model table as the unit of work sees it: key columns first, then the rest."""

    name: str
    key: tuple[str, ...]
    columns: tuple[str, ...]
    #: values of a row made before its entity's own event (counters at zero...)
    defaults: Mapping[str, object] = field(default_factory=dict)
    #: a table of counters only: batches add to rows without reading them (``fixed`` columns
    #: are set, not added: they never change for a key)
    additive: bool = False
    fixed: tuple[str, ...] = ()
    #: rows are made once by their own event: a row made in a batch (not loaded) is new, so it
    #: is copied straight into the table (a duplicate key fails the event, as it should)
    insert_only: bool = False

    @cached_property
    def all_columns(self) -> tuple[str, ...]:
        return self.key + self.columns


DDL = """
create table trusts (
    trust_id text primary key,
    name text,
    region text,
    funding_model text,                       -- centralised | delegated | hybrid
    central_share_percent numeric(5, 2),
    funding_model_from date,
    cpd_lead_trn text
);

create table schools (
    urn text primary key,
    name text,
    local_authority text,
    phase text,
    region text,
    pp50 boolean not null default false,
    pupils_on_roll int,
    fsm_percent numeric(5, 2),
    trust_id text,                            -- the trust today (null: none)
    trust_joined_on date,                     -- since when (the open school_trusts period)
    cpd_lead_trn text,
    cpd_lead_since date
);
create index schools_trust on schools (trust_id);
create index schools_region on schools (region, local_authority);

-- membership periods: [joined_on, left_on)
create table school_trusts (
    urn text not null,
    joined_on date not null,
    trust_id text not null,
    left_on date,
    primary key (urn, joined_on)
);
create index school_trusts_trust on school_trusts (trust_id);

create table teachers (
    trn text primary key,
    school_urn text not null,
    given_name text not null,
    family_name text not null,
    career_stage text not null,
    fte numeric(5, 2) not null,
    registered_on date not null,
    left_on date,
    school_since date not null                -- the open teacher_schools period began
);
create index teachers_school on teachers (school_urn);

-- the schools a teacher worked in: [from_date, to_date)
create table teacher_schools (
    trn text not null,
    from_date date not null,
    school_urn text not null,
    to_date date,
    primary key (trn, from_date, school_urn)
);
create index teacher_schools_school on teacher_schools (school_urn);

-- the latest version of each academic year's policy
create table policies (
    academic_year text primary key,
    policy_version int not null,
    minimum_hours numeric(9, 2) not null,
    base_funding_per_fte_pence bigint not null,
    pp50_uplift_percent numeric(5, 2) not null,
    early_career_uplift_percent numeric(5, 2) not null,
    effective_from date not null
);

-- one row per teacher and year: made by a grant or by the first hours or money of the year
create table teacher_years (
    trn text not null,
    academic_year text not null,
    policy_version int,
    hours_entitled numeric(9, 2) not null default 0,
    funding_entitled_pence bigint not null default 0,
    hours_logged numeric(9, 2) not null default 0 check (hours_logged >= 0),
    funding_committed_pence bigint not null default 0,
    funding_spent_pence bigint not null default 0,
    minimum_met_on date,
    primary key (trn, academic_year)
);

create table requests (
    trn text not null,
    request_id text not null,
    course_id text not null,
    school_urn text not null,
    academic_year text not null,
    status text not null
        check (status in ('requested', 'approved', 'declined', 'withdrawn', 'completed')),
    cost_pence bigint not null,
    expected_hours numeric(9, 2) not null,
    requested_at timestamptz not null,
    decided_at timestamptz,
    completed_on date,
    plan_goal text,
    primary key (trn, request_id)
);
create index requests_course on requests (course_id);
create index requests_school_status on requests (school_urn, status);
create index requests_school_year on requests (school_urn, academic_year)
    include (course_id, status, requested_at);

create table hours_log (
    trn text not null,
    log_id text not null,
    school_urn text not null,
    academic_year text not null,
    hours numeric(9, 2) not null check (hours >= 0),
    activity_type text not null,
    activity_date date not null,
    request_id text,
    primary key (trn, log_id)
);
create index hours_log_school on hours_log (school_urn, academic_year);

create table providers (
    provider_id text primary key,
    name text,
    kind text,
    active boolean not null default true
);

-- catalogue facts and uptake in one row per course
create table courses (
    course_id text primary key,
    provider_id text,
    title text,
    kind text,
    npq_type text,
    hours numeric(9, 2),
    price_pence bigint,
    government_funded boolean,
    retired boolean not null default false,
    badge_level text,
    badge_expires_on date,
    requests int not null default 0,
    enrolments int not null default 0,        -- approvals
    completions int not null default 0,
    cost_completed_pence bigint not null default 0,
    hours_completed numeric(12, 2) not null default 0,   -- course hours x completions
    ratings int not null default 0,
    rating_total int not null default 0
);

create table course_feedback (
    course_id text not null,
    trn text not null,
    rating int not null,
    submitted_at timestamptz not null,
    primary key (course_id, trn)
);

create table mentors (
    trn text primary key,
    school_urn text,
    trained_on date,
    lead_mentor_of text,                      -- the school it leads mentoring for
    max_mentees int,
    active_mentees int not null default 0
);
create index mentors_school on mentors (school_urn);

create table mentorships (
    mentor_trn text not null,
    assignment_id text not null,
    mentee_trn text not null,
    school_urn text not null,
    programme text not null,
    starts_on date not null,
    ended_on date,
    primary key (mentor_trn, assignment_id)
);
create index mentorships_mentee on mentorships (mentee_trn);
create index mentorships_school on mentorships (school_urn);

create table mentoring_sessions (
    mentor_trn text not null,
    session_id text not null,
    assignment_id text not null,
    mentee_trn text not null,
    school_urn text not null,
    academic_year text not null,
    held_on date not null,
    minutes int not null,
    hours numeric(9, 2) not null,
    primary key (mentor_trn, session_id)
);
create index mentoring_sessions_mentee on mentoring_sessions (mentee_trn);

-- the teacher's current plan (the latest agreed) and how many they have agreed
create table development_plans (
    trn text primary key,
    school_urn text not null,
    academic_year text not null,
    until_academic_year text,
    goals text[] not null,
    agreed_with text not null,
    agreed_at timestamptz not null,
    plans_agreed int not null default 1
);

-- a budget per holder and year: pot = holder (trust = central, school = delegated, premium);
-- the amounts are running totals of their events: still committed = committed - spent - released
create table budgets (
    budget_id text primary key,
    holder text,
    trust_id text,
    school_urn text,
    academic_year text,
    allocated_pence bigint not null default 0,
    committed_pence bigint not null default 0,
    spent_pence bigint not null default 0,
    released_pence bigint not null default 0
);
create index budgets_trust on budgets (trust_id);
create index budgets_school on budgets (school_urn);

-- additive facts per school and day (the day the activity or decision happened); the
-- academic year is always the day's (school_years counts by the year a request is for)
create table school_days (
    urn text not null,
    day date not null,
    academic_year text not null,
    hours_logged numeric(12, 2) not null default 0,
    requests int not null default 0,
    approvals int not null default 0,
    declines int not null default 0,
    completions int not null default 0,
    funding_committed_pence bigint not null default 0,
    funding_spent_pence bigint not null default 0,
    primary key (urn, day)
);

-- the same per school and year, and hours per activity type
create table school_years (
    urn text not null,
    academic_year text not null,
    hours_logged numeric(12, 2) not null default 0,
    requests int not null default 0,
    approvals int not null default 0,
    declines int not null default 0,
    completions int not null default 0,
    funding_entitled_pence bigint not null default 0,
    funding_committed_pence bigint not null default 0,
    funding_spent_pence bigint not null default 0,
    grants int not null default 0,
    primary key (urn, academic_year)
);

create table school_activity_hours (
    urn text not null,
    academic_year text not null,
    activity_type text not null,
    hours numeric(12, 2) not null default 0,
    primary key (urn, academic_year, activity_type)
);

-- current state per school for the school's academic year of today: refreshed for the schools
-- a batch touched (see refresh_school_summaries)
create table school_summaries (
    urn text primary key,
    academic_year text not null,
    teachers int not null,
    fte numeric(9, 2) not null,
    teachers_granted int not null,
    hours_entitled numeric(12, 2) not null,
    hours_logged numeric(12, 2) not null,
    minimum_met int not null,
    -- progress_histogram[i] (1-based): granted teachers whose hours logged are in
    -- [(i-1)*5 %, i*5 %) of their hours entitled; [21]: 100 % and over
    progress_histogram int[] not null,
    ects int not null,
    ects_without_mentor int not null,
    mentors int not null,
    mentor_capacity int not null,
    mentees_assigned int not null,
    refreshed_at timestamptz not null default now()
);

-- schools whose summary is out of date (the batch touched them)
create table dirty_schools (urn text primary key);
"""

#: Counters start at zero wherever a row is made by an addition (unknown names are ignored).
ZERO_COUNTERS: Mapping[str, object] = {
    name: 0
    for name in (
        "hours_entitled",
        "funding_entitled_pence",
        "hours_logged",
        "funding_committed_pence",
        "funding_spent_pence",
        "requests",
        "enrolments",
        "completions",
        "cost_completed_pence",
        "hours_completed",
        "ratings",
        "rating_total",
        "active_mentees",
        "allocated_pence",
        "committed_pence",
        "spent_pence",
        "released_pence",
        "approvals",
        "declines",
        "grants",
        "hours",
    )
}

TRUSTS = Table(
    "trusts",
    ("trust_id",),
    (
        "name",
        "region",
        "funding_model",
        "central_share_percent",
        "funding_model_from",
        "cpd_lead_trn",
    ),
)
SCHOOLS = Table(
    "schools",
    ("urn",),
    (
        "name",
        "local_authority",
        "phase",
        "region",
        "pp50",
        "pupils_on_roll",
        "fsm_percent",
        "trust_id",
        "trust_joined_on",
        "cpd_lead_trn",
        "cpd_lead_since",
    ),
    {"pp50": False},
)
SCHOOL_TRUSTS = Table("school_trusts", ("urn", "joined_on"), ("trust_id", "left_on"))
TEACHERS = Table(
    "teachers",
    ("trn",),
    (
        "school_urn",
        "given_name",
        "family_name",
        "career_stage",
        "fte",
        "registered_on",
        "left_on",
        "school_since",
    ),
)
TEACHER_SCHOOLS = Table("teacher_schools", ("trn", "from_date", "school_urn"), ("to_date",))
POLICIES = Table(
    "policies",
    ("academic_year",),
    (
        "policy_version",
        "minimum_hours",
        "base_funding_per_fte_pence",
        "pp50_uplift_percent",
        "early_career_uplift_percent",
        "effective_from",
    ),
)
TEACHER_YEARS = Table(
    "teacher_years",
    ("trn", "academic_year"),
    (
        "policy_version",
        "hours_entitled",
        "funding_entitled_pence",
        "hours_logged",
        "funding_committed_pence",
        "funding_spent_pence",
        "minimum_met_on",
    ),
    ZERO_COUNTERS,
)
REQUESTS = Table(
    "requests",
    ("trn", "request_id"),
    (
        "course_id",
        "school_urn",
        "academic_year",
        "status",
        "cost_pence",
        "expected_hours",
        "requested_at",
        "decided_at",
        "completed_on",
        "plan_goal",
    ),
    insert_only=True,
)
HOURS_LOG = Table(
    "hours_log",
    ("trn", "log_id"),
    (
        "school_urn",
        "academic_year",
        "hours",
        "activity_type",
        "activity_date",
        "request_id",
    ),
    insert_only=True,
)
PROVIDERS = Table("providers", ("provider_id",), ("name", "kind", "active"), {"active": True})
COURSES = Table(
    "courses",
    ("course_id",),
    (
        "provider_id",
        "title",
        "kind",
        "npq_type",
        "hours",
        "price_pence",
        "government_funded",
        "retired",
        "badge_level",
        "badge_expires_on",
        "requests",
        "enrolments",
        "completions",
        "cost_completed_pence",
        "hours_completed",
        "ratings",
        "rating_total",
    ),
    {**ZERO_COUNTERS, "retired": False},
)
COURSE_FEEDBACK = Table(
    "course_feedback", ("course_id", "trn"), ("rating", "submitted_at"), insert_only=True
)
MENTORS = Table(
    "mentors",
    ("trn",),
    ("school_urn", "trained_on", "lead_mentor_of", "max_mentees", "active_mentees"),
    ZERO_COUNTERS,
)
MENTORSHIPS = Table(
    "mentorships",
    ("mentor_trn", "assignment_id"),
    ("mentee_trn", "school_urn", "programme", "starts_on", "ended_on"),
)
MENTORING_SESSIONS = Table(
    "mentoring_sessions",
    ("mentor_trn", "session_id"),
    ("assignment_id", "mentee_trn", "school_urn", "academic_year", "held_on", "minutes", "hours"),
    insert_only=True,
)
DEVELOPMENT_PLANS = Table(
    "development_plans",
    ("trn",),
    (
        "school_urn",
        "academic_year",
        "until_academic_year",
        "goals",
        "agreed_with",
        "agreed_at",
        "plans_agreed",
    ),
)
BUDGETS = Table(
    "budgets",
    ("budget_id",),
    (
        "holder",
        "trust_id",
        "school_urn",
        "academic_year",
        "allocated_pence",
        "committed_pence",
        "spent_pence",
        "released_pence",
    ),
    ZERO_COUNTERS,
)
SCHOOL_DAYS = Table(
    "school_days",
    ("urn", "day"),
    (
        "academic_year",
        "hours_logged",
        "requests",
        "approvals",
        "declines",
        "completions",
        "funding_committed_pence",
        "funding_spent_pence",
    ),
    ZERO_COUNTERS,
    additive=True,
    fixed=("academic_year",),
)
SCHOOL_YEARS = Table(
    "school_years",
    ("urn", "academic_year"),
    (
        "hours_logged",
        "requests",
        "approvals",
        "declines",
        "completions",
        "funding_entitled_pence",
        "funding_committed_pence",
        "funding_spent_pence",
        "grants",
    ),
    ZERO_COUNTERS,
    additive=True,
)
SCHOOL_ACTIVITY_HOURS = Table(
    "school_activity_hours",
    ("urn", "academic_year", "activity_type"),
    ("hours",),
    ZERO_COUNTERS,
    additive=True,
)

#: The tables the projection writes through its unit of work, in flush order.
TABLES = (
    TRUSTS,
    SCHOOLS,
    SCHOOL_TRUSTS,
    TEACHERS,
    TEACHER_SCHOOLS,
    POLICIES,
    TEACHER_YEARS,
    REQUESTS,
    HOURS_LOG,
    PROVIDERS,
    COURSES,
    COURSE_FEEDBACK,
    MENTORS,
    MENTORSHIPS,
    MENTORING_SESSIONS,
    DEVELOPMENT_PLANS,
    BUDGETS,
    SCHOOL_DAYS,
    SCHOOL_YEARS,
    SCHOOL_ACTIVITY_HOURS,
)
