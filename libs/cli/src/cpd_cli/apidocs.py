"""Published API documents, generated from the code: OpenAPI of every service's HTTP API,
AsyncAPI of the Kafka topics (from the event registry) and of the trust feeds (server-sent events
and webhooks), and the event catalogue in prose (docs/events.md)."""

from __future__ import annotations

import dataclasses
import functools
import importlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

SERVICE_MODULES = {
    "entitlement": "entitlement.main",
    "catalogue": "catalogue.main",
    "mentoring": "mentoring.main",
    "reporting": "reporting.main",
}

#: The event catalogue, written beside the API directory (docs/api -> docs/events.md).
EVENTS_MARKDOWN = "events.md"


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


@functools.cache
def _apps() -> dict[str, FastAPI]:
    apps = {}
    for service, module in SERVICE_MODULES.items():
        with _placeholder_addresses():
            apps[service] = importlib.import_module(module).build_app()
    return apps


def consumers() -> list[Any]:
    """Every service's consumer groups and the topics they read, from the apps as built."""
    from cpd_events.asyncapi import Consumer
    from cpd_platform.runtime import ServiceRuntime

    found: list[Consumer] = []
    for service, app in _apps().items():
        runtime: ServiceRuntime = app.state.runtime
        for subscription in runtime.subscriptions:
            group = f"{runtime.name}.{subscription.name}"  # as ServiceRuntime._subscribe names it
            found.append(Consumer(service, group, tuple(subscription.topics)))
        reporting = getattr(app.state, "reporting", None)
        if reporting is not None:
            from reporting.service import FEED_GROUP

            topics = tuple(reporting.engine_settings().topics)
            found.append(Consumer(service, FEED_GROUP, topics, "the trusts' event feeds"))
            found.append(
                Consumer(
                    service,
                    "reporting.read-models.g<N>",
                    topics,
                    "the read models: one group per generation, rebuilt beside the live one",
                )
            )
    return found


def documents() -> dict[str, dict[str, Any]]:
    """Every document of docs/api by file name."""
    from cpd_events.asyncapi import KafkaServer, kafka_document
    from cpd_platform.launcher import Platform

    found: dict[str, dict[str, Any]] = {}
    for service, app in _apps().items():
        found[f"{service}.openapi.json"] = app.openapi()
    port = next(f.default for f in dataclasses.fields(Platform) if f.name == "broker_port")
    server = KafkaServer(host=f"127.0.0.1:{port}")  # the broker `make up` starts
    found["kafka.asyncapi.json"] = kafka_document(consumers(), server=server)
    from reporting.feeds.models import asyncapi_document

    found["trust-feeds.asyncapi.json"] = asyncapi_document()
    return found


def events_markdown() -> str:
    """docs/events.md: the event catalogue."""
    from cpd_events.asyncapi import events_markdown as markdown

    return markdown(consumers())


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def write(directory: Path) -> list[Path]:
    """Write the documents to ``directory`` and the event catalogue beside it."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in documents().items():
        path = directory / name
        path.write_text(render(document))
        written.append(path)
    catalogue = directory.parent / EVENTS_MARKDOWN
    catalogue.write_text(events_markdown())
    written.append(catalogue)
    return written
