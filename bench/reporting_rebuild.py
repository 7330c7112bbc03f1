"""Rebuild of the reporting read models from a year of events, against this machine's raw limits.

Generates a deterministic year of contract-valid events (a benchmark dataset built from the
event contracts, NOT the platform's seed data) at ``--scale`` (1.0 = national: ~22,000 schools,
~470,000 teachers), publishes it to fresh topics named like the platform's, then measures in the
same run, on the same broker and database:

a. raw aiokafka consume of every message (no group, every partition assigned): msgs/s;
b. asyncpg COPY of one row per event into a logged table without indexes: rows/s;
c. the rebuild: a fresh generation of the read models (``reporting.generations``) filled by a
   ``ProjectionEngine`` until caught up, in a child process so that its peak RSS is the
   rebuild's own; then ``settle_all()`` (school summaries) timed apart.

Prints a table with the ratios and the targets (>= 50,000 events/s, < 500 MB RSS) and writes JSON
to bench/results/reporting_rebuild-<timestamp>.json.

    uv run --frozen python bench/reporting_rebuild.py [--scale 0.02] [--seed 1]
        [--batch-size 5000] [--bootstrap HOST:PORT] [--database-url URL] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import gc
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cpd_events import Event

RESULTS = Path(__file__).parent / "results"
DATASET_NOTE = (
    "benchmark dataset generated from the event contracts (validated pydantic models);"
    " not the platform seed"
)
console = Console(highlight=False)


# The dataset -----------------------------------------------------------------------------------
#
# Everything is planned first as (timestamp, sequence, topic, stream, event class, fields), then
# sorted by time and emitted: stream versions are numbered 1..n in that order, as the stores
# would, so each teacher's year is spread over the whole log as it is in production (a batch sees
# many teachers a few events each, not one teacher's year at once).

NATIONAL_SCHOOLS = 22_000
NATIONAL_TEACHERS = 470_000
NATIONAL_TRUSTS = 1_300
PROVIDERS = 40
COURSES = 300

REGION_WEIGHTS = {  # roughly schools per region in England
    "north_east": 5,
    "north_west": 13,
    "yorkshire_and_the_humber": 10,
    "east_midlands": 9,
    "west_midlands": 11,
    "east_of_england": 12,
    "london": 12,
    "south_east": 17,
    "south_west": 11,
}
PHASES = [  # phase, share of schools, pupils median, pupils per teacher
    ("Primary", 0.75, 280, 20.5),
    ("Secondary", 0.155, 1000, 16.5),
    ("Special", 0.05, 110, 6.5),
    ("All-through", 0.015, 1300, 17.0),
    ("Nursery", 0.03, 90, 13.0),
]
STAGES = [  # career stage, share of teachers
    ("trainee", 0.02),
    ("ect_year_1", 0.06),
    ("ect_year_2", 0.06),
    ("early_career", 0.14),
    ("experienced", 0.50),
    ("middle_leader", 0.15),
    ("senior_leader", 0.07),
]
ACTIVITIES = [  # activity type, weight
    ("course", 25),
    ("inset", 20),
    ("coaching", 10),
    ("peer_observation", 12),
    ("research", 8),
    ("network", 8),
    ("mentoring", 7),
    ("shadowing", 4),
    ("other", 6),
]
COURSE_KINDS = [  # kind, weight, hours range, price range (pence)
    ("npq", 10, (40, 80), (0, 0)),
    ("hub", 20, (3, 12), (0, 15_000)),
    ("university", 8, (20, 60), (80_000, 250_000)),
    ("inset", 15, (2, 6), (0, 0)),
    ("coaching", 12, (6, 20), (20_000, 90_000)),
    ("mentor_development", 8, (10, 36), (0, 40_000)),
    ("shadowing", 5, (4, 10), (0, 0)),
    ("professional_membership", 7, (5, 15), (5_000, 20_000)),
    ("other", 15, (3, 15), (5_000, 60_000)),
]
NPQS = ["NPQLT", "NPQLTD", "NPQLBC", "NPQLL", "NPQLPM", "NPQSL", "NPQH", "NPQEL", "NPQEYL"]
PROVIDER_KINDS = [
    "npq_lead_provider",
    "university",
    "chartered_college",
    "teaching_school_hub",
    "curriculum_hub",
    "mentor_training_provider",
    "other",
]
FOCUS = ["Behaviour management", "Adaptive teaching", "Assessment", "Subject knowledge"]
SESSION_MINUTES = [30, 45, 50, 60, 60, 90]

ENTITLEMENT, CATALOGUE, MENTORING = 0, 1, 2


def _ts(day: date, seconds: float) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() + seconds


def _weekdays(start: date, end: date) -> list[date]:
    days, day = [], start
    while day <= end:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


@dataclass
class Plan:
    """The planned events, unsorted: (ts, seq, topic, stream, class, fields)."""

    items: list[tuple[float, int, int, str, type[Event], dict[str, Any]]] = field(
        default_factory=list
    )
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, ts: float, topic: int, stream: str, cls: type[Event], **fields: Any) -> None:
        self.items.append((ts, len(self.items), topic, stream, cls, fields))
        self.counts[cls.__name__] += 1


@dataclass
class Dataset:
    scale: float
    seed: int
    academic_year: str
    schools: int
    teachers: int
    trusts: int
    plan: Plan


def build_plan(scale: float, seed: int, academic_year: str) -> Dataset:
    from cpd_events import catalogue_events as cat
    from cpd_events import entitlement_events as ent
    from cpd_events import mentoring_events as men
    from cpd_events import registry_events as reg

    rng = random.Random(seed)
    plan = Plan()
    y0 = int(academic_year[:4])
    year = academic_year
    year_key = year.replace("/", "-")
    setup = date(y0, 8, 20)  # registry and catalogue loaded before the year
    start, end = date(y0, 9, 1), date(y0 + 1, 8, 31)
    terms = [
        (date(y0, 9, 3), date(y0, 12, 19)),
        (date(y0 + 1, 1, 5), date(y0 + 1, 3, 27)),
        (date(y0 + 1, 4, 13), date(y0 + 1, 7, 22)),
    ]
    term_days = [d for a, b in terms for d in _weekdays(a, b)]
    n_schools = max(10, round(NATIONAL_SCHOOLS * scale))
    n_teachers = max(50, round(NATIONAL_TEACHERS * scale))
    n_trusts = max(1, round(NATIONAL_TRUSTS * scale))

    # catalogue ------------------------------------------------------------------------------
    providers = [f"P{k:03d}" for k in range(PROVIDERS)]
    for k, pid in enumerate(providers):
        plan.add(
            _ts(setup, 3600 + k),
            CATALOGUE,
            f"provider-{pid}",
            cat.ProviderRegistered,
            provider_id=pid,
            name=f"Provider {k}",
            kind=PROVIDER_KINDS[k % len(PROVIDER_KINDS)],
        )
    courses: list[tuple[str, int, Decimal]] = []  # id, price, hours
    kind_weights = [k[1] for k in COURSE_KINDS]
    for k in range(COURSES):
        kind, _, (h0, h1), (p0, p1) = rng.choices(COURSE_KINDS, kind_weights)[0]
        cid = f"C{k:04d}"
        price = 0 if p1 == 0 or rng.random() < 0.25 else rng.randrange(p0, p1 + 1, 500)
        hours = Decimal(rng.randint(h0, h1))
        plan.add(
            _ts(setup, 7200 + k),
            CATALOGUE,
            f"course-{cid}",
            cat.CourseListed,
            course_id=cid,
            provider_id=rng.choice(providers),
            title=f"{kind.replace('_', ' ').title()} course {k}",
            kind=kind,
            npq_type=rng.choice(NPQS) if kind == "npq" else None,
            hours=hours,
            price_pence=price,
            government_funded=kind == "npq",
        )
        courses.append((cid, price, hours))
    # popularity: a few courses take most requests
    course_cum = list(_cumulative([1 / (i + 1) ** 0.9 for i in range(COURSES)]))

    # schools and trusts ---------------------------------------------------------------------
    regions = list(REGION_WEIGHTS)
    region_cum = list(_cumulative(REGION_WEIGHTS.values()))
    las_per_region = max(1, round(153 / len(regions)))
    phase_cum = list(_cumulative(p[1] for p in PHASES))
    schools: list[dict[str, Any]] = []
    for k in range(n_schools):
        urn = f"{100_000 + k:06d}"
        region = regions[bisect.bisect(region_cum, rng.random() * region_cum[-1])]
        phase, _, median, ratio = PHASES[bisect.bisect(phase_cum, rng.random() * phase_cum[-1])]
        pupils = max(15, round(median * rng.lognormvariate(0, 0.45)))
        fsm = Decimal(rng.randint(300, 5500)) / 100
        school: dict[str, Any] = {
            "urn": urn,
            "region": region,
            "pp50": fsm >= 40 or rng.random() < 0.12,
            "weight": pupils / ratio,
            "trust": None,
            "model": "delegated",
        }
        schools.append(school)
        plan.add(
            _ts(setup, 10_000 + k * 0.5),
            ENTITLEMENT,
            f"school-{urn}",
            reg.SchoolRegistered,
            urn=urn,
            name=f"{phase} School {k}",
            local_authority=f"LA {regions.index(region)}{rng.randrange(las_per_region):02d}",
            phase=phase,
            region=region,
            pupils_on_roll=pupils,
            fsm_percent=fsm,
            pp50=school["pp50"],
        )
    trusts = [f"{2000 + k}" for k in range(n_trusts)]
    models: dict[str, tuple[str, Decimal]] = {}
    for k, tid in enumerate(trusts):
        roll = rng.random()
        model = (
            ("delegated", Decimal(0))
            if roll < 0.5
            else ("centralised", Decimal(100))
            if roll < 0.8
            else ("hybrid", Decimal(50))
        )
        models[tid] = model
        plan.add(
            _ts(setup, 9000 + k),
            ENTITLEMENT,
            f"trust-{tid}",
            reg.TrustRegistered,
            trust_id=tid,
            name=f"Trust {k}",
            region=rng.choice(regions),
        )
        plan.add(
            _ts(setup, 9000 + k + 0.25),
            ENTITLEMENT,
            f"trust-{tid}",
            reg.TrustFundingModelChosen,
            trust_id=tid,
            model=model[0],
            central_share_percent=model[1],
            effective_from=start,
        )
    # ~60% of schools in trusts, a few large trusts and many small ones
    members = rng.sample(range(n_schools), round(n_schools * 0.6))
    trust_cum = list(_cumulative([1 / (i + 1) ** 0.7 for i in range(n_trusts)]))
    for j, k in enumerate(members):
        tid = (
            trusts[j]
            if j < n_trusts
            else trusts[bisect.bisect(trust_cum, rng.random() * trust_cum[-1])]
        )
        schools[k]["trust"] = tid
        schools[k]["model"] = models[tid][0]
        plan.add(
            _ts(setup, 40_000 + k * 0.5),
            ENTITLEMENT,
            f"school-{schools[k]['urn']}",
            reg.SchoolJoinedTrust,
            urn=schools[k]["urn"],
            trust_id=tid,
            effective_from=date(rng.randint(2012, y0), rng.randint(1, 12), 1),
        )

    # policy and budgets ---------------------------------------------------------------------
    base_pence, minimum = 60_000, Decimal(35)
    plan.add(
        _ts(date(y0, 8, 25), 36_000),
        ENTITLEMENT,
        f"policy-{year_key}",
        ent.EntitlementPolicyPublished,
        academic_year=year,
        policy_version=1,
        minimum_hours=minimum,
        base_funding_per_fte_pence=base_pence,
        pp50_uplift_percent=Decimal(25),
        early_career_uplift_percent=Decimal(10),
        effective_from=start,
    )

    def school_budget(urn: str) -> str:
        return f"{year_key}-school-{urn}"

    def trust_budget(tid: str) -> str:
        return f"{year_key}-trust-{tid}"

    school_cum = list(_cumulative(s["weight"] for s in schools))
    staff: list[list[int]] = [[] for _ in schools]
    teacher_school = [
        bisect.bisect(school_cum, rng.random() * school_cum[-1]) for _ in range(n_teachers)
    ]
    for i, k in enumerate(teacher_school):
        staff[k].append(i)
    for k, school in enumerate(schools):
        amount = 80_000 * max(1, len(staff[k]))
        plan.add(
            _ts(start, 28_800 + k * 0.1),
            ENTITLEMENT,
            f"budget-{school_budget(school['urn'])}",
            ent.BudgetAllocated,
            budget_id=school_budget(school["urn"]),
            holder="school",
            school_urn=school["urn"],
            academic_year=year,
            amount_pence=amount,
        )
    for k, tid in enumerate(trusts):
        if models[tid][0] != "delegated":
            plan.add(
                _ts(start, 30_000 + k * 0.1),
                ENTITLEMENT,
                f"budget-{trust_budget(tid)}",
                ent.BudgetAllocated,
                budget_id=trust_budget(tid),
                holder="trust",
                trust_id=tid,
                academic_year=year,
                amount_pence=5_000_000_000,
            )

    def payers(school: dict[str, Any], cost: int) -> list[tuple[str, int]]:
        if cost == 0:
            return []
        if school["model"] == "centralised":
            return [(trust_budget(school["trust"]), cost)]
        if school["model"] == "hybrid":
            half = cost // 2
            return [
                (trust_budget(school["trust"]), half),
                (school_budget(school["urn"]), cost - half),
            ]
        return [(school_budget(school["urn"]), cost)]

    # teachers ---------------------------------------------------------------------------------
    stage_cum = list(_cumulative(s[1] for s in STAGES))
    activity_cum = list(_cumulative(a[1] for a in ACTIVITIES))
    ects: dict[int, list[str]] = {}  # school -> ECT trns (registered at the start)
    experienced: dict[int, list[str]] = {}
    day0 = _ts(start, 0)
    for i in range(n_teachers):
        trn = f"{1_000_000 + i:07d}"
        stream = f"teacher-{trn}"
        k = teacher_school[i]
        stage = STAGES[bisect.bisect(stage_cum, rng.random() * stage_cum[-1])][0]
        fte = Decimal(rng.choice((100, 100, 100, 100, 100, 100, 80, 60, 50)))
        mid_year = rng.random() < 0.02
        registered_on = (
            start + timedelta(days=rng.randint(30, 200)) if mid_year else date(2010 + i % 15, 9, 1)
        )
        first_day = max(start, registered_on)
        reg_ts = _ts(setup, 60_000 + i * 0.05) if not mid_year else _ts(registered_on, 32_400)
        plan.add(
            reg_ts,
            ENTITLEMENT,
            stream,
            reg.TeacherRegistered,
            trn=trn,
            school_urn=schools[k]["urn"],
            given_name="Given",
            family_name=f"Family{i % 997}",
            career_stage=stage,
            fte=fte,
            registered_on=registered_on,
        )
        if not mid_year:
            if stage in ("ect_year_1", "ect_year_2"):
                ects.setdefault(k, []).append(trn)
            elif stage in ("experienced", "middle_leader"):
                experienced.setdefault(k, []).append(trn)
        # a move for ~3% (not ECTs: their mentorship stays with the school)
        move_ts = float("inf")
        new_k = k
        if stage not in ("ect_year_1", "ect_year_2") and rng.random() < 0.03 and n_schools > 1:
            new_k = rng.randrange(n_schools - 1)
            new_k += new_k >= k
            move_day = first_day + timedelta(days=rng.randint(60, 240))
            move_ts = _ts(move_day, 28_000)
            plan.add(
                move_ts,
                ENTITLEMENT,
                stream,
                reg.TeacherMovedSchool,
                trn=trn,
                from_school_urn=schools[k]["urn"],
                school_urn=schools[new_k]["urn"],
                moved_on=move_day,
            )

        def school_at(
            ts: float, k: int = k, new_k: int = new_k, move_ts: float = move_ts
        ) -> dict[str, Any]:
            return schools[new_k] if ts >= move_ts else schools[k]

        # the grant
        pro_rata = Decimal(100)
        if mid_year:
            pro_rata = (Decimal((end - registered_on).days) * 100 / 365).quantize(Decimal("0.01"))
        uplift = (
            Decimal(1)
            + (Decimal("0.25") if schools[k]["pp50"] else 0)
            + (Decimal("0.10") if stage in ("ect_year_1", "ect_year_2", "early_career") else 0)
        )
        entitled = (minimum * fte / 100 * pro_rata / 100).quantize(Decimal("0.01"))
        grant_ts = reg_ts + 3600 if mid_year else _ts(start, 36_000 + i * 0.05)
        plan.add(
            grant_ts,
            ENTITLEMENT,
            stream,
            ent.EntitlementGranted,
            trn=trn,
            school_urn=schools[k]["urn"],
            academic_year=year,
            policy_version=1,
            hours=entitled,
            funding_pence=int(base_pence * fte / 100 * pro_rata / 100 * uplift),
            pro_rata_percent=pro_rata,
        )
        # CPD requests: 2-4, decided within two weeks, most approved, most approved completed
        first_ts = max(grant_ts, day0) + 3600
        span = _ts(date(y0 + 1, 6, 30), 0) - first_ts
        completed: list[tuple[str, date]] = []
        for r in range(rng.randint(2, 4)):
            cid, price, course_hours = courses[
                bisect.bisect(course_cum, rng.random() * course_cum[-1])
            ]
            request_id = f"req-{trn}-{r}"
            at = first_ts + rng.random() * max(span, 86_400)
            school = school_at(at)
            plan.add(
                at,
                ENTITLEMENT,
                stream,
                ent.CPDRequested,
                request_id=request_id,
                trn=trn,
                school_urn=school["urn"],
                course_id=cid,
                academic_year=year,
                cost_pence=price,
                expected_hours=course_hours,
                plan_goal="Improve practice" if rng.random() < 0.3 else None,
            )
            if rng.random() < 0.05:
                continue  # still pending at the end of the year
            decided = at + rng.uniform(3_600, 14 * 86_400)
            school = school_at(decided)
            if rng.random() < 0.10:
                plan.add(
                    decided,
                    ENTITLEMENT,
                    stream,
                    ent.CPDDeclined,
                    request_id=request_id,
                    trn=trn,
                    school_urn=school["urn"],
                    declined_by="CPD Lead",
                    reason="Budget priorities",
                )
                continue
            shares = payers(school, price)
            plan.add(
                decided,
                ENTITLEMENT,
                stream,
                ent.CPDApproved,
                request_id=request_id,
                trn=trn,
                school_urn=school["urn"],
                approved_by="CPD Lead",
                funded_from_budget_id=shares[0][0] if shares else None,
                funding=[{"budget_id": b, "amount_pence": a} for b, a in shares],
                cost_pence=price,
            )
            for b, amount in shares:
                plan.add(
                    decided + 0.5,
                    ENTITLEMENT,
                    f"budget-{b}",
                    ent.FundingCommitted,
                    budget_id=b,
                    request_id=request_id,
                    trn=trn,
                    school_urn=school["urn"],
                    trust_id=school["trust"],
                    academic_year=year,
                    amount_pence=amount,
                )
            if rng.random() < 0.2:
                continue  # approved, not completed within the year
            done = datetime.fromtimestamp(decided, UTC).date() + timedelta(days=rng.randint(7, 90))
            done = min(done, end - timedelta(days=1))
            done_ts = max(_ts(done, 61_200), decided + 60)
            plan.add(
                done_ts,
                ENTITLEMENT,
                stream,
                ent.CPDCompleted,
                request_id=request_id,
                trn=trn,
                school_urn=school_at(done_ts)["urn"],
                course_id=cid,
                completed_on=done,
            )
            completed.append((request_id, done))
            for b, amount in shares:
                plan.add(
                    done_ts + 0.5,
                    ENTITLEMENT,
                    f"budget-{b}",
                    ent.FundingSpent,
                    budget_id=b,
                    request_id=request_id,
                    trn=trn,
                    school_urn=school["urn"],
                    trust_id=school["trust"],
                    academic_year=year,
                    amount_pence=amount,
                )
        # hours: 15-25 logs on term days, logged the same evening or a few days later
        days = [d for d in term_days if d >= first_day]
        logs: list[tuple[float, date, Decimal, str]] = []
        for n in range(rng.randint(15, 25) if days else 0):
            day = rng.choice(days)
            hours = Decimal(rng.randint(2, 12)) / 4
            logs.append(
                (
                    _ts(day, 57_600 + rng.random() * 86_400 * rng.choice((0.1, 1, 3))),
                    day,
                    hours,
                    f"log-{trn}-{n}",
                )
            )
        logs.sort()
        total = Decimal(0)
        met = False
        for at, day, hours, log_id in logs:
            activity = ACTIVITIES[bisect.bisect(activity_cum, rng.random() * activity_cum[-1])][0]
            school = school_at(at)
            linked = (
                next((r for r, d in completed if d <= day), None) if activity == "course" else None
            )
            plan.add(
                at,
                ENTITLEMENT,
                stream,
                ent.HoursLogged,
                log_id=log_id,
                trn=trn,
                school_urn=school["urn"],
                academic_year=year,
                hours=hours,
                activity_type=activity,
                activity_date=day,
                request_id=linked,
                description="Session notes",
            )
            total += hours
            if not met and total >= entitled:
                met = True
                plan.add(
                    at + 0.001,
                    ENTITLEMENT,
                    stream,
                    ent.MinimumEntitlementMet,
                    trn=trn,
                    school_urn=school["urn"],
                    academic_year=year,
                    minimum_hours=entitled,
                    hours_logged=total,
                    met_on=day,
                )
            if rng.random() < 0.03:
                fixed_at = at + rng.uniform(86_400, 10 * 86_400)
                plan.add(
                    fixed_at,
                    ENTITLEMENT,
                    stream,
                    ent.HoursLogCorrected,
                    log_id=log_id,
                    trn=trn,
                    school_urn=school_at(fixed_at)["urn"],
                    academic_year=year,
                    corrected_hours=max(Decimal("0.25"), hours - Decimal("0.5")),
                    reason="Logged twice",
                )

    # mentoring: a mentor for up to 3 ECTs of a school, sessions every other week or so --------
    for k, mentees in ects.items():
        mentors = experienced.get(k, [])
        if not mentors:
            continue  # no mentor at the school: its ECTs stay without one
        urn = schools[k]["urn"]
        for m in range(0, len(mentees), 3):
            mentor = mentors[(m // 3) % len(mentors)]
            stream = f"mentor-{mentor}"
            if m < 3 * len(mentors):
                plan.add(
                    _ts(setup, 80_000 + k),
                    MENTORING,
                    stream,
                    men.MentorRegistered,
                    trn=mentor,
                    school_urn=urn,
                )
                plan.add(
                    _ts(setup, 80_000 + k + 0.5),
                    MENTORING,
                    stream,
                    men.MentorCapacitySet,
                    trn=mentor,
                    max_mentees=3,
                )
            for mentee in mentees[m : m + 3]:
                assignment = f"asg-{mentee}"
                plan.add(
                    _ts(date(y0, 9, 8), 32_400 + int(mentee) % 3600),
                    MENTORING,
                    stream,
                    men.MentorAssigned,
                    assignment_id=assignment,
                    trn=mentor,
                    mentee_trn=mentee,
                    school_urn=urn,
                    programme="early_career_induction",
                    starts_on=date(y0, 9, 8),
                )
                for n, day in enumerate(sorted(rng.sample(term_days[4:], rng.randint(15, 18)))):
                    minutes = rng.choice(SESSION_MINUTES)
                    plan.add(
                        _ts(day, 55_800 + rng.random() * 3600),
                        MENTORING,
                        stream,
                        men.MentoringSessionLogged,
                        session_id=f"ses-{mentee}-{n}",
                        assignment_id=assignment,
                        trn=mentor,
                        mentee_trn=mentee,
                        school_urn=urn,
                        mentor_school_urn=urn,
                        programme="early_career_induction",
                        held_on=day,
                        minutes=minutes,
                        hours=men.session_hours(minutes),
                        focus=rng.choice(FOCUS),
                        academic_year=year,
                    )
    plan.items.sort(key=lambda item: (item[0], item[1]))
    return Dataset(scale, seed, year, n_schools, n_teachers, n_trusts, plan)


def _cumulative(weights: Any) -> Iterator[float]:
    total = 0.0
    for w in weights:
        total += w
        yield total


def emit(
    dataset: Dataset, topics: list[str], seed: int
) -> Iterator[tuple[str, bytes, bytes, tuple[Any, ...]]]:
    """Validated events in time order: (topic, key, value, COPY row); stream versions 1..n."""
    rng = random.Random(seed * 7919 + 1)
    versions: dict[str, int] = {}
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    for position, (ts, _seq, topic, stream, cls, fields) in enumerate(dataset.plan.items, 1):
        event = cls(**fields)  # validated against the contract
        data = event.model_dump_json()
        values = event.__dict__  # Event.tenancy(), without building the model
        school = values.get("school_urn") or values.get("urn")
        version = versions[stream] = versions.get(stream, 0) + 1
        event_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        occurred = datetime.fromtimestamp(ts, UTC)
        recorded = datetime.fromtimestamp(ts + 0.05 + (position % 7) * 0.01, UTC)
        head = {
            "event_id": str(event_id),
            "event_type": cls.event_type,
            "schema_version": cls.schema_version,
            "stream_id": stream,
            "stream_version": version,
            "position": position,
            "occurred_at": occurred.isoformat(),
            "recorded_at": recorded.isoformat(),
            "correlation_id": f"bench-{position // 50}",
            "causation_id": None,
            "actor": "bench",
            "trust_id": values.get("trust_id"),
            "school_urn": school,
            "teacher_id": values.get("trn"),
        }
        value = f'{dumps(head)[:-1]},"data":{data}}}'.encode()
        row = (event_id, stream, version, cls.event_type, occurred, data)
        yield topics[topic], stream.encode(), value, row


# Measurements ------------------------------------------------------------------------------------


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=console,
    )


async def produce(
    bootstrap: str, dataset: Dataset, topics: list[str], seed: int, copy_limit: int
) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    from aiokafka import AIOKafkaProducer

    from cpd_events import REGISTRY
    from cpd_events.registry import parse_envelope

    total = len(dataset.plan.items)
    # make_producer's settings (cpd_eventstore.kafka) but a 50 ms linger: fuller batches over
    # 36 partitions (producing is set-up here, not a measured figure)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="bench-reporting-rebuild",
        acks="all",
        linger_ms=50,
        max_batch_size=1024 * 1024,
        request_timeout_ms=30_000,
        enable_idempotence=False,
    )
    await producer.start()
    rows: list[tuple[Any, ...]] = []
    per_topic: Counter[str] = Counter()
    value_bytes = 0
    checked = 0
    started = time.perf_counter()
    try:
        with _progress() as bar:
            task = bar.add_task("producing", total=total, rate="")
            # send() only queues (it waits when the producer's buffer is full); the futures of
            # the chunk before the last are checked, so errors surface without stalling the pipe
            futures: list[asyncio.Future[Any]] = []
            previous: list[asyncio.Future[Any]] = []
            for n, (topic, key, value, row) in enumerate(emit(dataset, topics, seed), 1):
                futures.append(await producer.send(topic, value=value, key=key))
                if len(rows) < copy_limit:
                    rows.append(row)
                per_topic[topic] += 1
                value_bytes += len(value)
                if n % 997 == 1:  # the envelope as consumers parse it, on a sample
                    REGISTRY.load(parse_envelope(value))
                    checked += 1
                if len(futures) >= 50_000:
                    await asyncio.gather(*previous)
                    previous, futures = futures, []
                    rate = n / (time.perf_counter() - started)
                    bar.update(task, completed=n, rate=f"{rate:,.0f}/s")
            await asyncio.gather(*previous, *futures)
            await producer.flush()
            bar.update(
                task, completed=total, rate=f"{total / (time.perf_counter() - started):,.0f}/s"
            )
    finally:
        await producer.stop()
    seconds = time.perf_counter() - started
    return {
        "messages": total,
        "per_topic": dict(per_topic),
        "mean_value_bytes": round(value_bytes / max(1, total)),
        "envelopes_checked": checked,
        "generate_and_produce_s": round(seconds, 2),
        "generate_and_produce_per_s": round(total / seconds),
    }, rows


async def raw_consume(bootstrap: str, topics: list[str], expect: int) -> dict[str, Any]:
    """Every message of the topics read by a group-less consumer with every partition assigned."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
        fetch_max_wait_ms=100,
    )
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        got = 0
        sample: list[bytes] = []
        started = time.perf_counter()
        deadline = started + 600
        while time.perf_counter() < deadline:
            fetched = await consumer.getmany(timeout_ms=200)
            for records in fetched.values():
                got += len(records)
                if len(sample) < 100_000:
                    sample.extend(r.value for r in records[: 100_000 - len(sample)])
            if got >= expect and await _at_high_water(consumer, partitions):
                break
        seconds = time.perf_counter() - started
    finally:
        await consumer.stop()
    if got < expect:
        raise RuntimeError(f"raw consume read {got:,} of {expect:,} messages")
    return {
        "messages": got,
        "seconds": round(seconds, 3),
        "msgs_per_s": round(got / seconds),
        "partitions": len(partitions),
        **decode_rate(sample),
    }


