"""The catalogue service process: ``uvicorn catalogue.main:app``.

Settings come from the environment (``DATABASE_URL``, ``KAFKA_BOOTSTRAP_SERVERS``, ...), read
when the app is built; nothing connects until the app starts. Tests set the environment and
call :func:`build_app`.
"""

from __future__ import annotations

from fastapi import FastAPI

from catalogue.access import POLICY
from catalogue.api import router
from catalogue.projection import MIGRATIONS, READ_MODEL, project
from cpd_events.topics import CATALOGUE_EVENTS, ENTITLEMENT_EVENTS
from cpd_platform.runtime import ServiceRuntime, Subscription, create_app
from cpd_platform.settings import ServiceSettings


def build_app() -> FastAPI:
    settings = ServiceSettings(service_name="catalogue")
    runtime = ServiceRuntime(
        settings,
        migrations=MIGRATIONS,
        # its own topic (search, ratings, cohorts) and entitlement's (uptake, completions):
        # one consumer group, one join at startup
        subscriptions=[Subscription(READ_MODEL, [CATALOGUE_EVENTS, ENTITLEMENT_EVENTS], project)],
    )
    app = create_app(
        runtime,
        title="CPD catalogue",
        description=(
            "The national catalogue of CPD: providers, courses, quality badges, cohorts and"
            " bookings, peer feedback; search, uptake and ratings. Every change is an event on"
            " its provider's, course's, cohort's or feedback stream, published on"
            " cpd.catalogue.events."
        ),
        access=POLICY,
    )
    app.include_router(router)
    return app


app = build_app()
