"""The registry view: schools, their trust and CPD lead, for operators' queries.

Kept by the ``registry-view`` subscription from entitlement's own topic (so it lags the event
store by the relay's and the consumer's delay, tens of milliseconds). Whether a school's CPD
lead still counts is decided when reading, from the teachers' rows, so the order in which
events of different streams arrive does not matter: a lead who left the profession or moved to
another school leaves their school without a CPD lead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from cpd_events import Envelope, Event
from cpd_events.registry_events import (
    CPDLeadDesignated,
    SchoolJoinedTrust,
    SchoolLeftTrust,
    SchoolRegistered,
    TeacherLeftProfession,
    TeacherMovedSchool,
    TeacherRegistered,
)
from cpd_events.topics import ENTITLEMENT_EVENTS
from cpd_eventstore import Migration
from cpd_eventstore.db import Connection, Pool
from cpd_platform.runtime import Subscription

READ_MODEL = "registry-view"

REGISTRY_VIEW_MIGRATIONS = [
    Migration(
        3,
        "registry view: schools, their trust and CPD lead; teachers; trust CPD leads",
        """
        create schema if not exists entitlement;
        create table entitlement.registry_schools (
            urn text primary key,
            name text not null,
            local_authority text not null,
            phase text not null,
            region text,
            pupils_on_roll int,
            fsm_percent numeric(5, 2),
            pp50 boolean not null,
            trust_id text,
            joined_trust_on date,
            cpd_lead_trn text,
            cpd_lead_hours_per_week numeric(7, 2),
            cpd_lead_from date
        );
        create index registry_schools_la on entitlement.registry_schools (local_authority, urn);
        create index registry_schools_trust on entitlement.registry_schools (trust_id, urn);
        create table entitlement.registry_teachers (
            trn text primary key,
            school_urn text not null,
            left_profession boolean not null default false
        );
        create table entitlement.registry_trust_leads (
            trust_id text not null,
            trn text not null,
            funded_hours_per_week numeric(7, 2) not null,
            effective_from date not null,
            primary key (trust_id, trn)
        );
        """,
    )
]


async def project_registry(conn: Connection, _: Envelope, event: Event) -> None:
    match event:
        case SchoolRegistered():
            await conn.execute(
                """insert into entitlement.registry_schools (urn, name, local_authority, phase,
                       region, pupils_on_roll, fsm_percent, pp50)
                   values ($1, $2, $3, $4, $5, $6, $7, $8)
                   on conflict (urn) do nothing""",
                event.urn,
                event.name,
                event.local_authority,
                event.phase,
                event.region,
                event.pupils_on_roll,
                event.fsm_percent,
                event.pp50,
            )
        case SchoolJoinedTrust():
            await conn.execute(
                "update entitlement.registry_schools set trust_id = $2, joined_trust_on = $3"
                " where urn = $1",
                event.urn,
                event.trust_id,
                event.effective_from,
            )
        case SchoolLeftTrust():
            await conn.execute(
                "update entitlement.registry_schools set trust_id = null, joined_trust_on = null"
                " where urn = $1 and trust_id = $2",
                event.urn,
                event.trust_id,
            )
        case CPDLeadDesignated(school_urn=str(urn)):
            await conn.execute(
                """update entitlement.registry_schools set cpd_lead_trn = $2,
                       cpd_lead_hours_per_week = $3, cpd_lead_from = $4 where urn = $1""",
                urn,
                event.trn,
                event.funded_hours_per_week,
                event.effective_from,
            )
        case CPDLeadDesignated(trust_id=str(trust_id)):
            await conn.execute(
                """insert into entitlement.registry_trust_leads
                       (trust_id, trn, funded_hours_per_week, effective_from)
                   values ($1, $2, $3, $4)
                   on conflict (trust_id, trn) do update set
                       funded_hours_per_week = excluded.funded_hours_per_week,
                       effective_from = excluded.effective_from""",
                trust_id,
                event.trn,
                event.funded_hours_per_week,
                event.effective_from,
            )
        case TeacherRegistered():
            await conn.execute(
                """insert into entitlement.registry_teachers (trn, school_urn) values ($1, $2)
                   on conflict (trn) do nothing""",
                event.trn,
                event.school_urn,
            )
        case TeacherMovedSchool():
            await conn.execute(
                "update entitlement.registry_teachers set school_urn = $2 where trn = $1",
                event.trn,
                event.school_urn,
            )
        case TeacherLeftProfession():
            await conn.execute(
                "update entitlement.registry_teachers set left_profession = true where trn = $1",
                event.trn,
            )


@dataclass(frozen=True)
class SchoolWithoutLead:
    urn: str
    name: str
    local_authority: str
    phase: str
    region: str | None
    pupils_on_roll: int | None
    pp50: bool
    trust_id: str | None
    trust_cpd_leads: int
    reason: str


_WITHOUT_LEAD = """
    from entitlement.registry_schools s
    left join entitlement.registry_teachers t on t.trn = s.cpd_lead_trn
    where (t.trn is null or t.left_profession or t.school_urn <> s.urn)
      and ($1::text is null or s.local_authority = $1)
      and ($2::text is null or s.trust_id = $2)
