"""Kafka topic names and their settings: the one place that defines them."""

from __future__ import annotations

from typing import Final

ENTITLEMENT_EVENTS: Final = "cpd.entitlement.events"
CATALOGUE_EVENTS: Final = "cpd.catalogue.events"
MENTORING_EVENTS: Final = "cpd.mentoring.events"

ALL_TOPICS: Final = (ENTITLEMENT_EVENTS, CATALOGUE_EVENTS, MENTORING_EVENTS)

#: Which service publishes each topic (one writer per topic: its outbox relay).
TOPIC_OF_SERVICE: Final = {
    "entitlement": ENTITLEMENT_EVENTS,
    "catalogue": CATALOGUE_EVENTS,
    "mentoring": MENTORING_EVENTS,
}

DEFAULT_PARTITIONS: Final = 12
#: Topics keep events for good: they are the shared log between services.
TOPIC_CONFIG: Final = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}

#: Kafka headers that repeat envelope fields so that routers need not parse the value.
HEADER_EVENT_TYPE: Final = "event_type"
HEADER_EVENT_ID: Final = "event_id"
HEADER_SCHEMA_VERSION: Final = "schema_version"
HEADER_TRACEPARENT: Final = "traceparent"
