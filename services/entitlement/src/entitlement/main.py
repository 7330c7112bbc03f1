"""The entitlement service process: ``uvicorn entitlement.main:app``."""

from __future__ import annotations

from fastapi import FastAPI

from cpd_events.topics import CATALOGUE_EVENTS, MENTORING_EVENTS
from cpd_platform.runtime import ServiceRuntime, Subscription, create_app
from cpd_platform.settings import ServiceSettings
from entitlement import grant_runner
from entitlement.access import POLICY
from entitlement.api import router
from entitlement.budget_api import router as budget_router
from entitlement.consumers import MIGRATIONS, replicate_catalogue
from entitlement.registry_api import router as registry_router
from entitlement.registry_view import REGISTRY_VIEW
from entitlement.sessions import mentoring_hours
from entitlement.teacher_api import router as teacher_router


def build_app() -> FastAPI:
    """The service, configured from the environment (DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS...)."""
    settings = ServiceSettings(service_name="entitlement")
    grants = grant_runner.GrantRunner()
    runtime: ServiceRuntime = ServiceRuntime(
        settings,
        migrations=[*MIGRATIONS, *grant_runner.MIGRATIONS],
        subscriptions=[
            Subscription("catalogue-replica", [CATALOGUE_EVENTS], replicate_catalogue),
            REGISTRY_VIEW,  # schools, trusts and CPD leads for operators
            # mentoring sessions and mentor training become hours for both teachers
            Subscription(
                "mentoring-hours",
                [MENTORING_EVENTS],
                mentoring_hours(lambda: runtime.require_store()),
            ),
        ],
        background=[grants],  # a published policy is granted to every active teacher
    )
    app = create_app(
        runtime,
        title="CPD entitlement",
        description="Registry of trusts, schools and teachers; entitlement policy and grants; "
        "budgets; CPD requests, approvals and hours.",
        access=POLICY,
    )
    app.state.grant_runner = grants
    app.include_router(router)
    app.include_router(budget_router)  # budgets and the grant run
    app.include_router(registry_router)  # trusts, memberships, CPD leads
    app.include_router(teacher_router)  # moves, leaving, closing requests, corrections, plans
    return app


app = build_app()
