"""Who may call each route of mentoring (see cpd_platform.auth and docs/security.md).

Operators may call every route. A school's CPD lead runs mentoring for the school's teachers
(mentors registered at it, their training, capacity, assignments, lead mentor); a teacher sees
their own mentoring and records the sessions they mentor. Whose a teacher is comes from the
registry replica (``mentoring.teachers``). The replica knows no trusts, so trust credentials
have nothing here (their teachers' mentoring shows in reporting's record and dashboards).
"""

from __future__ import annotations

from fastapi import Request

from cpd_platform.auth import AccessPolicy, Role, allow, school, teacher
from cpd_platform.runtime import runtime_of

SCHOOL, TEACHER = Role.SCHOOL, Role.TEACHER


class ReplicaDirectory:
    async def school_of_teacher(self, request: Request, trn: str) -> str | None:
        found: str | None = (
            await runtime_of(request)
            .require_pool()
            .fetchval("select school_urn from mentoring.teachers where trn = $1", trn)
        )
        return found

    async def trust_of_school(self, request: Request, urn: str) -> str | None:
        return None


POLICY = AccessPolicy(directory=ReplicaDirectory())
_ = (
    POLICY.add("POST", "/mentors", allow(SCHOOL, on=school("school_urn", "body")))
    .add("POST", "/mentors/{trn}/schools", allow(SCHOOL, on=teacher()))
    .add("POST", "/mentors/{trn}/training", allow(SCHOOL, on=teacher()))
    .add("POST", "/mentors/{trn}/capacity", allow(SCHOOL, on=teacher()))
    .add("POST", "/mentors/{trn}/assignments", allow(SCHOOL, on=teacher()))
    .add("POST", "/mentors/{trn}/assignments/{assignment_id}/end", allow(SCHOOL, on=teacher()))
    .add("POST", "/mentees/{trn}/programmes/{programme}/replace", allow(SCHOOL, on=teacher()))
    .add("POST", "/mentors/{trn}/sessions", allow(SCHOOL, TEACHER, on=teacher()))
    .add("POST", "/schools/{urn}/lead-mentor", allow(SCHOOL, on=school()))
    .add("GET", "/mentors/{trn}", allow(SCHOOL, TEACHER, on=teacher(), personal=True))
    .add("GET", "/mentees/{trn}", allow(SCHOOL, TEACHER, on=teacher(), personal=True))
    .add("GET", "/teachers/{trn}", allow(SCHOOL, TEACHER, on=teacher(), personal=True))
    .add("GET", "/schools/{urn}/lead-mentor", allow(SCHOOL, on=school()))
    .add("GET", "/schools/{urn}", allow(SCHOOL, on=school()))
    .add("GET", "/flags/ects-without-mentor", allow())
)
