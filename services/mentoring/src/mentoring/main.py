"""The mentoring service process: ``uvicorn mentoring.main:app``.

Settings come from the environment (``DATABASE_URL``, ``KAFKA_BOOTSTRAP_SERVERS``); nothing
connects until the app starts.
"""

from __future__ import annotations

from cpd_platform.runtime import ServiceRuntime, create_app
from cpd_platform.settings import ServiceSettings
from mentoring.api import router

settings = ServiceSettings(service_name="mentoring")
runtime = ServiceRuntime(settings)
app = create_app(
    runtime,
    title="CPD mentoring",
    description=(
        "Mentors, their capacity and the mentorships they hold. Every change is an event on the"
        " mentor's stream (mentor-<trn>), published on cpd.mentoring.events."
    ),
)
app.include_router(router)
