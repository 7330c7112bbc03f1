"""How the CLI talks to the services of a running platform: HTTP, with clear failures."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NoReturn

import httpx
import typer
from rich.console import Console

from cpd_platform.auth import bearer, token_from_home
from cpd_platform.launcher import SERVICES

console = Console()


def service_url(service: str) -> str:
    if service not in SERVICES:
        raise typer.BadParameter(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
    return os.environ.get(f"CPD_{service.upper()}_URL", f"http://127.0.0.1:{SERVICES[service]}")


def fail(message: str) -> NoReturn:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


def operator_token() -> str | None:
    """The token the CLI sends: ``CPD_TOKEN``, else a short-lived operator token signed with the
    platform's key in the state folder (``CPD_HOME``, default ``.cpd``), else none."""
    given = os.environ.get("CPD_TOKEN", "").strip()
    if given:
        return given
    home = Path(os.environ.get("CPD_HOME") or ".cpd")
    return token_from_home(home, "operator", ttl_s=900)


def auth_headers() -> dict[str, str]:
    """``Authorization`` for the CLI's requests (see :func:`operator_token`)."""
    token = operator_token()
    return bearer(token) if token else {}


def call(method: str, service: str, path: str, **kwargs: Any) -> Any:
    """One request to a service; a clear message and exit 1 if it fails or refuses."""
    kwargs["headers"] = {**auth_headers(), **(kwargs.get("headers") or {})}
    try:
        response = httpx.request(method, f"{service_url(service)}{path}", timeout=300, **kwargs)
    except httpx.HTTPError as error:
        fail(f"{service} does not answer at {service_url(service)}: {error} (is `make up` on?)")
    if response.status_code == 401 and not os.environ.get("CPD_TOKEN"):
        fail(
            f"{service} answered 401: {response.text}\n(set CPD_TOKEN, e.g. "
            "`export CPD_TOKEN=$(uv run cpd token --role operator)`, or CPD_HOME to the state"
            " folder of `cpd up`)"
        )
    if response.status_code >= 400:
        fail(f"{service} answered {response.status_code}: {response.text}")
    if response.status_code == 204 or not response.content:
        return None
    return response.json()
