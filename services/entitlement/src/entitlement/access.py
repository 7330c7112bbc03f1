"""Who may call each route of entitlement (see cpd_platform.auth and docs/security.md).

Operators may call every route. A trust's credentials reach its own trust, the schools in it
and their teachers; a school's CPD lead reaches that school and its teachers; a teacher their
own record, requests, hours and plan. Whose a school or teacher is comes from the registry view
(``entitlement.registry_schools``, ``entitlement.registry_teachers``). Analysts have nothing
here: their data is reporting's pseudonymous datasets.
"""

from __future__ import annotations

from fastapi import Request

from cpd_platform.auth import AccessPolicy, Role, allow, school, teacher, trust
from cpd_platform.runtime import runtime_of

TRUST, SCHOOL, TEACHER = Role.TRUST, Role.SCHOOL, Role.TEACHER


class RegistryDirectory:
    async def school_of_teacher(self, request: Request, trn: str) -> str | None:
        found: str | None = (
            await runtime_of(request)
            .require_pool()
            .fetchval("select school_urn from entitlement.registry_teachers where trn = $1", trn)
        )
        return found

    async def trust_of_school(self, request: Request, urn: str) -> str | None:
        found: str | None = (
            await runtime_of(request)
            .require_pool()
            .fetchval("select trust_id from entitlement.registry_schools where urn = $1", urn)
        )
        return found


POLICY = AccessPolicy(directory=RegistryDirectory())
#: what the school's (or a centralised trust's) CPD lead decides for a teacher
_LEAD = allow(TRUST, SCHOOL, on=teacher())
_ = (
    POLICY
    # registry: schools and teachers
    .add("POST", "/schools", allow())
    .add("POST", "/teachers", allow(TRUST, SCHOOL, on=school("school_urn", "body")))
    .add("GET", "/schools/{urn}", allow(TRUST, SCHOOL, on=school()))
    .add("POST", "/schools/{urn}/trust", allow())
    .add("POST", "/schools/{urn}/trust/leave", allow())
    .add("POST", "/schools/{urn}/cpd-lead", allow(TRUST, on=school()))
    .add("GET", "/operators/schools-without-cpd-lead", allow())
    # trusts
    .add("POST", "/trusts", allow())
    .add("GET", "/trusts/{trust_id}", allow(TRUST, on=trust()))
    .add("POST", "/trusts/{trust_id}/funding-model", allow(TRUST, on=trust()))
    .add("POST", "/trusts/{trust_id}/cpd-leads", allow(TRUST, on=trust()))
    # policy, grants, budgets: the operators'
    .add("POST", "/policies", allow())
    .add("GET", "/policies", allow(TRUST, SCHOOL, TEACHER))
    .add("POST", "/policies/grants", allow())
    .add("POST", "/budgets", allow())
    .add("GET", "/budgets/{budget_id}", allow())
    .add("POST", "/teachers/{trn}/entitlements", allow())
    .add("GET", "/courses/{course_id}", allow(TRUST, SCHOOL, TEACHER))
    # a teacher's own record and what they ask for
    .add("GET", "/teachers/{trn}", allow(TRUST, SCHOOL, TEACHER, on=teacher(), personal=True))
    .add("GET", "/teachers/{trn}/hours", allow(TRUST, SCHOOL, TEACHER, on=teacher(), personal=True))
    .add("GET", "/teachers/{trn}/plan", allow(TRUST, SCHOOL, TEACHER, on=teacher(), personal=True))
    .add("POST", "/teachers/{trn}/plan", allow(TRUST, SCHOOL, TEACHER, on=teacher()))
    .add("POST", "/teachers/{trn}/requests", allow(TRUST, SCHOOL, TEACHER, on=teacher()))
    .add(
        "POST",
        "/teachers/{trn}/requests/{request_id}/withdraw",
        allow(TRUST, SCHOOL, TEACHER, on=teacher()),
    )
    .add("POST", "/teachers/{trn}/hours", allow(TRUST, SCHOOL, TEACHER, on=teacher()))
    .add(
        "POST",
        "/teachers/{trn}/hours/{log_id}/correct",
        allow(TRUST, SCHOOL, TEACHER, on=teacher()),
    )
    .add(
        "POST", "/teachers/{trn}/requests/{request_id}/approve", allow(TRUST, SCHOOL, on=teacher())
    )
    .add(
        "POST", "/teachers/{trn}/requests/{request_id}/decline", allow(TRUST, SCHOOL, on=teacher())
    )
    .add("POST", "/teachers/{trn}/requests/{request_id}/complete", _LEAD)
    .add("POST", "/teachers/{trn}/move", _LEAD)
    .add("POST", "/teachers/{trn}/leave", _LEAD)
)
