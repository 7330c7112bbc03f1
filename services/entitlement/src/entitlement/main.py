"""The entitlement service process: ``uvicorn entitlement.main:app``."""

from __future__ import annotations

from cpd_events.topics import CATALOGUE_EVENTS, MENTORING_EVENTS
from cpd_platform.runtime import ServiceRuntime, Subscription, create_app
from cpd_platform.settings import ServiceSettings
from entitlement.api import router
from entitlement.budget_api import router as budget_router
from entitlement.consumers import MIGRATIONS, replicate_catalogue
from entitlement.registry_api import router as registry_router
from entitlement.registry_view import REGISTRY_VIEW
from entitlement.sessions import mentoring_hours
from entitlement.teacher_api import router as teacher_router

settings = ServiceSettings(service_name="entitlement")
runtime: ServiceRuntime = ServiceRuntime(
    settings,
    migrations=MIGRATIONS,
    subscriptions=[
        Subscription("catalogue-replica", [CATALOGUE_EVENTS], replicate_catalogue),
        REGISTRY_VIEW,  # schools, trusts, CPD leads for operators (registry helper)
        # mentoring sessions and mentor training as hours (lifecycle helper)
        Subscription(
            "mentoring-hours", [MENTORING_EVENTS], mentoring_hours(lambda: runtime.require_store())
        ),
    ],
)
app = create_app(
    runtime,
    title="CPD entitlement",
    description="Registry of schools and teachers, entitlement policy and grants, CPD requests, "
    "approvals and hours.",
)
app.include_router(router)
app.include_router(budget_router)  # budgets and the grant run (funding helper)
app.include_router(registry_router)  # trusts, memberships, CPD leads (registry helper)
app.include_router(teacher_router)  # moves, leaving, closing requests, corrections, plans
