"""Ingestion of the trust feeds: a batch projection (``FeedProjection``, name ``feed``).

For each batch, in the engine's transaction, with a handful of set-based statements:

1. the events that can concern a trust are copied (COPY into a temporary table, then one insert
   that ignores events already there) into ``reporting_feed.events`` with their feed-safe payload
   and their keys: the trusts they name, their school, a second school (the one a teacher moved
   from, a mentor's school), the teacher, and the date they count at (``effective_on``);
2. school joins and leaves (``SchoolJoinedTrust`` / ``SchoolLeftTrust``) and teacher
   registrations, moves and leavings are recorded as facts; periods are derived from the facts
   whatever order they arrive in;
3. one statement appends the feed entries: for every new event, every event of a school whose
   membership changed and every teacher-only event of a teacher whose school changed, each trust
   the event concerns gets one entry, unless it has it already.

When an event concerns a trust (dates are the event's ``effective_on``: the payload's own date
of effect where it has one, ``effective_from``, ``moved_on``, ``left_on``, ``registered_on``,
otherwise the day it occurred in England):

- it names the trust (``trust_id`` in its payload or tenancy): ``TrustRegistered``,
  ``TrustFundingModelChosen``, ``SchoolJoinedTrust`` / ``SchoolLeftTrust`` (these two concern
  only the trust they name), ``BudgetAllocated`` to the trust, funding on the trust's budgets, a
  trust-level ``CPDLeadDesignated``;
- its school (``school_urn`` or a registry event's ``urn``) or its second school belonged to the
  trust on that date: a school in the trust from ``from`` (inclusive) until ``until``
  (exclusive), so a school that changes trust on a date counts for the old trust up to the day
  before and for the new one from that day; ``TeacherMovedSchool`` reaches both trusts;
- it names only a teacher (``MentorTrainingCompleted``, ``MentorCapacitySet``), and the teacher's
  school on that date belonged to the trust.

A teacher who moved school is followed by their events' ``school_urn`` (the school they are at):
after the move date the old trust receives nothing more about them, except an event that names
the old trust itself (for example ``FundingSpent`` on its budget), which it receives without who
it was about (see :mod:`reporting.feeds.privacy`).

Late facts: streams on different partitions interleave, so a school's membership can arrive after
events of the school. When it does, the school's events that fall in the period are appended to
the trust's feed then, at the end (a feed is appended to, never inserted into), once each
(``unique (trust_id, event_id)``). A feed never rewrites history: a ``SchoolLeftTrust`` that
arrives late does not remove the entries already appended for dates after the leave, and events
are not re-assigned when their keys are corrected later. Consumers that need the exact period
can check ``school_urn`` and ``occurred_at`` against the membership events in the same feed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from cpd_eventstore.db import Connection
from reporting.engine import Consumed
from reporting.feeds.privacy import EXCLUDED_EVENT_TYPES, feed_safe

ENGLAND = ZoneInfo("Europe/London")

#: Payload fields giving the date an event takes effect, in order of preference.
EFFECTIVE_DATE_FIELDS = ("effective_from", "moved_on", "left_on", "registered_on")
#: Events about a school's membership concern the trust they name, not the school's other trusts.
MEMBERSHIP_EVENT_TYPES = frozenset({"SchoolJoinedTrust", "SchoolLeftTrust"})
#: Payload fields naming a second school the event is about.
OTHER_SCHOOL_FIELDS = ("from_school_urn", "mentor_school_urn")

_STAGE_COLUMNS = (
    "event_id",
    "event_type",
    "schema_version",
    "stream_id",
    "stream_version",
    "occurred_at",
    "recorded_at",
    "effective_on",
    "actor",
    "correlation_id",
    "trust_ids",
    "school_urn",
    "other_school_urn",
    "trn",
    "by_school",
    "data",
)

_CREATE_STAGE = """
create temp table if not exists feed_stage (
    ord int not null,
    event_id uuid not null,
    event_type text not null,
    schema_version int not null,
    stream_id text not null,
    stream_version int not null,
    occurred_at timestamptz not null,
    recorded_at timestamptz not null,
    effective_on date not null,
    actor text not null,
    correlation_id text not null,
    trust_ids text[] not null,
    school_urn text,
    other_school_urn text,
    trn text,
    by_school boolean not null,
    data jsonb not null
) on commit delete rows
"""

_COLUMNS = ", ".join(_STAGE_COLUMNS)

_INSERT_EVENTS = f"""
insert into reporting_feed.events ({_COLUMNS})
select {_COLUMNS} from (
    select distinct on (event_id) ord, {_COLUMNS} from feed_stage order by event_id, ord
) s
order by ord
on conflict (event_id) do nothing
returning event_id
"""

_INSERT_SCHOOL_FACTS = """
insert into reporting_feed.school_trust_facts (event_id, urn, trust_id, effective_on, joined)
select * from unnest($1::uuid[], $2::text[], $3::text[], $4::date[], $5::bool[])
on conflict (event_id) do nothing
returning urn
"""

_INSERT_TEACHER_FACTS = """
insert into reporting_feed.teacher_school_facts (event_id, trn, urn, effective_on)
select event_id, trn, urn, effective_on
  from unnest($1::uuid[], $2::text[], $3::text[], $4::date[]) with ordinality
    as f(event_id, trn, urn, effective_on, ord)
