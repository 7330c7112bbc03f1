"""The reporting service process: ``uvicorn reporting.main:app``.

Settings come from the environment (``DATABASE_URL``, ``KAFKA_BOOTSTRAP_SERVERS``); nothing
connects until the app starts.
"""

from __future__ import annotations

from fastapi import FastAPI

from cpd_eventstore import Migration
from cpd_platform.runtime import ServiceRuntime, create_app
from reporting.access import POLICY
from reporting.admin_api import router as admin_router
from reporting.analysts_api import router as analysts_router
from reporting.api import router
from reporting.dashboards_api import router as dashboards_router
from reporting.feeds.api import router as feeds_router
from reporting.feeds.schema import FEED_MIGRATIONS, FEED_SCHEMA
from reporting.generations import META_MIGRATIONS
from reporting.reading import META_SCHEMA
from reporting.service import Reporting, ReportingSettings
from reporting.web import install_web

#: The first read models lived in schema ``reporting``, kept by a per-event consumer; they are
#: generations of schema ``reporting_g<N>`` now (see generations.py).
MIGRATIONS = [
    Migration(4, "read models moved to generations", "drop schema if exists reporting cascade")
]


def build_app() -> FastAPI:
    settings = ReportingSettings(service_name="reporting")
    reporting = Reporting(settings)
    runtime = ServiceRuntime(
        settings,
        migrations=MIGRATIONS,
        more_migrations={META_SCHEMA: META_MIGRATIONS, FEED_SCHEMA: FEED_MIGRATIONS},
        background=[reporting.run_read_models, reporting.run_feed, reporting.run_webhooks],
    )
    app = create_app(
        runtime,
        title="CPD reporting",
        description=(
            "Read models kept from every service's events: the teacher's portable CPD record,"
            " school, trust, area and course dashboards, analysts' datasets and exports, and"
            " the trusts' event feeds (pull, server-sent events, signed webhooks). Read models"
            " are rebuilt beside the live ones and switched atomically (see /admin/read-models)."
        ),
        access=POLICY,
    )
    app.state.reporting = reporting
    runtime.more_consumers = reporting.engines
    for part in (router, dashboards_router, analysts_router, feeds_router, admin_router):
        app.include_router(part)
    install_web(app)  # the web dashboard under /ui (docs/web.md)
    return app


app = build_app()
