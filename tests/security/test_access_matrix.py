"""Every role against every route of every service, generated from the apps' own routes.

For each route and role, and for resources the role owns and resources it does not, the
answer is what the route's rule says: allowed (never 401/403, never 500) or 403; without a
credential 401. Whose a school or teacher is comes from a small fixed world here (the services'
real directories are exercised in test_trust_isolation.py).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI, Request

from cpd_platform.auth import Guard, Role, Rule, route_keys
from cpd_platform.testing import auth_headers

from .security_support import SERVICES, client_of

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OWN = {"trust": "1001", "school": "100001", "teacher": "1000001"}
FOREIGN = {"trust": "2002", "school": "200002", "teacher": "2000002"}
ROLES = {
    Role.OPERATOR: auth_headers("operator"),
    Role.ANALYST: auth_headers("analyst"),
    Role.TRUST: auth_headers("trust", trust_id=OWN["trust"]),
    Role.SCHOOL: auth_headers("school", school_urn=OWN["school"]),
    Role.TEACHER: auth_headers("teacher", trn=OWN["teacher"]),
}
#: other path parameters: plausible values (what the handler makes of them is not the point)
SAMPLES = {
    "request_id": "req-1",
    "log_id": "log-1",
    "course_id": "npq-h",
    "provider_id": "ambition",
    "cohort_id": "cohort-1",
    "budget_id": "budget-1",
    "consumer": "nobody",
    "letter_id": "1",
    "webhook_id": "00000000-0000-0000-0000-000000000001",
    "key_id": "0123456789abcdef",
    "as_of": "2025-01-01",
    "name": "teachers",
    "region": "london",
    "la": "Camden",
    "programme": "ect_induction",
    "assignment_id": "asg-1",
}


class World:
    """Two trusts, each with one school and one teacher."""

    async def school_of_teacher(self, request: Request, trn: str) -> str | None:
        return {OWN["teacher"]: OWN["school"], FOREIGN["teacher"]: FOREIGN["school"]}.get(trn)

    async def trust_of_school(self, request: Request, urn: str) -> str | None:
        return {OWN["school"]: OWN["trust"], FOREIGN["school"]: FOREIGN["trust"]}.get(urn)


def fill(path: str, world: dict[str, str]) -> str:
    values = {"trust_id": world["trust"], "urn": world["school"], "trn": world["teacher"]}

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return values.get(name) or SAMPLES[name]

    return re.sub(r"\{(\w+)\}", value, path)


def allowed(rule: Rule, role: Role, own: bool) -> bool:
    if rule.public or role == Role.OPERATOR:
        return True
    if role not in rule.roles:
        return False
    return role == Role.ANALYST or not rule.resources or own


@pytest.mark.parametrize("service", SERVICES)
async def test_every_role_gets_what_the_rule_of_every_route_says(
    service_apps: dict[str, FastAPI], service: str
) -> None:
    app = service_apps[service]
    guard: Guard = app.state.auth
    real_directory = guard.policy.directory
    guard.policy.directory = World()
    wrong: list[str] = []
    checked = 0
    try:
        async with client_of(app) as client:
            for method, path in sorted(set(route_keys(app))):
                if method == "*":
                    continue  # a mount (static files): declared public, nothing to call
                rule = guard.policy.rules[(method, path)]
                for world in (OWN, FOREIGN):
                    url = fill(path, world)
                    params = {"after": "not-a-cursor"} if path.endswith("/stream") else {}
                    body: dict[str, Any] | None = None
                    if method in ("POST", "PUT", "PATCH"):
                        body = {"school_urn": world["school"], "trn": world["teacher"]}
                    anonymous = await client.request(method, url, params=params, json=body)
                    if not rule.public and anonymous.status_code != 401:
                        wrong.append(f"{method} {url} without a token: {anonymous.status_code}")
                    for role, headers in ROLES.items():
                        response = await client.request(
                            method, url, params=params, json=body, headers=headers
                        )
                        checked += 1
                        status = response.status_code
                        if rule.public:  # e.g. the web's pages: their own sign-in
                            ok = status < 500
                        elif allowed(rule, role, world is OWN):
                            ok = status not in (401, 403) and (status < 500 or status == 503)
                        else:
                            ok = status == 403
                        if not ok:
                            wrong.append(
                                f"{method} {url} as {role}: {status} {response.text[:200]}"
                            )
    finally:
        guard.policy.directory = real_directory
    print(f"\n{service}: {checked} route x role x world checks")
    assert not wrong, "\n".join(wrong)


def test_every_rule_names_a_route_and_every_route_has_a_rule(
    service_apps: dict[str, FastAPI],
) -> None:
    for service, app in service_apps.items():
        guard: Guard = app.state.auth
        routes = set(route_keys(app))
        assert guard.policy.missing(app) == [], service
        assert set(guard.policy.rules) - routes == set(), f"{service}: rules of no route"
        for (method, path), rule in guard.policy.rules.items():
            if Role.ANALYST in rule.roles:  # analysts: read-only, pseudonymous
                assert method == "GET", (service, path)
                assert not rule.personal, (service, path)
                assert path.startswith(
                    ("/analysts/", "/areas/", "/courses/", "/schools/", "/trusts/")
                ), path
            if rule.personal:
                assert Role.ANALYST not in rule.roles
