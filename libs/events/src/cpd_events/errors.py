"""Errors raised when bytes or dictionaries do not make a known, valid event."""

from __future__ import annotations

from pydantic import ValidationError


class EventContractError(ValueError):
    """Base class: the input is not a valid event of the published language."""


class UnknownEventType(EventContractError):
    def __init__(self, event_type: str, schema_version: int | None = None) -> None:
        self.event_type = event_type
        self.schema_version = schema_version
        where = f" version {schema_version}" if schema_version is not None else ""
        super().__init__(f"unknown event type {event_type!r}{where}")


class InvalidEventPayload(EventContractError):
    """A payload failed validation; ``fields`` names every offending field (dotted path)."""

    def __init__(self, event_type: str, error: ValidationError, prefix: str = "") -> None:
        self.event_type = event_type
        self.problems = [
            (prefix + ".".join(str(part) for part in item["loc"]), item["msg"])
            for item in error.errors()
        ]
        self.fields = [field for field, _ in self.problems]
        detail = "; ".join(f"{field or '<root>'}: {msg}" for field, msg in self.problems)
        super().__init__(f"invalid {event_type}: {detail}")