order by ord
on conflict (event_id) do nothing
returning trn
"""

#: Appends the entries of the candidate events ($1 new events, $2 schools whose membership
#: changed, $3 teachers whose school changed) that are not in a feed yet, in ingestion order.
_APPEND_ENTRIES = """
with cand as materialized (
    select seq, event_id, trust_ids, school_urn, other_school_urn, trn, effective_on, by_school
      from reporting_feed.events
     where event_id = any($1::uuid[])
        or school_urn = any($2::text[])
        or other_school_urn = any($2::text[])
        or (school_urn is null and trn = any($3::text[]))
),
tp as materialized (
    select trn, urn, from_on, until_on from (
        select f.trn, f.urn, f.effective_on as from_on,
               lead(f.effective_on) over (partition by f.trn order by f.effective_on, f.seq)
                   as until_on
          from reporting_feed.teacher_school_facts f
         where f.trn in (select c.trn from cand c where c.school_urn is null and c.trn is not null)
    ) periods
    where urn is not null
),
urns as (
    select school_urn as urn from cand where school_urn is not null
    union select other_school_urn from cand where other_school_urn is not null
    union select urn from tp
),
sp as materialized (
    select j.urn, j.trust_id, j.effective_on as from_on,
           (select min(l.effective_on) from reporting_feed.school_trust_facts l
             where l.urn = j.urn and l.trust_id = j.trust_id and not l.joined
               and l.effective_on >= j.effective_on) as until_on
      from reporting_feed.school_trust_facts j
     where j.joined and j.urn in (select urn from urns)
    union all
    select l.urn, l.trust_id, '-infinity'::date, l.effective_on
      from reporting_feed.school_trust_facts l
     where not l.joined and l.urn in (select urn from urns)
       and not exists (
           select 1 from reporting_feed.school_trust_facts j
            where j.joined and j.urn = l.urn and j.trust_id = l.trust_id
              and j.effective_on <= l.effective_on)
),
matches as (
    select c.seq, c.event_id, t.trust_id, (c.school_urn is null or not c.by_school) as employer
      from cand c cross join unnest(c.trust_ids) as t(trust_id)
    union all
    select c.seq, c.event_id, p.trust_id, true
      from cand c
      join sp p on c.by_school and (p.urn = c.school_urn or p.urn = c.other_school_urn)
       and p.from_on <= c.effective_on and (p.until_on is null or c.effective_on < p.until_on)
    union all
    select c.seq, c.event_id, p.trust_id, true
      from cand c
      join tp on c.school_urn is null and tp.trn = c.trn
       and tp.from_on <= c.effective_on and (tp.until_on is null or c.effective_on < tp.until_on)
      join sp p on p.urn = tp.urn
       and p.from_on <= c.effective_on and (p.until_on is null or c.effective_on < p.until_on)
)
insert into reporting_feed.trust_feed (trust_id, event_id, employer)
select trust_id, event_id, bool_or(employer) from matches
 group by trust_id, event_id
 order by min(seq), trust_id