"""


async def schools_without_cpd_lead(
    pool: Pool,
    local_authority: str | None = None,
    trust_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[SchoolWithoutLead]]:
    """Schools with no CPD lead (none designated, or the lead left or moved), by URN."""
    total = await pool.fetchval(f"select count(*) {_WITHOUT_LEAD}", local_authority, trust_id)
    rows = await pool.fetch(
        f"""
        select s.urn, s.name, s.local_authority, s.phase, s.region, s.pupils_on_roll, s.pp50,
            s.trust_id, s.cpd_lead_trn, t.left_profession, t.school_urn as lead_school_urn,
            (select count(*) from entitlement.registry_trust_leads l
                join entitlement.registry_teachers lt on lt.trn = l.trn
                where l.trust_id = s.trust_id and not lt.left_profession) as trust_cpd_leads
        {_WITHOUT_LEAD}
        order by s.urn limit $3 offset $4
        """,
        local_authority,
        trust_id,
        limit,
        offset,
    )
    schools = []
    for row in rows:
        lead = row["cpd_lead_trn"]
        if lead is None:
            reason = "no CPD lead designated"
        elif row["left_profession"]:
            reason = f"CPD lead {lead} left the profession"
        elif row["lead_school_urn"] is not None:
            reason = f"CPD lead {lead} moved to school {row['lead_school_urn']}"
        else:
            reason = f"CPD lead {lead} is not (yet) known as a registered teacher"
        schools.append(
            SchoolWithoutLead(
                urn=row["urn"],
                name=row["name"],
                local_authority=row["local_authority"],
                phase=row["phase"],
                region=row["region"],
                pupils_on_roll=row["pupils_on_roll"],
                pp50=row["pp50"],
                trust_id=row["trust_id"],
                trust_cpd_leads=row["trust_cpd_leads"],
                reason=reason,
            )
        )
    return int(total), schools


@dataclass(frozen=True)
class TrustSchool:
    urn: str
    name: str
    joined_on: date | None
    cpd_lead_trn: str | None
    cpd_lead_hours_per_week: Decimal | None


async def schools_of_trust(pool: Pool, trust_id: str) -> list[TrustSchool]:
    rows = await pool.fetch(
        """select urn, name, joined_trust_on, cpd_lead_trn, cpd_lead_hours_per_week
           from entitlement.registry_schools where trust_id = $1 order by urn""",
        trust_id,
    )
    return [
        TrustSchool(
            r["urn"],
            r["name"],
            r["joined_trust_on"],
            r["cpd_lead_trn"],
            r["cpd_lead_hours_per_week"],
        )
        for r in rows
    ]


#: The view's consumer of entitlement's own topic (wired in :mod:`entitlement.main`).
REGISTRY_VIEW = Subscription(READ_MODEL, [ENTITLEMENT_EVENTS], project_registry)
