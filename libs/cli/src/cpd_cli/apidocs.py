"""Published API documents, generated from the code: OpenAPI of every service's HTTP API and
AsyncAPI of the trust feeds (server-sent events and webhooks)."""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any

SERVICE_MODULES = {
    "entitlement": "entitlement.main",
    "catalogue": "catalogue.main",
    "mentoring": "mentoring.main",
    "reporting": "reporting.main",
}


def documents() -> dict[str, dict[str, Any]]:
    """Every document by file name. Building an app connects to nothing (only its lifespan
    does), so placeholder addresses are enough."""
    os.environ.setdefault("DATABASE_URL", "postgresql://unused/unused")
    os.environ.setdefault("KAFKA_BOOTSTRAP_SERVERS", "unused:9092")
    found: dict[str, dict[str, Any]] = {}
    for service, module in SERVICE_MODULES.items():
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
