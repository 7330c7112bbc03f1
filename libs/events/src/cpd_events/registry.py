"""From ``event_type`` and ``schema_version`` to a payload model, with upcasters between versions.

Old events are never rewritten: a reader upcasts what it reads (loading aggregates, consumers,
replays) to the newest version, then validates it with the newest model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from pydantic import ValidationError

from cpd_events.envelope import Envelope, Event
from cpd_events.errors import EventContractError, InvalidEventPayload, UnknownEventType

E = TypeVar("E", bound=type[Event])
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class EventRegistry:
    def __init__(self) -> None:
        self._models: dict[str, type[Event]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def register(self, model: E) -> E:
        """Class decorator: make ``model`` the current version of its event type."""
        name = model.event_type
        if name in self._models:
            raise ValueError(f"event type {name!r} is registered twice")
        self._models[name] = model
        return model

    def upcaster(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Decorator: a pure function turning version ``from_version`` data into the next one."""

        def add(function: Upcaster) -> Upcaster:
            key = (event_type, from_version)
            if key in self._upcasters:
                raise ValueError(f"two upcasters from {event_type} v{from_version}")
            self._upcasters[key] = function
            return function

        return add

    def model(self, event_type: str) -> type[Event]:
        try:
            return self._models[event_type]
        except KeyError:
            raise UnknownEventType(event_type) from None

    def __iter__(self) -> Iterator[type[Event]]:
        return iter(sorted(self._models.values(), key=lambda m: m.event_type))

    def __contains__(self, event_type: object) -> bool:
        return event_type in self._models

    def upcast(self, event_type: str, version: int, data: dict[str, Any]) -> dict[str, Any]:
        """Bring ``data`` of ``version`` up to the current version of ``event_type``."""
        current = self.model(event_type).schema_version
        if version > current or version < 1:
            raise UnknownEventType(event_type, version)
        while version < current:
            step = self._upcasters.get((event_type, version))
            if step is None:
                raise UnknownEventType(event_type, version)
            data = step(dict(data))
            version += 1
        return data

    def decode(self, event_type: str, version: int, data: dict[str, Any]) -> Event:
        """Upcast and validate a payload; errors name the offending field."""
        model = self.model(event_type)
        upcasted = self.upcast(event_type, version, data)
        try:
            return model.model_validate(upcasted)
        except ValidationError as error:
            raise InvalidEventPayload(event_type, error, prefix="data.") from None

    def load(self, envelope: Envelope) -> Event:
        return self.decode(envelope.event_type, envelope.schema_version, envelope.data)

    def parse(self, raw: bytes | str) -> tuple[Envelope, Event]:
        """Parse a published message value (an envelope as JSON) into envelope and payload."""
        envelope = parse_envelope(raw)
        return envelope, self.load(envelope)

    def json_schemas(self) -> dict[str, dict[str, Any]]:
        """JSON Schema of every current event payload, keyed ``EventType.vN``."""
        return {
            f"{model.event_type}.v{model.schema_version}": {
                **model.model_json_schema(mode="serialization"),
                "x-event-type": model.event_type,
                "x-schema-version": model.schema_version,
            }
            for model in self
        }


def parse_envelope(raw: bytes | str) -> Envelope:
    """Parse a message value into an envelope without decoding its payload.

    Text with a NUL character (``\\u0000``) anywhere in it is refused too: no event of ours
    has one (PostgreSQL stores no such text, not even in jsonb), and a consumer would fail on
    it at every redelivery instead of dead-lettering it.
    """
    try:
        envelope = Envelope.model_validate_json(raw)
    except ValidationError as error:
        raise InvalidEventPayload("envelope", error) from None
    texts = {name: value for name, value in envelope if isinstance(value, str)}
    where = _nul_in(texts, "") or _nul_in(envelope.data, "data")
    if where is not None:
        raise EventContractError(f"invalid envelope: {where}: text with a NUL character")
    return envelope


def _nul_in(value: Any, path: str) -> str | None:
    """The path of the first text (or key) with a NUL character in ``value``, if any."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    items: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    for key, item in items:
        inner = f"{path}.{key}".lstrip(".").replace("\x00", "\\u0000")
        if isinstance(key, str) and "\x00" in key:
            return inner
        found = _nul_in(item, inner)
        if found is not None:
            return found
    return None


#: The registry of the published language; every contract module registers into it.
REGISTRY = EventRegistry()
event = REGISTRY.register
upcaster = REGISTRY.upcaster
