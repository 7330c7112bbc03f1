"""The entitlement service process: ``uvicorn entitlement.main:app``."""

from __future__ import annotations

from cpd_events.topics import CATALOGUE_EVENTS
from cpd_platform.runtime import ServiceRuntime, Subscription, create_app
from cpd_platform.settings import ServiceSettings
from entitlement.api import router
from entitlement.consumers import MIGRATIONS, replicate_catalogue

settings = ServiceSettings(service_name="entitlement")
runtime = ServiceRuntime(
    settings,
    migrations=MIGRATIONS,
    subscriptions=[Subscription("catalogue-replica", [CATALOGUE_EVENTS], replicate_catalogue)],
)
app = create_app(
    runtime,
    title="CPD entitlement",
    description="Registry of schools and teachers, entitlement policy and grants, CPD requests, "
    "approvals and hours.",
)
app.include_router(router)
