"""Generated: every trust's credentials against every other trust's feeds, dashboards, schools
and teachers find nothing; against their own, they are let in.

Reporting: whose a school or teacher is comes from its feed facts (written here as the feed
projection writes them); each trust has a platform token and a feed API key. Entitlement: the
trusts, schools and teachers are registered through its API and its registry view.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from dataclasses import dataclass, field
from datetime import date

import httpx
import pytest
from fastapi import FastAPI

from cpd_eventstore.db import Pool
from cpd_platform.runtime import ServiceRuntime
from cpd_platform.testing import auth_headers, eventually, operator_headers
from reporting.feeds.credentials import issue_credential

from .security_support import client_of

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TRUSTS = 4
SCHOOLS_PER_TRUST = 2
TEACHERS_PER_SCHOOL = 2


@dataclass
class Trust:
    trust_id: str
    schools: dict[str, list[str]] = field(default_factory=dict)  # urn -> TRNs
    key: str = ""

    @property
    def teachers(self) -> list[str]:
        return [trn for trns in self.schools.values() for trn in trns]


def world(seed: int) -> list[Trust]:
    """Trusts with fresh ids (the services' databases are shared by the session)."""
    trusts = []
    for t in range(TRUSTS):
        trust = Trust(f"{seed}{t}")
        for s in range(SCHOOLS_PER_TRUST):
            urn = f"{seed % 10}{t}{s}{uuid.uuid4().int % 1000:03d}"
            trust.schools[urn] = [
                f"{seed % 10}{t}{s}{n}{uuid.uuid4().int % 1000:03d}"
                for n in range(TEACHERS_PER_SCHOOL)
            ]
        trusts.append(trust)
    return trusts


def reporting_urls(trust: Trust) -> list[str]:
    urls = [
        f"/trusts/{trust.trust_id}/feed",
        f"/trusts/{trust.trust_id}/webhooks",
        f"/trusts/{trust.trust_id}/dashboard",
    ]
    urls += [f"/schools/{urn}/dashboard" for urn in trust.schools]
    for trn in trust.teachers:
        urls += [f"/teachers/{trn}/record", f"/teachers/{trn}/timeline"]
    return urls


async def test_no_trust_reaches_another_trusts_feeds_dashboards_or_teachers_in_reporting(
    service_apps: dict[str, FastAPI],
) -> None:
    app = service_apps["reporting"]
    pool = runtime_of_app(app)
    trusts = world(7)
    for trust in trusts:
        for urn, trns in trust.schools.items():
            await pool.execute(
                """insert into reporting_feed.school_trust_facts
                   (event_id, urn, trust_id, effective_on, joined) values ($1, $2, $3, $4, true)""",
                uuid.uuid4(),
                urn,
                trust.trust_id,
                date(2024, 9, 1),
            )
            for trn in trns:
                await pool.execute(
                    """insert into reporting_feed.teacher_school_facts (event_id, trn, urn,
                       effective_on) values ($1, $2, $3, $4)""",
                    uuid.uuid4(),
                    trn,
                    urn,
                    date(2024, 9, 1),
                )
        trust.key = (await issue_credential(pool, trust.trust_id, "isolation test")).api_key

    leaks: list[str] = []
    allowed = refused = 0
    async with client_of(app) as client:
        for mine, theirs in itertools.product(trusts, trusts):
            credentials = {
                "token": auth_headers("trust", trust_id=mine.trust_id),
                "feed key": {"Authorization": f"Bearer {mine.key}"},
                "feed key header": {"X-API-Key": mine.key},
            }
            for (name, headers), url in itertools.product(
                credentials.items(), reporting_urls(theirs)
            ):
                status = (await client.get(url, headers=headers)).status_code
                if mine is not theirs:
                    refused += 1
                    if status not in (401, 403):
                        leaks.append(f"trust {mine.trust_id} ({name}) got {status} on {url}")
                elif name == "token" or "/feed" in url or "/webhooks" in url:
                    allowed += 1  # a feed key is for the feed routes only
                    if status in (401, 403) or (status >= 500 and status != 503):
                        leaks.append(f"trust {mine.trust_id} ({name}) refused its own {url}")
            # a school's CPD lead and a teacher reach only their own
            for urn, trns in theirs.schools.items():
                lead = auth_headers("school", school_urn=urn)
                teacher = auth_headers("teacher", trn=trns[0])
                for other in trusts:
                    for trn in other.teachers:
                        response = await client.get(f"/teachers/{trn}/record", headers=lead)
                        mine_too = trn in trns
                        if (response.status_code == 403) == mine_too:
                            leaks.append(f"school {urn} on teacher {trn}: {response.status_code}")
                        response = await client.get(f"/teachers/{trn}/timeline", headers=teacher)
                        if (response.status_code == 403) == (trn == trns[0]):
                            leaks.append(f"teacher {trns[0]} on {trn}: {response.status_code}")
    print(f"\n{refused} cross-trust requests refused, {allowed} own requests let in")
    assert not leaks, "\n".join(leaks[:50])
    assert refused > 0
    assert allowed > 0


async def test_no_trust_reaches_another_trusts_schools_or_teachers_in_entitlement(
    service_apps: dict[str, FastAPI],
) -> None:
    app = service_apps["entitlement"]
    trusts = world(5)
    async with client_of(app) as client:

        async def post(path: str, body: dict[str, object]) -> None:
            response = await client.post(path, json=body, headers=operator_headers())
            assert response.status_code in (200, 201, 202), response.text

        for trust in trusts:
            await post("/trusts", {"trust_id": trust.trust_id, "name": f"Trust {trust.trust_id}"})
            for urn, trns in trust.schools.items():
                await post(
                    "/schools",
                    {
                        "urn": urn,
                        "name": f"School {urn}",
                        "local_authority": "201",
                        "phase": "State-funded primary",
                        "pp50": False,
                    },
                )
                await post(
                    f"/schools/{urn}/trust",
                    {"trust_id": trust.trust_id, "effective_from": "2025-09-01"},
                )
                for trn in trns:
                    await post(
                        "/teachers",
                        {
                            "trn": trn,
                            "school_urn": urn,
                            "given_name": "Ada",
                            "family_name": "Lovelace",
                            "career_stage": "experienced",
                            "fte": "100",
                            "registered_on": "2025-09-01",
                        },
                    )
        pool = runtime_of_app(app)
        last = trusts[-1]
        await eventually(
            lambda: pool.fetchval(
                """select count(*) from entitlement.registry_teachers t
                     join entitlement.registry_schools s on s.urn = t.school_urn
                    where t.trn = $1 and s.trust_id = $2""",
                last.teachers[-1],
                last.trust_id,
            ),
            within=30,
        )

        leaks: list[str] = []
        for mine, theirs in itertools.product(trusts, trusts):
            headers = auth_headers("trust", trust_id=mine.trust_id)
            urls = [f"/trusts/{theirs.trust_id}"]
            urls += [f"/schools/{urn}" for urn in theirs.schools]
            urls += [f"/teachers/{trn}" for trn in theirs.teachers]
            urls += [f"/teachers/{trn}/hours" for trn in theirs.teachers]
            for url in urls:
                response = await eventually_settled(client, url, headers)
                own = mine is theirs
                if own and response.status_code != 200:
                    leaks.append(f"trust {mine.trust_id} refused its own {url}: {response.text}")
                if not own and response.status_code != 403:
                    leaks.append(f"trust {mine.trust_id} got {response.status_code} on {url}")
    assert not leaks, "\n".join(leaks[:50])


async def eventually_settled(
    client: httpx.AsyncClient, url: str, headers: dict[str, str]
) -> httpx.Response:
    """The registry view lags the commands a moment: a 404 of one's own may still come right."""
    response = await client.get(url, headers=headers)
    for _ in range(100):
        if response.status_code != 404:
            break
        await asyncio.sleep(0.05)
        response = await client.get(url, headers=headers)
    return response


def runtime_of_app(app: FastAPI) -> Pool:
    runtime: ServiceRuntime = app.state.runtime
    return runtime.require_pool()
