"""The reporting service process: ``uvicorn reporting.main:app``.

Settings come from the environment (``DATABASE_URL``, ``KAFKA_BOOTSTRAP_SERVERS``); nothing
connects until the app starts.
"""

from __future__ import annotations

from cpd_events.topics import ALL_TOPICS
from cpd_platform.runtime import ServiceRuntime, Subscription, create_app
from cpd_platform.settings import ServiceSettings
from reporting.api import router
from reporting.projection import MIGRATIONS, apply

settings = ServiceSettings(service_name="reporting")
runtime = ServiceRuntime(
    settings,
    migrations=MIGRATIONS,
    subscriptions=[Subscription("projections", ALL_TOPICS, apply)],
)
app = create_app(
    runtime,
    title="CPD reporting",
    description=(
        "Read models kept from every service's events (consumer reporting.projections): the"
        " teacher's portable CPD record of entitlement, hours, funding, requests and mentors."
    ),
)
app.include_router(router)
