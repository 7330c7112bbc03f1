"""Who may call each route of reporting (see cpd_platform.auth and docs/security.md).

- Teachers' records and timelines (personal data, audited): the teacher, their school's CPD
  lead, their school's trust; operators.
- Dashboards: a school's for its CPD lead and its trust; a trust's for that trust; areas and
  courses (aggregates) for trusts, schools and analysts; analysts see every dashboard.
- Analysts' datasets: analysts (pseudonymous by construction) and operators.
- Trust feeds: the trust, with a trust token or one of its feed API keys (``cpdf_...``).
- Operations (read models, feed keys): operators. The web dashboard (``/ui``) has its own
  sign-in (docs/web.md), so the platform leaves it open.

Whose a teacher or school is comes from the feed's facts (``reporting_feed``), which are kept
for every event and never rebuilt: a teacher's school is the last one they were registered at
or moved to; a school's trust the one it is in today.
"""

from __future__ import annotations

from fastapi import Request

from cpd_platform.auth import PUBLIC, AccessPolicy, Principal, Role, allow, school, teacher, trust
from cpd_platform.runtime import runtime_of
from reporting.feeds.credentials import PREFIX, authenticate

TRUST, SCHOOL, TEACHER, ANALYST = Role.TRUST, Role.SCHOOL, Role.TEACHER, Role.ANALYST


class FeedFactsDirectory:
    async def school_of_teacher(self, request: Request, trn: str) -> str | None:
        found: str | None = (
            await runtime_of(request)
            .require_pool()
            .fetchval(
                """select urn from reporting_feed.teacher_school_facts
                where trn = $1 and urn is not null
                order by effective_on desc, seq desc limit 1""",
                trn,
            )
        )
        return found

    async def trust_of_school(self, request: Request, urn: str) -> str | None:
        found: str | None = (
            await runtime_of(request)
            .require_pool()
            .fetchval(
                """select trust_id from reporting_feed.school_trust_periods
                where urn = $1 and until_on is null order by from_on desc limit 1""",
                urn,
            )
        )
        return found


async def feed_key(request: Request, key: str) -> Principal | None:
    """A trust's feed API key: a trust principal, accepted on the feed routes only."""
    found = await authenticate(runtime_of(request).require_pool(), key)
    if found is None:
        return None
    return Principal(
        subject=f"trust-key:{found.key_id}",
        role=Role.TRUST,
        trust_id=found.trust_id,
        credential=f"key:{found.key_id}",
        kind="api-key",
    )


POLICY = AccessPolicy(
    directory=FeedFactsDirectory(), api_keys=feed_key, api_key_prefixes=(f"{PREFIX}_",)
)
_PERSONAL = allow(TRUST, SCHOOL, TEACHER, on=teacher(), personal=True)
_AGGREGATES = allow(TRUST, SCHOOL, ANALYST)
_FEED = allow(TRUST, on=trust(), api_keys=True)
_ = (
    POLICY.add(
        "GET", "/teachers/{trn}/record", allow(TRUST, SCHOOL, TEACHER, on=teacher(), personal=True)
    )
    .add(
        "GET",
        "/teachers/{trn}/timeline",
        allow(TRUST, SCHOOL, TEACHER, on=teacher(), personal=True),
    )
    .add("GET", "/schools/{urn}/dashboard", allow(TRUST, SCHOOL, ANALYST, on=school()))
    .add("GET", "/trusts/{trust_id}/dashboard", allow(TRUST, ANALYST, on=trust()))
    .add("GET", "/areas/nation", _AGGREGATES)
    .add("GET", "/areas/regions/{region}", _AGGREGATES)
    .add("GET", "/areas/local-authorities/{la}", _AGGREGATES)
    .add("GET", "/courses/uptake", _AGGREGATES)
    .add("GET", "/courses/{course_id}/report", _AGGREGATES)
    .add("GET", "/analysts/datasets", allow(ANALYST))
    .add("GET", "/analysts/datasets/{name}", allow(ANALYST))
    .add("GET", "/analysts/datasets/{name}/export", allow(ANALYST))
    # the trust feeds: trust tokens or the trust's own API keys
    .add("GET", "/trusts/{trust_id}/feed", _FEED)
    .add("GET", "/trusts/{trust_id}/feed/stream", _FEED)
    .add("POST", "/trusts/{trust_id}/webhooks", _FEED)
    .add("GET", "/trusts/{trust_id}/webhooks", _FEED)
    .add("GET", "/trusts/{trust_id}/webhooks/{webhook_id}", _FEED)
    .add("DELETE", "/trusts/{trust_id}/webhooks/{webhook_id}", _FEED)
    .add("POST", "/trusts/{trust_id}/webhooks/{webhook_id}/replay", _FEED)
    .add("POST", "/trusts/{trust_id}/webhooks/{webhook_id}/resume", _FEED)
    # operations
    .add("POST", "/admin/trusts/{trust_id}/credentials", allow())
    .add("GET", "/admin/trusts/{trust_id}/credentials", allow())
    .add("DELETE", "/admin/trusts/{trust_id}/credentials/{key_id}", allow())
    .add("GET", "/admin/read-models", allow())
    .add("POST", "/admin/read-models/rebuild", allow())
    .add("POST", "/admin/read-models/snapshots", allow())
    .add("DELETE", "/admin/read-models/snapshots/{as_of}", allow())
    .add("POST", "/admin/read-models/check", allow())
)
# the web dashboard signs its users in itself (reporting.web.auth)
for _method, _path in (
    ("GET", "/ui/"),
    ("GET", "/ui"),
    ("GET", "/ui/login"),
    ("POST", "/ui/login"),
    ("POST", "/ui/logout"),
    ("GET", "/ui/live/version"),
    ("GET", "/ui/national"),
    ("GET", "/ui/health"),
    ("GET", "/ui/trusts"),
    ("GET", "/ui/trusts/{trust_id}"),
    ("GET", "/ui/teachers"),
    ("GET", "/ui/teachers/{trn}"),
    ("GET", "/ui/analysts"),
    ("GET", "/ui/analysts/export"),
    ("*", "/ui/static"),
):
    POLICY.add(_method, _path, PUBLIC)
