"""The web dashboard of reporting (``/ui``): national, trust, teacher and analysts' views.

``install_web(app)`` adds the pages and their static files to the reporting app; the operator
token is settled when the app starts (see :mod:`reporting.web.auth`). See docs/web.md.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from importlib.resources import files
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from reporting.web.views import WebState, router

__all__ = ["WebState", "install_web", "router"]


def install_web(app: FastAPI, operator_token: str | None = None) -> WebState:
    """Serve the dashboard from ``app`` under ``/ui``; return its state (``app.state.web``)."""
    state = WebState(operator_token=operator_token)
    app.state.web = state
    app.include_router(router)
    static = files("reporting.web") / "static"
    app.mount("/ui/static", StaticFiles(directory=str(static)), name="ui-static")
    started = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(running: FastAPI) -> AsyncIterator[Any]:
        _ = state.authority  # make or read the operator token before the service is healthy
        async with started(running) as value:
            yield value

    app.router.lifespan_context = lifespan
    return state
