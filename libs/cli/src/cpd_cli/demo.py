"""A small demo, seeded through the services' HTTP APIs like any client would.

Schools are real (URN, local authority, phase, pupils and disadvantage from the DfE school
census 2022/23 and the PP50 list, Open Government Licence); their names, the teachers and
everything they do are made up. Re-running it changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from catalogue.seed import seed_npq

YEAR = "2025/26"

SCHOOLS = [
    # urn, local authority code, phase, pupils on roll, % FSM ever, PP50
    ("100000", "201", "State-funded primary", 271, "21.90", True),
    ("100277", "204", "State-funded secondary", 1053, "49.40", False),
    ("100019", "202", "State-funded primary", 355, "22.50", False),
    ("100049", "202", "State-funded secondary", 982, "69.80", True),
]
TEACHERS = [
    # trn, school, given, family, stage, fte
    ("9000001", "100000", "Amira", "Khan", "experienced", "100"),
    ("9000002", "100000", "Ben", "Okafor", "ect_year_1", "100"),
    ("9000003", "100000", "Chloe", "Evans", "middle_leader", "80"),
    ("9000004", "100277", "Daniel", "Wright", "senior_leader", "100"),
    ("9000005", "100277", "Ella", "Nowak", "ect_year_2", "100"),
    ("9000006", "100019", "Farah", "Ali", "experienced", "60"),
    ("9000007", "100049", "George", "Smith", "ect_year_1", "100"),
    ("9000008", "100049", "Hannah", "Jones", "experienced", "100"),
]
#: The NPQ courses and lead providers come from DfE's data (``catalogue.seed``); one more course
#: shows a paid, non-NPQ offer under one of those providers.
COURSES = [
    (
        "ucl-mentor-development",
        "ucl-institute-of-education",  # the provider id catalogue.seed gives UCL
        "Mentor development for ECT mentors",
        "mentor_development",
        None,
        "20",
        45_000,
        False,
    ),
]
REQUESTS = [  # trn, request id, course, approve?
    ("9000004", "req-demo-1", "npq-headship-ambition-institute", True),
    ("9000003", "req-demo-2", "npq-senior-leadership-ucl-institute-of-education", True),
    ("9000008", "req-demo-3", "ucl-mentor-development", False),
]
HOURS = [  # trn, log id, hours, activity, date
    ("9000001", "log-demo-1", "3", "inset", "2025-09-01"),
    ("9000001", "log-demo-2", "1.5", "peer_observation", "2025-10-08"),
    ("9000004", "log-demo-3", "6", "npq", "2025-11-12"),
    ("9000002", "log-demo-4", "2", "mentoring", "2025-10-15"),
]
MENTORS = [  # mentor, mentee, school
    ("9000001", "9000002", "100000"),
    ("9000008", "9000007", "100049"),
    ("9000004", "9000005", "100277"),
]


@dataclass
class SeedReport:
    created: int = 0
    existing: int = 0


def seed(
    urls: Mapping[str, str],
    progress: Callable[[str], None] = lambda _: None,
    headers: Mapping[str, str] | None = None,
) -> SeedReport:
    """Send the demo commands; a 409 means it is there already (re-runs change nothing)."""
    report = SeedReport()
    # ``headers``: an operator's Authorization (the services refuse requests without one)
    with httpx.Client(timeout=30, headers={"x-actor": "demo-seed", **(headers or {})}) as client:

        def send(service: str, path: str, body: dict[str, Any]) -> None:
            response = client.post(f"{urls[service]}{path}", json=body)
            if response.status_code == 201:
                report.created += 1
            elif response.status_code == 409:
                report.existing += 1
            else:
                raise RuntimeError(
                    f"demo seed: POST {service}{path} answered {response.status_code}: "
                    f"{response.text}"
                )

        progress("catalogue")
        npq_seeded = seed_npq(urls["catalogue"], client)
        report.created += npq_seeded.created
        report.existing += npq_seeded.existing
        for course_id, provider, title, kind, npq, hours, price, funded in COURSES:
            send(
                "catalogue",
                "/courses",
                {
                    "course_id": course_id,
                    "provider_id": provider,
                    "title": title,
                    "kind": kind,
                    "npq_type": npq,
                    "subjects": [],
                    "phases": ["primary", "secondary"],
                    "hours": hours,
                    "price_pence": price,
                    "government_funded": funded,
                    "delivery_mode": "blended",
                    "evidence_summary": "",
                },
            )
        progress("registry")
        for urn, la, phase, pupils, fsm, pp50 in SCHOOLS:
            send(
                "entitlement",
                "/schools",
                {
                    "urn": urn,
                    "name": f"{phase.removeprefix('State-funded ').title()} school {urn}",
                    "local_authority": la,
                    "phase": phase,
                    "pupils_on_roll": pupils,
                    "fsm_percent": fsm,
                    "pp50": pp50,
                },
            )
        for trn, urn, given, family, stage, fte in TEACHERS:
            send(
                "entitlement",
                "/teachers",
                {
                    "trn": trn,
                    "school_urn": urn,
                    "given_name": given,
                    "family_name": family,
                    "career_stage": stage,
                    "fte": fte,
                    "registered_on": "2025-09-01",
                },
            )
        progress("policy and grants")
        if _no_policy(client, urls):  # a second publication would be a new policy version
            send(
                "entitlement",
                "/policies",
                {
                    "academic_year": YEAR,
                    "minimum_hours": "35",
                    "base_funding_per_fte_pence": 60_000,
                    "pp50_uplift_percent": "20",
                    "early_career_uplift_percent": "10",
                    "effective_from": "2025-09-01",
                },
            )
        # publishing the policy grants every active teacher in the background
        _wait_until(
            lambda: all(_granted(client, urls, trn) for trn, *_ in TEACHERS), "the policy's grants"
        )
        progress("mentoring")
        _wait_for_mentoring_replica(client, urls)
        for mentor, mentee, urn in MENTORS:
            send("mentoring", "/mentors", {"trn": mentor, "school_urn": urn})
            send(
                "mentoring",
                f"/mentors/{mentor}/assignments",
                {
                    "assignment_id": f"asg-demo-{mentee}",
                    "mentee_trn": mentee,
                    "school_urn": urn,
                    "programme": "early_career_induction",
                    "starts_on": "2025-09-01",
                },
            )
        progress("requests and hours")
        _wait_for_replica(client, urls)
        for trn, request_id, course, approve in REQUESTS:
            send(
                "entitlement",
                f"/teachers/{trn}/requests",
                {
                    "request_id": request_id,
                    "course_id": course,
                    "academic_year": YEAR,
                },
            )
            if approve:
                send(
                    "entitlement",
                    f"/teachers/{trn}/requests/{request_id}/approve",
                    {"approved_by": "CPD lead (demo)"},
                )
        for trn, log_id, hours, activity, day in HOURS:
            send(
                "entitlement",
                f"/teachers/{trn}/hours",
                {
                    "log_id": log_id,
                    "academic_year": YEAR,
                    "hours": hours,
                    "activity_type": activity,
                    "activity_date": day,
                },
            )
    return report


def _no_policy(client: httpx.Client, urls: Mapping[str, str]) -> bool:
    response = client.get(f"{urls['entitlement']}/policies", params={"academic_year": YEAR})
    return response.status_code == 404


def _wait_until(ready: Callable[[], bool], what: str, within: float = 30) -> None:
    """Wait for something that arrives through Kafka (a replica, a background grant)."""
    deadline = time.monotonic() + within
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not arrive within {within:.0f} s")
        time.sleep(0.2)


def _granted(client: httpx.Client, urls: Mapping[str, str], trn: str) -> bool:
    response = client.get(f"{urls['entitlement']}/teachers/{trn}")
    return response.status_code == 200 and any(
        grant["academic_year"] == YEAR for grant in response.json()["grants"]
    )


def _wait_for_mentoring_replica(client: httpx.Client, urls: Mapping[str, str]) -> None:
    """Mentoring checks mentors, mentees and schools against its replica of the registry."""
    paths = {f"/teachers/{trn}" for mentor, mentee, _ in MENTORS for trn in (mentor, mentee)}
    paths |= {f"/schools/{urn}" for *_, urn in MENTORS}
    _wait_until(
        lambda: all(client.get(f"{urls['mentoring']}{p}").status_code == 200 for p in paths),
        "the registry (at mentoring)",
    )


def _wait_for_replica(client: httpx.Client, urls: Mapping[str, str]) -> None:
    """Requests check entitlement's replica of the catalogue."""
    courses = {request[2] for request in REQUESTS}
    _wait_until(
        lambda: all(
            client.get(f"{urls['entitlement']}/courses/{c}").status_code == 200 for c in courses
        ),
        "the catalogue (at entitlement)",
    )