on conflict (trust_id, event_id) do nothing
"""


def _text(values: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = values.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def effective_on(item: Consumed) -> date:
    """The date an event counts at: its date of effect, else the day it occurred in England."""
    values = item.event.__dict__
    for name in EFFECTIVE_DATE_FIELDS:
        value = values.get(name)
        if isinstance(value, date):
            return value
    return item.envelope.occurred_at.astimezone(ENGLAND).date()


def event_row(ord_: int, item: Consumed) -> tuple[Any, ...] | None:
    """The staged row of an event, or ``None`` if it can never concern a trust."""
    envelope, event = item.envelope, item.event
    if envelope.event_type in EXCLUDED_EVENT_TYPES:
        return None
    values = event.__dict__
    trust_ids = sorted({t for t in (envelope.trust_id, _text(values, "trust_id")) if t})
    school = envelope.school_urn or _text(values, "school_urn", "urn")
    other = _text(values, *OTHER_SCHOOL_FIELDS)
    trn = envelope.teacher_id or _text(values, "trn")
    if not (trust_ids or school or other or trn):
        return None
    data = feed_safe(envelope.event_type, event.model_dump(mode="json"))
    return (
        ord_,
        envelope.event_id,
        envelope.event_type,
        event.schema_version,
        envelope.stream_id,
        envelope.stream_version,
        envelope.occurred_at,
        envelope.recorded_at,
        effective_on(item),
        envelope.actor,
        envelope.correlation_id,
        trust_ids,
        school,
        other if other != school else None,
        trn,
        envelope.event_type not in MEMBERSHIP_EVENT_TYPES,
        json.dumps(data, separators=(",", ":")),
    )


class FeedProjection:
    """Keeps ``reporting_feed``: the events and the append-only feed of every trust."""

    name = "feed"

    async def apply(self, conn: Connection, batch: Sequence[Consumed]) -> None:
        rows: list[tuple[Any, ...]] = []
        school: tuple[list[UUID], list[str], list[str], list[date], list[bool]] = (
            [],
            [],
            [],
            [],
            [],
        )
        teacher: tuple[list[UUID], list[str], list[str | None], list[date]] = ([], [], [], [])
        for ord_, item in enumerate(batch):
            row = event_row(ord_, item)
            if row is not None:
                rows.append(row)
            values = item.event.__dict__
            event_type = item.envelope.event_type
            if event_type in ("SchoolJoinedTrust", "SchoolLeftTrust"):
                school[0].append(item.envelope.event_id)
                school[1].append(values["urn"])
                school[2].append(values["trust_id"])
                school[3].append(values["effective_from"])
                school[4].append(event_type == "SchoolJoinedTrust")
            elif event_type in ("TeacherRegistered", "TeacherMovedSchool", "TeacherLeftProfession"):
                teacher[0].append(item.envelope.event_id)
                teacher[1].append(values["trn"])
                left = event_type == "TeacherLeftProfession"
                teacher[2].append(None if left else values["school_urn"])
                teacher[3].append(effective_on(item))

        new_events: list[UUID] = []
        if rows:
            await conn.execute(_CREATE_STAGE)
            await conn.copy_records_to_table(
                "feed_stage", records=rows, columns=("ord", *_STAGE_COLUMNS)
            )
            new_events = [r["event_id"] for r in await conn.fetch(_INSERT_EVENTS)]
            await conn.execute("truncate feed_stage")
        urns: set[str] = set()
        if school[0]:
            urns = {r["urn"] for r in await conn.fetch(_INSERT_SCHOOL_FACTS, *school)}
        trns: set[str] = set()
        if teacher[0]:
            trns = {r["trn"] for r in await conn.fetch(_INSERT_TEACHER_FACTS, *teacher)}
        if new_events or urns or trns:
            await conn.execute(_APPEND_ENTRIES, new_events, sorted(urns), sorted(trns))
