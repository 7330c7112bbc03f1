"""The mentoring service process: ``uvicorn mentoring.main:app``.

Settings come from the environment (``DATABASE_URL``, ``KAFKA_BOOTSTRAP_SERVERS``,
``CPD_ECT_MENTOR_GRACE_DAYS``, ...); nothing connects until the app starts.
"""

from __future__ import annotations

from fastapi import FastAPI

from cpd_events.topics import ENTITLEMENT_EVENTS, MENTORING_EVENTS
from cpd_platform.runtime import ServiceRuntime, Subscription, create_app
from cpd_platform.settings import ServiceSettings
from mentoring.access import POLICY
from mentoring.api import router
from mentoring.consumers import MIGRATIONS, replicate
from mentoring.settings import MentoringSettings


def build_app() -> FastAPI:
    """A mentoring app configured from the environment as it is now."""
    settings = ServiceSettings(service_name="mentoring")
    runtime = ServiceRuntime(
        settings,
        migrations=MIGRATIONS,
        subscriptions=[
            # one consumer group: the registry replica (entitlement's topic) and the
            # mentorships read model (mentoring's own topic)
            Subscription("registry-replica", [ENTITLEMENT_EVENTS, MENTORING_EVENTS], replicate)
        ],
    )
    app = create_app(
        runtime,
        title="CPD mentoring",
        description=(
            "Mentors, the schools they serve, their training and capacity; mentorships on"
            " programmes (one active mentor per mentee per programme); mentoring sessions;"
            " lead mentors. Events on the streams mentor-<trn>, mentee-<trn> and"
            " school-lead-mentor-<urn>, published on cpd.mentoring.events. Teachers and schools"
            " come from a local replica of the registry events (cpd.entitlement.events)."
        ),
        access=POLICY,
    )
    app.state.mentoring_settings = MentoringSettings()
    app.include_router(router)
    return app


app = build_app()
