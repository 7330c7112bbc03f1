"""Published API documents, generated from the code: OpenAPI of every service's HTTP API and
AsyncAPI of the trust feeds (server-sent events and webhooks)."""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SERVICE_MODULES = {
    "entitlement": "entitlement.main",
    "catalogue": "catalogue.main",
    "mentoring": "mentoring.main",
    "reporting": "reporting.main",
}


@contextmanager
def _placeholder_addresses() -> Iterator[None]:
    """Building an app connects to nothing (only its lifespan does), but its settings want
    addresses: give placeholders for the time it takes, and leave the environment as it was."""
    placeholders = {
        "DATABASE_URL": "postgresql://unused/unused",
        "KAFKA_BOOTSTRAP_SERVERS": "unused:9092",
    }
    before = {name: os.environ.get(name) for name in placeholders}
    os.environ.update({k: v for k, v in placeholders.items() if before[k] is None})
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)


def documents() -> dict[str, dict[str, Any]]:
    """Every document by file name."""
    found: dict[str, dict[str, Any]] = {}
    for service, module in SERVICE_MODULES.items():
        with _placeholder_addresses():
            app = importlib.import_module(module).build_app()
        found[f"{service}.openapi.json"] = app.openapi()
    from reporting.feeds.models import asyncapi_document

    found["trust-feeds.asyncapi.json"] = asyncapi_document()
    return found


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in documents().items():
        path = directory / name
        path.write_text(render(document))
        written.append(path)
    return written
