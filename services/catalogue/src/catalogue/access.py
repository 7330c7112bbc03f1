"""Who may call each route of the catalogue (see cpd_platform.auth and docs/security.md).

The catalogue is reference data: every trust, school and teacher may read it; operators keep
it (providers, courses, badges, cohorts). A school's CPD lead (or its trust) books places for
the school's teachers; a teacher leaves feedback in their own name. The catalogue keeps no
registry: a booking is bound by the school in its body, feedback by the TRN in its body.
"""

from __future__ import annotations

from cpd_platform.auth import AccessPolicy, Role, allow, school, teacher

READERS = (Role.TRUST, Role.SCHOOL, Role.TEACHER)

POLICY = AccessPolicy()
_ = (
    POLICY.add("POST", "/providers", allow())
    .add("POST", "/providers/{provider_id}/update", allow())
    .add("POST", "/providers/{provider_id}/deactivate", allow())
    .add("GET", "/providers", allow(*READERS))
    .add("GET", "/providers/{provider_id}", allow(*READERS))
    .add("POST", "/courses", allow())
    .add("POST", "/courses/{course_id}/update", allow())
    .add("POST", "/courses/{course_id}/retire", allow())
    .add("POST", "/courses/{course_id}/badge", allow())
    .add("POST", "/courses/{course_id}/badge/revoke", allow())
    .add("GET", "/courses", allow(*READERS))
    .add("GET", "/courses/{course_id}", allow(*READERS))
    .add("GET", "/courses/{course_id}/stats", allow(*READERS))
    .add("POST", "/courses/{course_id}/cohorts", allow())
    .add("GET", "/courses/{course_id}/cohorts", allow(*READERS))
    .add("GET", "/cohorts/{cohort_id}", allow(*READERS))
    .add(
        "POST",
        "/cohorts/{cohort_id}/bookings",
        allow(Role.TRUST, Role.SCHOOL, on=school("school_urn", "body")),
    )
    .add("POST", "/courses/{course_id}/feedback", allow(Role.TEACHER, on=teacher("trn", "body")))
)
