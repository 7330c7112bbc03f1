"""The published language of the CPD platform.

Importing this package registers every event contract in :data:`REGISTRY`.
"""

from cpd_events import catalogue_events, entitlement_events, mentoring_events, registry_events
from cpd_events.envelope import Envelope, Event, Metadata, NewEvent, Tenancy
from cpd_events.errors import EventContractError, InvalidEventPayload, UnknownEventType
from cpd_events.registry import REGISTRY, EventRegistry

__all__ = [
    "REGISTRY",
    "Envelope",
    "Event",
    "EventContractError",
    "EventRegistry",
    "InvalidEventPayload",
    "Metadata",
    "NewEvent",
    "Tenancy",
    "UnknownEventType",
    "catalogue_events",
    "entitlement_events",
    "mentoring_events",
    "registry_events",
]
