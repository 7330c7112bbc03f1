"""Seed the catalogue with the real NPQ courses and their lead providers, through its HTTP API.

The data is DfE's (``data/npq_course_providers.csv``, see ``data/README.md``): which lead provider
delivers which NPQ. Each lead provider becomes a provider of kind ``npq_lead_provider`` (id: its
name slugified); each (course, provider) pair a course, id ``<course identifier>-<provider id>``
(e.g. ``npq-headship-ambition-institute``). Re-running it changes nothing: a 409 means there
already.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import httpx

from cpd_events.types import CareerStage, CourseKind, NpqType, ProviderKind

DATA = files("catalogue") / "data" / "npq_course_providers.csv"


@dataclass(frozen=True)
class NpqCourse:
    title: str
    npq_type: NpqType | None  # None: not an NPQ (the Early Headship Coaching Offer)
    career_stages: tuple[CareerStage, ...]
    phases: tuple[str, ...] = ("primary", "secondary")
    subjects: tuple[str, ...] = ()
    summary: str = ""


_TEACHERS = (CareerStage.EXPERIENCED, CareerStage.MIDDLE_LEADER)
_LEADERS = (CareerStage.MIDDLE_LEADER, CareerStage.SENIOR_LEADER)
_FRAMEWORK = "Delivered to the Department for Education's NPQ framework for this qualification."

#: Course identifiers of DfE's NPQ registration service; names as in its
#: ``config/initializers/courses.rb``. Phases and career stages are our reading of whom each
#: qualification is for.
NPQ_COURSES: dict[str, NpqCourse] = {
    "npq-leading-teaching": NpqCourse("NPQ for Leading Teaching", NpqType.NPQLT, _TEACHERS),
    "npq-leading-teaching-development": NpqCourse(
        "NPQ for Leading Teacher Development", NpqType.NPQLTD, _TEACHERS
    ),
    "npq-leading-behaviour-culture": NpqCourse(
        "NPQ for Leading Behaviour and Culture", NpqType.NPQLBC, _TEACHERS
    ),
    "npq-leading-literacy": NpqCourse(
        "NPQ for Leading Literacy", NpqType.NPQLL, _TEACHERS, subjects=("literacy",)
    ),
    "npq-leading-primary-mathematics": NpqCourse(
        "NPQ for Leading Primary Mathematics",
        NpqType.NPQLPM,
        _TEACHERS,
        phases=("primary",),
        subjects=("mathematics",),
    ),
    "npq-senior-leadership": NpqCourse("NPQ for Senior Leadership", NpqType.NPQSL, _LEADERS),
    "npq-headship": NpqCourse("NPQ for Headship", NpqType.NPQH, (CareerStage.SENIOR_LEADER,)),
    "npq-executive-leadership": NpqCourse(
        "NPQ for Executive Leadership", NpqType.NPQEL, (CareerStage.SENIOR_LEADER,)
    ),
    "npq-early-years-leadership": NpqCourse(
        "NPQ for Early Years Leadership", NpqType.NPQEYL, _LEADERS, phases=("early_years",)
    ),
    "npq-senco": NpqCourse(
        "NPQ for Special Educational Needs Co-ordinators",
        NpqType.NPQSENCO,
        (CareerStage.EXPERIENCED, CareerStage.MIDDLE_LEADER, CareerStage.SENIOR_LEADER),
        subjects=("send",),
    ),
    "npq-early-headship-coaching-offer": NpqCourse(
        "Early Headship Coaching Offer",
        None,
        (CareerStage.SENIOR_LEADER,),
        summary="Structured support and networking for headteachers in their first 5 years"
        " of headship.",
    ),
}

#: Indicative study hours: the source has none. DfE describes specialist NPQs as 12 to 15
#: months at 1 to 2 hours a week and leadership NPQs as about 18 months.
SPECIALIST = {NpqType.NPQLT, NpqType.NPQLTD, NpqType.NPQLBC, NpqType.NPQLL, NpqType.NPQLPM}
HOURS = {"specialist": "60", "leadership": "90", "coaching": "30"}


def slug(name: str) -> str:
    """``"UCL Institute of Education"`` -> ``"ucl-institute-of-education"``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def course_id(course_identifier: str, provider_name: str) -> str:
    return f"{course_identifier}-{slug(provider_name)}"


def rows() -> list[tuple[str, str]]:
    """(course identifier, lead provider name) pairs, as DfE publishes them."""
    lines = DATA.read_text(encoding="utf-8").splitlines()
    return [(r["course_identifier"], r["lead_provider_name"]) for r in csv.DictReader(lines)]


def commands() -> list[tuple[str, dict[str, Any]]]:
    """The HTTP commands, (path, body): providers first, then their courses."""
    pairs = rows()
    providers = sorted({name for _, name in pairs})
    sent: list[tuple[str, dict[str, Any]]] = [
        (
            "/providers",
            {"provider_id": slug(name), "name": name, "kind": ProviderKind.NPQ_LEAD_PROVIDER},
        )
        for name in providers
    ]
    for identifier, provider in pairs:
        course = NPQ_COURSES[identifier]
        if course.npq_type is None:
            kind, hours = CourseKind.COACHING, HOURS["coaching"]
        else:
            kind = CourseKind.NPQ
            hours = HOURS["specialist" if course.npq_type in SPECIALIST else "leadership"]
        body = {
            "course_id": course_id(identifier, provider),
            "provider_id": slug(provider),
            "title": course.title,
            "kind": kind,
            "npq_type": course.npq_type,
            "subjects": list(course.subjects),
            "phases": list(course.phases),
            "career_stages": list(course.career_stages),
            "hours": hours,
            # Funded places are free to eligible teachers (DfE pays the lead provider), so the
            # price per participant the catalogue shows is 0.
            "price_pence": 0,
            "government_funded": True,
            "delivery_mode": "blended",
            "evidence_summary": course.summary or _FRAMEWORK,
        }
        sent.append(("/courses", body))
    return sent


@dataclass
class SeedReport:
    created: int = 0
    existing: int = 0


def seed_npq(base_url: str, client: httpx.Client | None = None) -> SeedReport:
    """Send the NPQ providers and courses to the catalogue at ``base_url``; 409: there already."""
    report = SeedReport()
    own = client is None
    http = client or httpx.Client(timeout=30, headers={"x-actor": "npq-seed"})
    try:
        for path, body in commands():
            response = http.post(f"{base_url}{path}", json=body)
            if response.status_code == 201:
                report.created += 1
            elif response.status_code == 409:
                report.existing += 1
            else:
                raise RuntimeError(
                    f"NPQ seed: POST {path} answered {response.status_code}: {response.text}"
                )
    finally:
        if own:
            http.close()
    return report
