"""The catalogue service process: ``uvicorn catalogue.main:app``.

Settings come from the environment (``DATABASE_URL``, ``KAFKA_BOOTSTRAP_SERVERS``); nothing
connects until the app starts.
"""

from __future__ import annotations

from catalogue.api import router
from cpd_platform.runtime import ServiceRuntime, create_app
from cpd_platform.settings import ServiceSettings

settings = ServiceSettings(service_name="catalogue")
runtime = ServiceRuntime(settings)
app = create_app(
    runtime,
    title="CPD catalogue",
    description=(
        "Providers and the courses they list: quality badges and retirement. Every change is an"
        " event on the provider's or course's stream, published on cpd.catalogue.events."
    ),
)
app.include_router(router)
