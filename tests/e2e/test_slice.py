"""The first slice through every boundary, by HTTP only, with the services as processes.

entitlement: school, teacher, policy, grant, request, approval, hours; catalogue: a course;
mentoring: a mentor assigned; reporting: the teacher's CPD record built from all three topics.
Then the services restart, and the broker is replaced by an empty one: nothing is lost.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from cpd_events.topics import ENTITLEMENT_EVENTS
from cpd_platform.embedded import LocalBroker, free_port
from cpd_platform.launcher import SERVICES, Platform
from cpd_platform.testing import Infrastructure, read_topic

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
TRN, MENTOR, URN = "1234567", "7654321", "100000"
YEAR = "2025/26"


@pytest.fixture(scope="module")
def platform(infra: Infrastructure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    platform = Platform(
        home=tmp_path_factory.mktemp("platform"),
        database_url=infra.postgres_url,
        bootstrap_servers=None,  # its own broker, so that the test can replace it
        ports={service: free_port() for service in SERVICES},
        broker_port=free_port(),
        partitions=4,
        database_prefix=f"e2e_{uuid.uuid4().hex[:8]}_",
        service_env={
            "CPD_CONSUMER_SESSION_TIMEOUT_MS": "2000",
            "CPD_CONSUMER_HEARTBEAT_INTERVAL_MS": "500",
        },
    )
    platform.start_infrastructure()
    try:
        asyncio.run(platform.prepare())
        platform.start_services()
        seconds = asyncio.run(platform.wait_healthy(120))
        print(f"\nfour services healthy in {seconds:.1f} s")
        yield platform
    finally:
        for service in SERVICES:
            if service in platform.processes:
                print(f"--- {service} log tail ---\n{platform.tail(service, 10)}")
        platform.stop()


class Client:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.http = httpx.Client(timeout=30, headers=platform.operator_headers())

    def post(self, service: str, path: str, body: dict[str, Any], expect: int = 201) -> Any:
        response = self.http.post(f"{self.platform.url(service)}{path}", json=body)
        assert response.status_code == expect, response.text
        return response.json()

    def get(self, service: str, path: str, expect: int = 200) -> Any:
        response = self.http.get(f"{self.platform.url(service)}{path}")
        assert response.status_code == expect, response.text
        return response.json()

    def until(self, check: Callable[[], Any], within: float = 15) -> float:
        """Poll ``check`` until it stops failing; return the seconds it took."""
        started = time.monotonic()
        while True:
            try:
                check()
                return time.monotonic() - started
            except AssertionError:
                if time.monotonic() - started > within:
                    raise
                time.sleep(0.02)


@pytest.fixture(scope="module")
def client(platform: Platform) -> Client:
    return Client(platform)


def record(client: Client) -> Any:
    return client.get("reporting", f"/teachers/{TRN}/record")


def test_the_slice_reaches_the_teacher_record(client: Client) -> None:
    client.post(
        "catalogue",
        "/providers",
        {"provider_id": "ambition", "name": "Ambition Institute", "kind": "npq_lead_provider"},
    )
    client.post(
        "catalogue",
        "/courses",
        {
            "course_id": "npq-h",
            "provider_id": "ambition",
            "title": "NPQ in Headship",
            "kind": "npq",
            "npq_type": "NPQH",
            "subjects": [],
            "phases": ["secondary"],
            "hours": "75",
            "price_pence": 50_000,
            "government_funded": False,
            "delivery_mode": "blended",
            "evidence_summary": "",
        },
    )
    client.post(
        "entitlement",
        "/schools",
        {
            "urn": URN,
            "name": "Hackney Primary",
            "local_authority": "201",
            "phase": "State-funded primary",
            "pp50": True,
        },
    )
    for trn, stage in ((TRN, "ect_year_1"), (MENTOR, "experienced")):
        client.post(
            "entitlement",
            "/teachers",
            {
                "trn": trn,
                "school_urn": URN,
                "given_name": "Ada",
                "family_name": "Lovelace",
                "career_stage": stage,
                "fte": "100",
                "registered_on": "2025-09-01",
            },
        )
    client.post(
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
    policy = client.get("entitlement", f"/policies?academic_year={YEAR}")
    assert (policy["policy_version"], policy["minimum_hours"]) == (1, "35.00")
    # publishing the policy grants the year to every active teacher, in the background
    client.until(lambda: assert_granted(client.get("entitlement", f"/teachers/{TRN}")))
    client.post(
        "entitlement",
        "/budgets",
        {  # the school's pot pays (it is in no trust)
            "academic_year": YEAR,
            "holder": "school",
            "school_urn": URN,
            "amount_pence": 200_000,
        },
    )
    # mentoring checks teachers and schools against its replica of the registry (from Kafka)
    for path in (f"/teachers/{MENTOR}", f"/teachers/{TRN}", f"/schools/{URN}"):
        client.until(lambda path=path: client.get("mentoring", path))
    client.post("mentoring", "/mentors", {"trn": MENTOR, "school_urn": URN})
    client.post(
        "mentoring",
        f"/mentors/{MENTOR}/assignments",
        {
            "assignment_id": "asg-1",
            "mentee_trn": TRN,
            "school_urn": URN,
            "programme": "early_career_induction",
            "starts_on": "2025-09-01",
        },
    )
    client.until(lambda: client.get("entitlement", "/courses/npq-h"))  # the replica caught up
    client.post(
        "entitlement",
        f"/teachers/{TRN}/requests",
        {"request_id": "req-1", "course_id": "npq-h", "academic_year": YEAR},
    )
    client.post(
        "entitlement", f"/teachers/{TRN}/requests/req-1/approve", {"approved_by": "Head of CPD"}
    )
    client.post(
        "entitlement",
        f"/teachers/{TRN}/hours",
        {
            "log_id": "log-1",
            "academic_year": YEAR,
            "hours": "6.5",
            "activity_type": "npq",
            "activity_date": "2025-10-01",
            "request_id": "req-1",
        },
    )

    def complete() -> None:
        body = record(client) if _exists(client) else None
        assert body is not None
        [year] = body["years"]
        assert year["hours_logged"] == "6.50"
        assert year["hours_entitled"] == "35.00"
        assert year["hours_remaining_to_minimum"] == "28.50"
        assert year["funding_entitled_pence"] == 79_200  # 600 * 1.2 (PP50) * 1.1 (ECT)
        assert year["funding_committed_pence"] == 50_000
        assert [m["mentor_trn"] for m in body["current_mentors"]] == [MENTOR]
        [request] = body["requests"]
        assert (request["course_title"], request["status"]) == ("NPQ in Headship", "approved")

    seconds = client.until(complete)
    print(f"slice visible in reporting {seconds * 1000:.0f} ms after the last command")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "teacher-record.json").write_text(json.dumps(record(client), indent=2))


def assert_granted(teacher: Any) -> None:
    assert [g["academic_year"] for g in teacher["grants"]] == [YEAR]


def _exists(client: Client) -> bool:
    response = client.http.get(f"{client.platform.url('reporting')}/teachers/{TRN}/record")
    return response.status_code == 200


def test_one_command_is_visible_in_reporting_quickly(client: Client) -> None:
    latencies = []
    for i in range(10):
        before = record(client)["years"][0]["hours_logged"]
        sent = time.monotonic()
        client.post(
            "entitlement",
            f"/teachers/{TRN}/hours",
            {
                "log_id": f"log-latency-{i}",
                "academic_year": YEAR,
                "hours": "0.25",
                "activity_type": "research",
                "activity_date": "2025-10-02",
            },
        )

        def changed(before: str = before) -> None:
            assert record(client)["years"][0]["hours_logged"] != before

        client.until(changed)
        latencies.append(time.monotonic() - sent)
    latencies.sort()
    print(
        f"command -> reporting: median {latencies[4] * 1000:.0f} ms, "
        f"max {latencies[-1] * 1000:.0f} ms"
    )


def test_bad_input_and_broken_rules_are_refused_with_problems(client: Client) -> None:
    bad = client.http.post(
        f"{client.platform.url('entitlement')}/teachers",
        json={
            "trn": "12",
            "school_urn": URN,
            "given_name": "A",
            "family_name": "B",
            "career_stage": "experienced",
            "fte": "100",
            "registered_on": "2025-09-01",
        },
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in bad.json()["errors"]] == ["trn"]
    unknown = client.http.post(
        f"{client.platform.url('entitlement')}/teachers/7777777/hours",
        json={
            "academic_year": YEAR,
            "hours": "1",
            "activity_type": "inset",
            "activity_date": "2025-10-01",
        },
    )
    assert unknown.status_code == 404
    assert "register the teacher" in unknown.json()["detail"]
    twice = client.http.post(
        f"{client.platform.url('entitlement')}/teachers/{TRN}/requests/req-1/approve",
        json={"approved_by": "Head"},
    )
    assert twice.status_code == 409
    assert "approved already" in twice.json()["detail"]
    stream = client.get("entitlement", f"/teachers/{TRN}")
    assert [r["status"] for r in stream["requests"]] == ["approved"]


def test_a_restart_keeps_the_record(platform: Platform, client: Client) -> None:
    before = record(client)
    platform.stop_services()
    platform.start_services()
    asyncio.run(platform.wait_healthy(120))
    assert record(client) == before


def test_an_empty_new_broker_is_refilled_from_the_stores(
    platform: Platform, client: Client
) -> None:
    before = record(client)
    stored = client.get("entitlement", "/admin/relay")["published"]
    platform.stop_services()
    assert platform.broker is not None
    platform.broker.stop()
    platform.broker = LocalBroker(platform.broker_port, log_file=platform.logs / "broker-2.log")
    platform.broker.start()  # memory storage: it knows no topic and no consumer group
    asyncio.run(platform.prepare())
    platform.start_services()
    asyncio.run(platform.wait_healthy(120))
    records = asyncio.run(
        read_topic(platform.broker.bootstrap_servers, ENTITLEMENT_EVENTS, expect=stored, within=20)
    )
    assert len({r.value for r in records}) >= stored
    assert record(client) == before
    client.post(
        "entitlement",
        f"/teachers/{TRN}/hours",
        {
            "log_id": "log-after-broker",
            "academic_year": YEAR,
            "hours": "1",
            "activity_type": "inset",
            "activity_date": "2025-10-03",
        },
    )
    expected = str(Decimal(before["years"][0]["hours_logged"]) + 1)

    def moved() -> None:
        assert record(client)["years"][0]["hours_logged"] == expected

    client.until(moved, within=30)