async def _at_high_water(consumer: Any, partitions: list[Any]) -> bool:
    for tp in partitions:
        high = consumer.highwater(tp)
        if high is None or await consumer.position(tp) < high:
            return False
    return True


def decode_rate(values: list[bytes]) -> dict[str, Any]:
    """Envelope + payload validation alone (what the engine does per record before any SQL)."""
    from cpd_events import REGISTRY
    from cpd_events.registry import parse_envelope

    started = time.perf_counter()
    for value in values:
        REGISTRY.load(parse_envelope(value))
    seconds = time.perf_counter() - started
    return {"decode_sample": len(values), "decode_per_s": round(len(values) / seconds)}


COPY_DDL = """
create schema if not exists bench_raw;
drop table if exists bench_raw.events;
create table bench_raw.events (
    event_id uuid not null,
    stream_id text not null,
    version int not null,
    type text not null,
    occurred_at timestamptz not null,
    data jsonb not null
);
"""


async def copy_rows(database_url: str, rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    """COPY of one row per event into a logged table without indexes, 100,000 rows a statement."""
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(COPY_DDL)
        columns = ["event_id", "stream_id", "version", "type", "occurred_at", "data"]
        started = time.perf_counter()
        for k in range(0, len(rows), 100_000):
            await conn.copy_records_to_table(
                "events", schema_name="bench_raw", records=rows[k : k + 100_000], columns=columns
            )
        seconds = time.perf_counter() - started
        size = await conn.fetchval("select pg_total_relation_size('bench_raw.events')")
        await conn.execute("drop schema bench_raw cascade")
    finally:
        await conn.close()
    return {
        "rows": len(rows),
        "seconds": round(seconds, 3),
        "rows_per_s": round(len(rows) / seconds),
        "table": "logged, no indexes, synchronous_commit as the server's (on)",
        "table_mb": round(size / 2**20, 1),
    }


# The rebuild, in a child process ---------------------------------------------------------------


def _status_kb(name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


class RssSampler(threading.Thread):
    def __init__(self, every_s: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.every_s = every_s
        self.peak_kb = 0
        self.samples: list[tuple[float, int]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        started = time.perf_counter()
        while not self._halt.is_set():
            rss = _status_kb("VmRSS")
            self.peak_kb = max(self.peak_kb, rss)
            if not self.samples or time.perf_counter() - started - self.samples[-1][0] >= 1:
                self.samples.append((round(time.perf_counter() - started, 1), rss))
            self._halt.wait(self.every_s)

    def stop(self) -> None:
        self._halt.set()
        self.join()


class SqlTimes:
    """Time spent per statement (asyncpg query loggers) and in COPY, on every pooled connection."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: Counter[str] = Counter()

    def note(self, query: str, elapsed: float) -> None:
        key = " ".join(query.split())[:100]
        self.seconds[key] = self.seconds.get(key, 0.0) + elapsed
        self.calls[key] += 1

    def logger(self, record: Any) -> None:
        self.note(record.query, record.elapsed)

    def connection_class(self) -> type:
        import asyncpg

        times = self

        class TimedConnection(asyncpg.Connection):
            async def copy_records_to_table(self, table_name: str, **kwargs: Any) -> str:
                at = time.perf_counter()
                try:
                    return await super().copy_records_to_table(table_name, **kwargs)
                finally:
                    times.note(f"COPY (records) {table_name}", time.perf_counter() - at)

        return TimedConnection

    async def init(self, conn: Any) -> None:
        conn.add_query_logger(self.logger)

    def top(self, n: int = 30) -> list[dict[str, Any]]:
        return [
            {"statement": k, "calls": self.calls[k], "seconds": round(v, 3)}
            for k, v in sorted(self.seconds.items(), key=lambda kv: -kv[1])[:n]
        ]


async def rebuild(args: argparse.Namespace) -> dict[str, Any]:
    from cpd_eventstore.db import create_pool
    from reporting.generations import (
        EngineSettings,
        create_generation,
        drop_generation,
        engine_for,
    )
    from reporting.summaries import refresh_school_summaries

    topics = args.topics.split(",")
    before_kb = _status_kb("VmRSS")
    sql = SqlTimes()
    pool = await create_pool(
        args.database_url, max_size=4, connection_class=sql.connection_class(), init=sql.init
    )
    try:
        generation = await create_generation(pool)
        settings = EngineSettings(
            args.bootstrap,
            topics,
            batch_size=args.batch_size,
            session_timeout_ms=args.session_timeout_ms,
        )
        engine = engine_for(pool, generation, settings)
        timing = {"handle_s": 0.0, "first_handle": 0.0, "settle_s": 0.0, "settled": 0.0}
        handle, settle = engine.handle, engine.projection.settle  # type: ignore[attr-defined]

        async def timed_handle(records: Any, decoded: Any = None) -> None:
            at = time.perf_counter()
            timing["first_handle"] = timing["first_handle"] or at
            await handle(records, decoded)
            timing["handle_s"] += time.perf_counter() - at

        async def timed_settle(conn: Any, caught_up: bool) -> int:
            at = time.perf_counter()
            n: int = await settle(conn, caught_up)
            timing["settle_s"] += time.perf_counter() - at
            timing["settled"] += n
            return n

        decode = engine._decode

        def timed_decode(records: Any) -> Any:
            at = time.perf_counter()
            try:
                return decode(records)
            finally:
                timing["decode_s"] += time.perf_counter() - at

        timing["decode_s"] = 0.0
        engine._decode = timed_decode  # type: ignore[method-assign]
        engine.handle = timed_handle  # type: ignore[method-assign]
        engine.projection.settle = timed_settle  # type: ignore[attr-defined]
        profiler = None
        if args.profile_to:
            import cProfile

            profiler = cProfile.Profile()
        sampler = RssSampler()
        sampler.start()
        gc.collect()
        sql.seconds.clear()
        sql.calls.clear()
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        progress = await engine.run(asyncio.Event(), until_caught_up=True)
        finished = time.perf_counter()
        if profiler:
            profiler.disable()
        sql_in_run = {
            "total_s": round(sum(sql.seconds.values()), 3),
            "copy_s": round(sum(v for k, v in sql.seconds.items() if k.startswith("COPY")), 3),
            "statements": sum(sql.calls.values()),
            "top": sql.top(),
        }
        await engine.settle_all()
        settle_all_s = time.perf_counter() - finished
        sampler.stop()
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(f"set local search_path to {generation.schema_name}, public")
            at = time.perf_counter()
            full = await refresh_school_summaries(conn, None, datetime.now(UTC).date())
            full_refresh_s = time.perf_counter() - at
        counts = {
            t: await pool.fetchval(f"select count(*) from {generation.schema_name}.{t}")
            for t in (
                "schools",
                "trusts",
                "teachers",
                "teacher_years",
                "requests",
                "hours_log",
                "mentorships",
                "mentoring_sessions",
                "budgets",
                "school_days",
                "school_summaries",
                "applied_streams",
            )
        }
        dead = await pool.fetchval(
            "select count(*) from es.dead_letters where consumer = $1", generation.group_id
        )
        if profiler:
            profiler.dump_stats(args.profile_to)
        if not args.keep:
            await drop_generation(pool, generation)
    finally:
        await pool.close()
    wall = finished - started
    steady = finished - (timing["first_handle"] or started)
    return {
        "generation": generation.schema_name,
        "progress": progress.as_dict(),
        "events": progress.applied,
        "wall_s": round(wall, 3),
        "events_per_s": round(progress.applied / wall),
        "join_s": round(wall - steady, 3),
        "steady_s": round(steady, 3),
        "steady_events_per_s": round(progress.applied / steady),
        "handle_s": round(timing["handle_s"], 3),
        "decode_s": round(timing["decode_s"], 3),
        "settle_in_run_s": round(timing["settle_s"], 3),
        "settled_in_run": int(timing["settled"]),
        "fetch_and_other_s": round(steady - timing["handle_s"] - timing["settle_s"], 3),
        "sql_in_run": sql_in_run,
        "settle_all_s": round(settle_all_s, 3),
        "full_summaries_refresh": {"schools": full, "seconds": round(full_refresh_s, 3)},
        "rss_mb": {
            "before_run": round(before_kb / 1024, 1),
            "peak_sampled": round(sampler.peak_kb / 1024, 1),
            "peak_vmhwm": round(_status_kb("VmHWM") / 1024, 1),
            # ru_maxrss keeps the forked parent's peak across exec on Linux: not the rebuild's
            "ru_maxrss_inherited": round(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
            ),
            "timeline_s_mb": [
                (t, round(kb / 1024))
                for t, kb in sampler.samples[:: max(1, len(sampler.samples) // 30)]
            ],
        },
        "table_rows": counts,
        "dead_letters": dead,
        "profiled": bool(args.profile_to),
    }


def run_rebuild_child(
    bootstrap: str,
    database_url: str,
    topics: list[str],
    args: argparse.Namespace,
    profile_to: str = "",
) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        path = out.name
    command = [
        sys.executable,
        __file__,
        "--rebuild-child",
        path,
        "--bootstrap",
        bootstrap,
        "--database-url",
        database_url,
        "--topics",
        ",".join(topics),
        "--batch-size",
        str(args.batch_size),
        "--session-timeout-ms",
        str(args.session_timeout_ms),
    ]
    if profile_to:
        command += ["--profile-to", profile_to]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    try:
        result: dict[str, Any] = json.loads(Path(path).read_text())
        return result
    finally:
        Path(path).unlink(missing_ok=True)


# The run -----------------------------------------------------------------------------------------


async def prepare_database(database_url: str) -> str:
    from cpd_eventstore import EVENTSTORE_MIGRATIONS, migrate
    from cpd_eventstore.db import create_pool
    from reporting.generations import META_MIGRATIONS

    pool = await create_pool(database_url, max_size=2)
    try:
        await migrate(pool, "eventstore", list(EVENTSTORE_MIGRATIONS))
        await migrate(pool, "reporting_meta", list(META_MIGRATIONS))
        return str(await pool.fetchval("show server_version"))
    finally:
        await pool.close()


async def delete_topics(bootstrap: str, topics: list[str]) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(topics)
    finally:
        await admin.close()


def measure(
    args: argparse.Namespace, bootstrap: str, database_url: str, source: str
) -> dict[str, Any]:
    from cpd_events.topics import ALL_TOPICS, DEFAULT_PARTITIONS
    from cpd_eventstore.kafka import ensure_topics

    load_before = os.getloadavg()
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    topics = [f"{t}.bench-{stamp}" for t in ALL_TOPICS]  # entitlement, catalogue, mentoring
    server = asyncio.run(prepare_database(database_url))
    asyncio.run(ensure_topics(bootstrap, topics, DEFAULT_PARTITIONS))

    console.print(f"[bold]dataset[/]: {DATASET_NOTE}")
    at = time.perf_counter()
    dataset = build_plan(args.scale, args.seed, args.academic_year)
    plan_s = time.perf_counter() - at
    counts = dict(sorted(dataset.plan.counts.items(), key=lambda kv: -kv[1]))
    console.print(
        f"planned {len(dataset.plan.items):,} events for {dataset.teachers:,} teachers,"
        f" {dataset.schools:,} schools, {dataset.trusts:,} trusts in {plan_s:.1f} s"
    )
    produced, rows = asyncio.run(produce(bootstrap, dataset, topics, args.seed, args.copy_limit))
    total = produced["messages"]
    dataset_info = {
        "note": DATASET_NOTE,
        "scale": args.scale,
        "seed": args.seed,
        "academic_year": dataset.academic_year,
        "schools": dataset.schools,
        "teachers": dataset.teachers,
        "trusts": dataset.trusts,
        "events": total,
        "events_by_type": counts,
        "streams": len({item[3] for item in dataset.plan.items}),
        "topics": topics,
        "partitions_per_topic": DEFAULT_PARTITIONS,
        "plan_s": round(plan_s, 2),
        **produced,
    }
    del dataset
    gc.collect()
    console.print(
        f"produced {total:,} messages ({produced['mean_value_bytes']} B mean) at"
        f" {produced['generate_and_produce_per_s']:,}/s (generation included)"
    )

    consumed = asyncio.run(raw_consume(bootstrap, topics, total))
    console.print(f"raw consume: {consumed['msgs_per_s']:,} msgs/s")
    copied = asyncio.run(copy_rows(database_url, rows))
    console.print(f"COPY: {copied['rows_per_s']:,} rows/s")
    del rows
    gc.collect()

    console.print("rebuilding (child process)...")
    rebuilt = run_rebuild_child(bootstrap, database_url, topics, args)
    if rebuilt["events"] != total:
        console.print(f"[red]rebuild applied {rebuilt['events']:,} of {total:,} events[/]")
    profile: dict[str, Any] | None = None
    if args.profile:
        RESULTS.mkdir(exist_ok=True)
        prof = RESULTS / f"reporting_rebuild-{stamp}.prof"
        console.print("profiling a second rebuild (cProfile)...")
        profiled = run_rebuild_child(bootstrap, database_url, topics, args, str(prof))
        profile = {"file": str(prof), "wall_s": profiled["wall_s"], "top": top_stats(prof)}
    if not args.keep:
        asyncio.run(delete_topics(bootstrap, topics))

    rate = rebuilt["steady_events_per_s"]
    rss = rebuilt["rss_mb"]["peak_vmhwm"]
    return {
        "benchmark": "reporting_rebuild",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
            # other work on the machine skews every figure; the ratios are taken in one run
            "loadavg_1_5_15_before": [round(x, 2) for x in load_before],
            "loadavg_1_5_15_after": [round(x, 2) for x in os.getloadavg()],
        },
        "versions": {
            "python": platform.python_version(),
            "postgres": server,
            **{p: version(p) for p in ("aiokafka", "asyncpg", "pydantic")},
            "infrastructure": source,
        },
        "dataset": dataset_info,
        "settings": {"batch_size": args.batch_size, "session_timeout_ms": args.session_timeout_ms},
        "figures": {
            "raw_consume": consumed,
            "copy": copied,
            "rebuild": rebuilt,
            "ratios": {
                "rebuild_over_consume": round(rate / consumed["msgs_per_s"], 3),
                "rebuild_over_copy": round(rate / copied["rows_per_s"], 3),
                "rebuild_over_decode": round(rate / consumed["decode_per_s"], 3),
            },
            "targets": {
                "rebuild_events_per_s": {
                    "target": 50_000,
                    "measured": rate,
                    "pass": rate >= 50_000,
                },
                "rebuild_peak_rss_mb": {"target": 500, "measured": rss, "pass": rss < 500},
            },
        },
        "profile": profile,
    }


def top_stats(path: Path, n: int = 25) -> list[str]:
    import io
    import pstats

    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    stats.sort_stats("cumulative").print_stats(n)
    return out.getvalue().splitlines()


def report(result: dict[str, Any]) -> None:
    f = result["figures"]
    r, c, k = f["rebuild"], f["raw_consume"], f["copy"]
    t = f["targets"]
    ok = {True: "[green]pass[/]", False: "[red]FAIL[/]"}
    load = result["machine"]["loadavg_1_5_15_after"]
    table = Table(
        title=f"reporting rebuild, {result['dataset']['events']:,} events"
        f" (scale {result['dataset']['scale']}, {result['machine']['cpus']} cores,"
        f" load {load[1]:.1f})",
        caption=DATASET_NOTE,
    )
    for column in ("what", "figure", "target"):
        table.add_column(column, justify="right" if column != "what" else "left")
    rows = [
        (
            "rebuild (from first batch)",
            f"{r['steady_events_per_s']:,} events/s",
            f">= 50,000 {ok[t['rebuild_events_per_s']['pass']]}",
        ),
        ("rebuild (wall, incl. group join)", f"{r['events_per_s']:,} events/s", ""),
        ("  group join / first fetch", f"{r['join_s']:.1f} s", ""),
        ("  in handle (decode + apply + SQL)", f"{r['handle_s']:.1f} s", ""),
        ("    decode (Envelope + payload)", f"{r['decode_s']:.1f} s", ""),
        (
            "    SQL statements (excl. COPY)",
            f"{r['sql_in_run']['total_s'] - r['sql_in_run']['copy_s']:.1f} s",
            "",
        ),
        ("    COPY into staging", f"{r['sql_in_run']['copy_s']:.1f} s", ""),
        (
            "    Python apply/UoW (rest)",
            f"{r['handle_s'] - r['decode_s'] - r['sql_in_run']['total_s']:.1f} s",
            "",
        ),
        ("  in settle (summaries) during run", f"{r['settle_in_run_s']:.1f} s", ""),
        ("  fetch, commit, other", f"{r['fetch_and_other_s']:.1f} s", ""),
        ("settle_all() after the run", f"{r['settle_all_s']:.2f} s", ""),
        (
            "full summaries refresh (all schools)",
            f"{r['full_summaries_refresh']['seconds']:.2f} s",
            "",
        ),
        ("raw aiokafka consume", f"{c['msgs_per_s']:,} msgs/s", ""),
        ("decode only (Envelope + payload), 1 core", f"{c['decode_per_s']:,} events/s", ""),
        ("asyncpg COPY, logged", f"{k['rows_per_s']:,} rows/s", ""),
        ("rebuild / consume", f"{f['ratios']['rebuild_over_consume']:.3f}", ""),
        ("rebuild / COPY", f"{f['ratios']['rebuild_over_copy']:.3f}", ""),
        ("rebuild / decode only", f"{f['ratios']['rebuild_over_decode']:.3f}", ""),
        (
            "peak RSS of the rebuild process",
            f"{r['rss_mb']['peak_vmhwm']:,.0f} MB",
            f"< 500 MB {ok[t['rebuild_peak_rss_mb']['pass']]}",
        ),
        ("dead letters", f"{r['dead_letters']}", "0"),
    ]
    for row in rows:
        table.add_row(*row)
    console.print(table)
    if result.get("profile"):
        print("\n".join(result["profile"]["top"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.02, help="1.0 = national")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--session-timeout-ms", type=int, default=10_000)
    parser.add_argument("--academic-year", default=None, help="default: the current one")
    parser.add_argument("--bootstrap", help="a running broker (default: embedded)")
    parser.add_argument("--database-url", help="a database to use (default: embedded, fresh)")
    parser.add_argument("--copy-limit", type=int, default=3_000_000, help="rows COPY measures")
    parser.add_argument("--profile", action="store_true", help="also profile a second rebuild")
    parser.add_argument("--keep", action="store_true", help="keep topics, database, generation")
    parser.add_argument("--rebuild-child", help=argparse.SUPPRESS)
    parser.add_argument("--topics", help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.rebuild_child:
        result = asyncio.run(rebuild(args))
        Path(args.rebuild_child).write_text(json.dumps(result))
        return

    from cpd_events.types import academic_year_of

    args.academic_year = args.academic_year or academic_year_of(datetime.now(UTC).date())
    result = run(args)
    report(result)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out = RESULTS / f"reporting_rebuild-{stamp}.json"
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    console.print(f"wrote {out}")


def run(args: argparse.Namespace) -> dict[str, Any]:
    from cpd_platform.testing import create_database, drop_database, infrastructure

    if args.bootstrap and args.database_url:
        return measure(
            args, args.bootstrap, args.database_url, "given by --bootstrap/--database-url"
        )
    if args.bootstrap:
        os.environ["KAFKA_BOOTSTRAP_SERVERS"] = args.bootstrap
    if args.database_url:
        os.environ["CPD_TEST_DATABASE_URL"] = args.database_url
    with infrastructure() as infra:
        if args.database_url:
            return measure(args, infra.bootstrap_servers, args.database_url, infra.source)
        url = asyncio.run(create_database(infra.postgres_url))
        try:
            return measure(args, infra.bootstrap_servers, url, infra.source)
        finally:
            if not args.keep:
                asyncio.run(drop_database(infra.postgres_url, url))


if __name__ == "__main__":
    main()
