"""Event store, outbox relay and idempotent consumers on PostgreSQL, shared by every service."""

from cpd_eventstore.consumer import DeadLetter, IdempotentConsumer, Outcome, list_dead_letters
from cpd_eventstore.errors import ConcurrencyError, EventStoreError, PartiallyStoredError
from cpd_eventstore.migrations import EVENTSTORE_MIGRATIONS, Migration, migrate
from cpd_eventstore.relay import OutboxRelay, republish
from cpd_eventstore.store import ANY_VERSION, NO_STREAM, EventStore, StreamWrite

__all__ = [
    "ANY_VERSION",
    "EVENTSTORE_MIGRATIONS",
    "NO_STREAM",
    "ConcurrencyError",
    "DeadLetter",
    "EventStore",
    "EventStoreError",
    "IdempotentConsumer",
    "Migration",
    "OutboxRelay",
    "Outcome",
    "PartiallyStoredError",
    "StreamWrite",
    "list_dead_letters",
    "migrate",
    "republish",
]
