"""Errors of the event store."""

from __future__ import annotations


class EventStoreError(Exception):
    pass


class ConcurrencyError(EventStoreError):
    """A stream's version was not the one the writer expected: re-load, re-decide, retry."""

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual
        super().__init__(f"stream {stream_id!r} is at version {actual}, expected {expected}")


class PartiallyStoredError(EventStoreError):
    """Some, not all, of the events of one append are stored already: a caller bug."""
