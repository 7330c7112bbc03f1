"""The published language as documents: AsyncAPI 3.0 of the Kafka topics, and the event catalogue.

Everything here is generated from :data:`~cpd_events.REGISTRY`, the contracts and
:mod:`cpd_events.topics`; ``cpd api-docs`` writes it to ``docs/api/kafka.asyncapi.json`` and
``docs/events.md`` and a test keeps both current.

Why not FastStream's AsyncAPI generator: it describes the subscribers and publishers registered
on a FastStream broker, and our writers are not among them (each topic is written by an outbox
relay on a plain Kafka producer, and every consumer takes raw envelopes, not typed messages), so
it would document three anonymous channels of untyped bytes. The catalogue lives in the
registry, so the document is built from it: one message per event type with its envelope, Kafka
headers, key and an example, plus the topics' Kafka bindings.

Examples: a contract may give its own (``model_config = ConfigDict(json_schema_extra={"examples":
[...]})``); otherwise one is generated field by field from the field's own ``examples`` (the
value types carry them: TRN, URN, academic year...), else from :data:`FIELD_VALUES` by field
name, else from the field's type and bounds. Every example is validated against its model
(:func:`example_event` raises if it does not), so they cannot drift from the contracts.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
import re
import types
import typing
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import annotated_types
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from cpd_events.envelope import Envelope, Event
from cpd_events.registry import REGISTRY, EventRegistry
from cpd_events.topics import (
    CATALOGUE_EVENTS,
    DEFAULT_PARTITIONS,
    ENTITLEMENT_EVENTS,
    HEADER_EVENT_ID,
    HEADER_EVENT_TYPE,
    HEADER_SCHEMA_VERSION,
    HEADER_TRACEPARENT,
    MENTORING_EVENTS,
    TOPIC_CONFIG,
    TOPIC_OF_SERVICE,
)

#: The topic each contract module's events are published on (registry events are entitlement's).
TOPIC_OF_MODULE: dict[str, str] = {
    "cpd_events.entitlement_events": ENTITLEMENT_EVENTS,
    "cpd_events.registry_events": ENTITLEMENT_EVENTS,
    "cpd_events.catalogue_events": CATALOGUE_EVENTS,
    "cpd_events.mentoring_events": MENTORING_EVENTS,
}

TOPIC_DESCRIPTIONS: dict[str, str] = {
    ENTITLEMENT_EVENTS: "The registry (trusts, schools, teachers, CPD leads), entitlement policy"
    " and grants, budgets and funding, CPD requests, hours and development plans.",
    CATALOGUE_EVENTS: "Providers, courses, quality badges, cohorts and bookings, course feedback.",
    MENTORING_EVENTS: "Mentors, the schools they serve, their training and capacity, lead mentors,"
    " mentorships and mentoring sessions.",
}

#: Example values by field name, used before the type's generic value.
FIELD_VALUES: dict[str, Any] = {
    "mentee_trn": "2345678",
    "mentor_trn": "1234567",
    "approver_trn": "3456789",
    "decliner_trn": "3456789",
    "replaces_trn": "4567890",
    "from_school_urn": "100001",
    "mentor_school_urn": "100001",
    "request_id": "req-2025-0001",
    "course_id": "npqh-2025",
    "provider_id": "provider-001",
    "cohort_id": "cohort-npqh-2025-autumn",
    "booking_id": "booking-0001",
    "budget_id": "2025-26-trust-2044",
    "funded_from_budget_id": "2025-26-trust-2044",
    "log_id": "log-0001",
    "session_id": "session-0001",
    "assignment_id": "assignment-0001",
    "title": "NPQ for Headship",
    "level": "gold",
    "approved_by": "A. Patel (CPD lead)",
    "declined_by": "A. Patel (CPD lead)",
    "agreed_with": "A. Patel (CPD lead)",
    "given_name": "Sam",
    "family_name": "Taylor",
    "local_authority": "Leeds",
    "companies_house_number": "07654321",
    "goals": ["Improve questioning in mathematics"],
    "plan_goal": "Improve questioning in mathematics",
    "subjects": ["mathematics"],
    "phases": ["primary"],
    "reason": "Example reason",
    "description": "Twilight session on retrieval practice",
    "reflection": "Will trial low-stakes quizzes with Year 5",
    "focus": "Behaviour routines at the start of lessons",
    "impact_note": "Changed how our phase team plans feedback",
    "evidence_summary": "Evaluated with 40 schools in 2024",
    "evidence_url": "https://example.org/evidence/1",
    "source": None,
    "pupils_on_roll": 420,
    "capacity": 20,
    "rating": 5,
    "max_mentees": 3,
    "minutes": 90,
    "policy_version": 1,
    "hours": "1.50",
    "minimum_hours": "35.00",
    "hours_logged": "36.50",
    "expected_hours": "30.00",
    "corrected_hours": "2.00",
    "funded_hours_per_week": "2.00",
    "fte": "100.00",
    "pro_rata_percent": "100.00",
    "central_share_percent": "100.00",
    "fsm_percent": "23.40",
    "pp50_uplift_percent": "20.00",
    "early_career_uplift_percent": "10.00",
    "base_funding_per_fte_pence": 60000,
    "funding_pence": 60000,
    "cost_pence": 125000,
    "price_pence": 125000,
    "amount_pence": 125000,
    "effective_from": "2025-09-01",
    "registered_on": "2025-09-01",
    "starts_on": "2025-10-01",
    "ends_on": "2026-03-31",
    "expires_on": "2028-07-31",
    "completed_on": "2026-03-31",
}
#: Example values for one event type's fields, where the generic ones would not read well.
EVENT_FIELD_VALUES: dict[str, dict[str, Any]] = {
    "TrustRegistered": {"name": "Example Learning Trust"},
    "SchoolRegistered": {"name": "Example Primary School"},
    "ProviderRegistered": {"name": "Example Teaching School Hub"},
    "ProviderUpdated": {"name": "Example Teaching School Hub"},
}
#: The stream an event type is appended to, for the example envelope (``{field}`` from the data).
EXAMPLE_STREAMS: dict[str, str] = {
    "EntitlementPolicyPublished": "policy-2025-26",
    "BudgetAllocated": "budget-{budget_id}",
    "FundingCommitted": "budget-{budget_id}",
    "FundingSpent": "budget-{budget_id}",
    "FundingReleased": "budget-{budget_id}",
    "TrustRegistered": "trust-{trust_id}",
    "TrustFundingModelChosen": "trust-{trust_id}",
    "SchoolRegistered": "school-{urn}",
    "SchoolJoinedTrust": "school-{urn}",
    "SchoolLeftTrust": "school-{urn}",
    "CourseFeedbackSubmitted": "feedback-{course_id}-{trn}",
    "LeadMentorDesignated": "school-lead-mentor-{school_urn}",
    "MenteeMatched": "mentee-{trn}",
    "MenteeReleased": "mentee-{trn}",
}
_STREAM_BY_PREFIX = (
    ("Provider", "provider-{provider_id}"),
    ("Course", "course-{course_id}"),
    ("Cohort", "cohort-{cohort_id}"),
    ("Mentor", "mentor-{trn}"),
)

#: What the envelope's fields mean, for docs/events.md (where the model has no description).
ENVELOPE_FIELDS: dict[str, str] = {
    "event_id": "Unique id of the event: consumers deduplicate by it",
    "event_type": "The event's type: which contract `data` follows",
    "schema_version": "The version of that contract `data` was written with",
    "stream_id": "The aggregate's stream (also the Kafka key)",
    "stream_version": "The event's place in its stream, from 1",
    "occurred_at": "When it happened (UTC)",
    "recorded_at": "When the store appended it (UTC)",
    "correlation_id": "The request that caused it; every event of one request shares it",
    "causation_id": "The message that caused it, when another message did",
    "actor": "Who asked for it (the X-Actor of the request, or the service)",
    "trust_id": "The trust it concerns, if any (tenancy)",
    "school_urn": "The school it concerns, if any (tenancy)",
    "teacher_id": "The teacher (TRN) it concerns, if any (tenancy)",
    "data": "The event: the contract of `event_type` at `schema_version`",
}

STREAM_KEY_DESCRIPTION = (
    "The stream id (the aggregate: teacher-<trn>, school-<urn>, trust-<trust_id>,"
    " budget-<budget_id>, policy-<year>, provider-<id>, course-<id>, cohort-<id>,"
    " feedback-<course>-<trn>, mentor-<trn>, mentee-<trn>, school-lead-mentor-<urn>), as UTF-8:"
    " every event of a stream lands on one partition, in stream order."
)

KAFKA_BINDING_VERSION = "0.5.0"


@dataclasses.dataclass(frozen=True)
class Consumer:
    """A service's consumer group reading ``topics``; ``<N>`` in ``group`` stands for a number
    (a group per generation of read models...)."""

    service: str
    group: str
    topics: Sequence[str]
    description: str = ""


@dataclasses.dataclass(frozen=True)
class KafkaServer:
    host: str = "127.0.0.1:59092"
    description: str = (
        "The broker `make up` starts (Tansu, a Kafka-protocol broker) unless"
        " KAFKA_BOOTSTRAP_SERVERS names another. Production is Apache Kafka; services find it"
        " through KAFKA_BOOTSTRAP_SERVERS."
    )


# --- examples ------------------------------------------------------------------------------


def topic_of(model: type[Event]) -> str:
    """The topic ``model``'s events are published on."""
    try:
        return TOPIC_OF_MODULE[model.__module__]
    except KeyError:
        raise LookupError(
            f"{model.__name__} is in {model.__module__}, which TOPIC_OF_MODULE does not map"
        ) from None


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """A type without Annotated or Optional, and the metadata found on the way."""
    metadata: list[Any] = []
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation, *extra = typing.get_args(annotation)
            metadata.extend(extra)
        elif origin in (typing.Union, types.UnionType):
            choices = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = choices[0]
        else:
            return annotation, metadata


def _bounds(metadata: Iterable[Any]) -> tuple[Any, Any]:
    low: Any = None
    high: Any = None
    for item in metadata:
        for constraint in item.metadata if isinstance(item, FieldInfo) else [item]:
            if isinstance(constraint, annotated_types.Ge):
                low = constraint.ge
            elif isinstance(constraint, annotated_types.Gt):
                low = constraint.gt + 1 if isinstance(constraint.gt, int) else constraint.gt
            elif isinstance(constraint, annotated_types.Le):
                high = constraint.le
            elif isinstance(constraint, annotated_types.Lt):
                high = constraint.lt
    return low, high


def _examples(metadata: Iterable[Any]) -> list[Any]:
    for item in metadata:
        if isinstance(item, FieldInfo) and item.examples:
            return list(item.examples)
    return []


def _value(name: str, annotation: Any, metadata: list[Any]) -> Any:
    """A value for a field ``name`` of type ``annotation``, from the table or the type."""
    base, more = _unwrap(annotation)
    metadata = [*metadata, *more]
    origin = typing.get_origin(base)
    if origin in (list, tuple, set, frozenset, Sequence):
        (item,) = typing.get_args(base)[:1]
        return [_value(name, item, [])]
    if origin is typing.Literal:
        return typing.get_args(base)[0]
    if isinstance(base, type) and issubclass(base, enum.Enum):
        return next(iter(base)).value
    if isinstance(base, type) and issubclass(base, BaseModel):
        return _field_values(base, "")
    if examples := _examples(metadata):
        return examples[0]
    low, high = _bounds(metadata)
    if base is bool:
        return False
    if base is int:
        value = 1 if low is None else max(int(low), 1)
        return value if high is None else min(value, int(high))
    if base is Decimal:
        return "10.00" if high is not None and high <= 100 else "1.50"
    if base is date:
        return "2025-10-01"
    if base is datetime:
        return "2025-10-01T09:30:00Z"
    if base is uuid.UUID:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, name))
    if base is str:
        if name.endswith("_id"):
            return f"{name.removesuffix('_id').replace('_', '-')}-0001"
        return name.replace("_", " ").capitalize()
    if base in (dict, Any) or typing.get_origin(base) is dict:
        return {}
    raise TypeError(f"no example value for field {name!r} of type {base!r}")


def _field_values(model: type[BaseModel], event_type: str) -> dict[str, Any]:
    overrides = EVENT_FIELD_VALUES.get(event_type, {})
    values: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name in overrides:
            values[name] = overrides[name]
        elif name in FIELD_VALUES:
            values[name] = FIELD_VALUES[name]
        elif info.examples:
            values[name] = info.examples[0]
        else:
            values[name] = _value(name, info.annotation, list(info.metadata))
    return values


def _contract_example(model: type[Event]) -> dict[str, Any] | None:
    extra = model.model_config.get("json_schema_extra")
    examples = extra.get("examples") if isinstance(extra, dict) else None
    if isinstance(examples, list) and examples and isinstance(examples[0], dict):
        return dict(examples[0])
    return None


def example_event(model: type[Event]) -> Event:
    """A valid instance of ``model``: its contract's example, else one generated from its fields.

    A generated example sets every field; when the model's own rules refuse that (two optional
    fields of which only one may be set...), optional fields are left out one at a time until it
    validates. Raises ``ValueError`` when no example validates: give the contract its own.
    """
    given = _contract_example(model)
    if given is not None:
        return model.model_validate(given)  # a contract's example must be valid as it stands
    values = _field_values(model, model.event_type)
    try:
        return model.model_validate(values)
    except ValidationError as error:
        first_error = error
    optional = [name for name, info in model.model_fields.items() if not info.is_required()]
    for name in optional:
        try:
            return model.model_validate({k: v for k, v in values.items() if k != name})
        except ValidationError:
            continue
    raise ValueError(
        f"cannot generate a valid example of {model.event_type}: give the contract one"
        f" (json_schema_extra examples) or extend FIELD_VALUES\n{first_error}"
    )


def example_data(model: type[Event]) -> dict[str, Any]:
    """The example as it travels: the event's JSON, as the store writes it."""
    data: dict[str, Any] = example_event(model).model_dump(mode="json")
    return data


def example_stream_id(model: type[Event], data: Mapping[str, Any]) -> str:
    template = EXAMPLE_STREAMS.get(model.event_type)
    if template is None:
        template = next(
            (t for prefix, t in _STREAM_BY_PREFIX if model.event_type.startswith(prefix)),
            "teacher-{trn}",
        )
    fields = set(re.findall(r"\{(\w+)\}", template))
    if not fields <= {k for k, v in data.items() if v is not None}:
        return f"{model.event_type.lower()}-example"
    return template.format(**data)


def example_envelope(model: type[Event]) -> Envelope:
    """The envelope an example event would be published in (fixed ids and times)."""
    event = example_event(model)
    data = example_data(model)
    tenancy = event.tenancy()
    return Envelope(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"cpd-example-event/{model.event_type}"),
        event_type=model.event_type,
        schema_version=model.schema_version,
        stream_id=example_stream_id(model, data),
        stream_version=1,
        position=1042,
        occurred_at=datetime.fromisoformat("2025-10-01T09:30:00+00:00"),
        recorded_at=datetime.fromisoformat("2025-10-01T09:30:00.125000+00:00"),
        correlation_id=str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"cpd-example-request/{model.event_type}")
        ),
        causation_id=None,
        actor="cpd-lead@example.org",
        trust_id=tenancy.trust_id,
        school_urn=tenancy.school_urn,
        teacher_id=tenancy.teacher_id,
        data=data,
    )


def example_headers(model: type[Event]) -> dict[str, str]:
    envelope = example_envelope(model)
    return {
        HEADER_EVENT_TYPE: envelope.event_type,
        HEADER_EVENT_ID: str(envelope.event_id),
        HEADER_SCHEMA_VERSION: str(envelope.schema_version),
        HEADER_TRACEPARENT: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    }


# --- AsyncAPI ------------------------------------------------------------------------------


def _channel_id(topic: str) -> str:
    """``cpd.entitlement.events`` -> ``entitlementEvents``."""
    parts = topic.split(".")[1:]
    return parts[0] + "".join(p.capitalize() for p in parts[1:])


def _service_of(topic: str) -> str:
    return next(service for service, t in TOPIC_OF_SERVICE.items() if t == topic)


def _schemas(registry: EventRegistry) -> dict[str, dict[str, Any]]:
    """Component schemas: the envelope and every event's data, nested models hoisted."""
    template = "#/components/schemas/{model}"
    schemas: dict[str, dict[str, Any]] = {}

    def add(name: str, schema: dict[str, Any]) -> None:
        if name in schemas and schemas[name] != schema:
            raise ValueError(f"two different schemas are both called {name!r}")
        schemas[name] = schema

    envelope = Envelope.model_json_schema(mode="serialization", ref_template=template)
    add("Envelope", envelope)
    for model in registry:
        schema = model.model_json_schema(mode="serialization", ref_template=template)
        for name, nested in schema.pop("$defs", {}).items():
            add(name, nested)
        schema["x-event-type"] = model.event_type
        schema["x-schema-version"] = model.schema_version
        schema["x-topic"] = topic_of(model)
        add(model.event_type, schema)
    return dict(sorted(schemas.items()))


def _message(model: type[Event]) -> dict[str, Any]:
    name = model.event_type
    description = inspect.cleandoc(model.__doc__ or "")
    envelope = example_envelope(model)
    headers: dict[str, Any] = {
        "type": "object",
        "required": [HEADER_EVENT_TYPE, HEADER_EVENT_ID, HEADER_SCHEMA_VERSION],
        "properties": {
            HEADER_EVENT_TYPE: {"type": "string", "const": name},
            HEADER_EVENT_ID: {
                "type": "string",
                "format": "uuid",
                "description": "The envelope's event_id",
            },
            HEADER_SCHEMA_VERSION: {
                "type": "string",
                "const": str(model.schema_version),
                "description": "The envelope's schema_version, in decimal",
            },
            HEADER_TRACEPARENT: {
                "type": "string",
                "description": "W3C trace context of the publishing span (absent if untraced)",
            },
        },
    }
    payload: dict[str, Any] = {
        "allOf": [
            {"$ref": "#/components/schemas/Envelope"},
            {
                "type": "object",
                "properties": {
                    "event_type": {"const": name},
                    "schema_version": {"const": model.schema_version},
                    "data": {"$ref": f"#/components/schemas/{name}"},
                },
            },
        ]
    }
    message: dict[str, Any] = {
        "name": name,
        "title": name,
        "summary": f"{name} v{model.schema_version} on {topic_of(model)}",
        "contentType": "application/json",
        "headers": headers,
        "payload": payload,
        "correlationId": {
            "description": "The request that caused the event",
            "location": "$message.payload#/correlation_id",
        },
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": STREAM_KEY_DESCRIPTION},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
        "examples": [
            {
                "name": f"{name}Example",
                "summary": f"A {name} as published",
                "headers": example_headers(model),
                "payload": envelope.model_dump(mode="json"),
            }
        ],
    }
    if description:
        message["description"] = description
    return message


def _group_schema(groups: Sequence[str]) -> dict[str, Any]:
    """A JSON Schema for these group ids (``<N>``: a number)."""
    exact = [g for g in groups if "<N>" not in g]
    # the regex dialect is ECMA-262's: escape nothing but the dots
    patterns = [
        "^" + g.replace(".", "\\.").replace("<N>", "[0-9]+") + "$" for g in groups if "<N>" in g
    ]
    choices: list[dict[str, Any]] = [{"enum": exact}] if exact else []
    choices += [{"pattern": p} for p in patterns]
    if len(choices) == 1:
        return {"type": "string", **choices[0]}
    return {"type": "string", "anyOf": choices}


def kafka_document(
    consumers: Sequence[Consumer] = (),
    registry: EventRegistry = REGISTRY,
    server: KafkaServer | None = None,
) -> dict[str, Any]:
    """AsyncAPI 3.0 of the three topics: their events, writers (send) and ``consumers``."""
    server = server or KafkaServer()
    models = list(registry)
    topics = list(TOPIC_OF_SERVICE.values())
    by_topic = {topic: [m for m in models if topic_of(m) == topic] for topic in topics}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in topics:
        channel = _channel_id(topic)
        writer = _service_of(topic)
        channels[channel] = {
            "address": topic,
            "title": topic,
            "description": f"{TOPIC_DESCRIPTIONS.get(topic, '')} Written only by {writer}'s"
            " outbox relay, in store order; keyed by stream id. Each message is an envelope"
            " (JSON) whose `data` is the event of `event_type` at `schema_version`; readers"
            " upcast older versions (see docs/events.md).".strip(),
            "servers": [{"$ref": "#/servers/kafka"}],
            "messages": {
                m.event_type: {"$ref": f"#/components/messages/{m.event_type}"}
                for m in by_topic[topic]
            },
            "bindings": {
                "kafka": {
                    "topic": topic,
                    "partitions": DEFAULT_PARTITIONS,
                    "topicConfiguration": {
                        "cleanup.policy": [TOPIC_CONFIG["cleanup.policy"]],
                        "retention.ms": int(TOPIC_CONFIG["retention.ms"]),
                        "retention.bytes": int(TOPIC_CONFIG["retention.bytes"]),
                    },
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        }
        channel_messages = [
            {"$ref": f"#/channels/{channel}/messages/{m.event_type}"} for m in by_topic[topic]
        ]
        operations[f"{writer}Sends{channel[0].upper()}{channel[1:]}"] = {
            "action": "send",
            "title": f"{writer} publishes {topic}",
            "description": f"{writer}'s outbox relay publishes every event its store appends,"
            " at least once and in store order (consumers deduplicate by event_id).",
            "channel": {"$ref": f"#/channels/{channel}"},
            "messages": channel_messages,
        }
        readers: dict[str, list[Consumer]] = {}
        for consumer in consumers:
            if topic in consumer.topics:
                readers.setdefault(consumer.service, []).append(consumer)
        for service, groups in sorted(readers.items()):
            lines = [c.group + (f" ({c.description})" if c.description else "") for c in groups]
            operations[f"{service}Receives{channel[0].upper()}{channel[1:]}"] = {
                "action": "receive",
                "title": f"{service} consumes {topic}",
                "description": f"{service}'s consumer groups: " + "; ".join(lines) + ". Delivery"
                " is at least once: consumers deduplicate by event_id.",
                "channel": {"$ref": f"#/channels/{channel}"},
                "messages": channel_messages,
                "bindings": {
                    "kafka": {
                        "groupId": _group_schema([c.group for c in groups]),
                        "bindingVersion": KAFKA_BINDING_VERSION,
                    }
                },
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "CPD platform events (Kafka)",
            "version": "1.0.0",
            "description": "The published language of the CPD platform: every event type of the"
            " registry, at its current schema version, on the topic its owning service writes."
            " Generated from cpd_events (`make api-docs`); the catalogue in prose is"
            " docs/events.md.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": server.host,
                "protocol": "kafka",
                "description": server.description,
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": {m.event_type: _message(m) for m in models},
            "schemas": _schemas(registry),
        },
    }


# --- the event catalogue in prose ----------------------------------------------------------


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _schema_type(schema: Mapping[str, Any]) -> str:
    """A short reading of a JSON Schema: ``string matching ^\\d{7}$``, ``list of Region``..."""
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in schema:
        branches = [b for b in schema["anyOf"] if b.get("type") != "null"]
        label = " or ".join(_schema_type(b) for b in branches)
        nullable = len(branches) < len(schema["anyOf"])
        return f"{label} or null" if nullable else label
    if "const" in schema:
        return f"`{schema['const']}`"
    if "enum" in schema:
        return "one of " + ", ".join(f"`{v}`" for v in schema["enum"])
    kind = str(schema.get("type", "any"))
    if kind == "array":
        label = "list of " + _schema_type(schema.get("items", {}))
    elif kind == "string" and "format" in schema:
        label = f"string ({schema['format']})"
    elif kind == "string" and "pattern" in schema:
        label = f"string matching `{schema['pattern']}`"
    else:
        label = kind
    limits = _limits(schema)
    return f"{label} ({', '.join(limits)})" if limits else label


def _limits(schema: Mapping[str, Any]) -> list[str]:
    limits = []
    for key, text in (
        ("minimum", "≥ {}"),
        ("exclusiveMinimum", "> {}"),
        ("maximum", "≤ {}"),
        ("exclusiveMaximum", "< {}"),
        ("minItems", "at least {} items"),
        ("maxItems", "at most {} items"),
    ):
        if key in schema and not (key == "minimum" and "exclusiveMinimum" in schema):
            value = schema[key]
            limits.append(text.format(int(value) if value == int(value) else value))
    low, high = schema.get("minLength"), schema.get("maxLength")
    if low is not None and high is not None:
        limits.append(f"{low} to {high} characters")
    elif high is not None:
        limits.append(f"at most {high} characters")
    elif low is not None:
        limits.append(f"at least {low} character{'s' if low != 1 else ''}")
    return limits


def _field_type(model: type[BaseModel], name: str, schema: Mapping[str, Any]) -> str:
    base, _ = _unwrap(model.model_fields[name].annotation)
    if base is not Decimal:
        return _schema_type(schema)
    # serialized, a decimal is a plain string: its bounds are in the validation schema
    accepted = model.model_json_schema(mode="validation")["properties"][name]
    branches = [accepted, *accepted.get("anyOf", [])]
    for branch in list(branches):
        branches += branch.get("anyOf", [])
    number: dict[str, Any] = next((b for b in branches if b.get("type") == "number"), {})
    info = model.model_fields[name]
    _, nested = _unwrap(info.annotation)
    places = next(
        (
            c.decimal_places
            for m in [*info.metadata, *nested]
            for c in (m.metadata if isinstance(m, FieldInfo) else [m])
            if getattr(c, "decimal_places", None) is not None
        ),
        None,
    )
    label = "decimal as a string" + (f", {places} places" if places is not None else "")
    limits = _limits(number)
    label += f" ({', '.join(limits)})" if limits else ""
    nullable = any(b.get("type") == "null" for b in branches)
    return f"{label} or null" if nullable else label


def _description(schema: Mapping[str, Any]) -> str:
    if "description" in schema:
        return str(schema["description"])
    for branch in schema.get("anyOf", []):
        if "description" in branch:
            return str(branch["description"])
    return ""


def _fields_table(model: type[BaseModel], schema: Mapping[str, Any]) -> list[str]:
    required = set(schema.get("required", []))
    lines = ["| field | type | required | description |", "|---|---|---|---|"]
    for name, prop in schema.get("properties", {}).items():
        if name in required:
            needed = "yes"
        else:
            default = prop.get("default")
            needed = "no" if default in (None, "", []) else f"no (default `{default}`)"
        lines.append(
            f"| `{name}` | {_cell(_field_type(model, name, prop))} | {needed}"
            f" | {_cell(_description(prop))} |"
        )
    return lines


def _json_block(value: Any) -> list[str]:
    return ["```json", json.dumps(value, indent=2), "```"]


def events_markdown(consumers: Sequence[Consumer] = (), registry: EventRegistry = REGISTRY) -> str:
    """docs/events.md: every event type by topic, with its fields and an example."""
    models = list(registry)
    topics = list(TOPIC_OF_SERVICE.values())
    lines = [
        "# Event catalogue",
        "",
        "<!-- Generated from cpd_events by `make api-docs` (cpd api-docs); a test keeps it"
        " current. Do not edit. -->",
        "",
        "Every event type of the published language (`cpd_events`), at its current schema"
        " version, by the Kafka topic it is published on. The same catalogue in machine-readable"
        " form, with Kafka bindings and the consumers, is"
        " [api/kafka.asyncapi.json](api/kafka.asyncapi.json); JSON Schemas: `make schemas`.",
        "",
        "Conventions: money is integer pence, hours are two-place decimals written as strings"
        ' (`"1.50"`), a TRN has 7 digits, a URN 6, an academic year reads `2025/26`. Readers'
        " ignore fields they do not know; an incompatible change is a new `schema_version` and"
        " readers upcast older versions.",
        "",
    ]
    for topic in topics:
        anchor = topic.replace(".", "")
        readers = sorted({c.service for c in consumers if topic in c.topics})
        lines.append(
            f"- [{topic}](#{anchor}) (written by {_service_of(topic)}"
            + (f"; read by {', '.join(readers)}" if readers else "")
            + "): "
            + ", ".join(
                f"[{m.event_type}](#{m.event_type.lower()})" for m in models if topic_of(m) == topic
            )
        )
    envelope_schema = Envelope.model_json_schema(mode="serialization")
    for name, prop in envelope_schema["properties"].items():
        prop.setdefault("description", ENVELOPE_FIELDS.get(name, ""))
    first = models[0]
    lines += [
        "",
        "## The envelope",
        "",
        "Each Kafka message's value is an envelope as JSON; its key is the stream id (UTF-8), so"
        " a stream's events stay in order on one partition. The headers repeat the envelope's"
        f" `{HEADER_EVENT_TYPE}`, `{HEADER_EVENT_ID}` and `{HEADER_SCHEMA_VERSION}` (decimal),"
        f" and carry `{HEADER_TRACEPARENT}` (W3C trace context) when the publisher was traced."
        " Topics keep events for good (retention unlimited) in"
        f" {DEFAULT_PARTITIONS} partitions by default.",
        "",
        *_fields_table(Envelope, envelope_schema),
        "",
        f"For example ({first.event_type}):",
        "",
        *_json_block(example_envelope(first).model_dump(mode="json")),
        "",
    ]
    nested: dict[str, tuple[type[BaseModel] | None, dict[str, Any]]] = {}
    for topic in topics:
        lines += [f"## {topic}", "", TOPIC_DESCRIPTIONS.get(topic, ""), ""]
        for model in (m for m in models if topic_of(m) == topic):
            schema = model.model_json_schema(mode="serialization")
            for name, sub in schema.get("$defs", {}).items():
                nested.setdefault(name, (_model_named(model, name), sub))
            lines += [f"### {model.event_type}", ""]
            lines += [f"Version {model.schema_version}."]
            if model.schema_version == 2:
                lines[-1] += " Readers upcast version 1 to it."
            elif model.schema_version > 2:
                lines[-1] += f" Readers upcast versions 1 to {model.schema_version - 1} to it."
            lines.append("")
            doc = (model.__doc__ or "").strip()
            if doc:
                lines += [_dedent(doc), ""]
            lines += [*_fields_table(model, schema), "", "Example `data`:", ""]
            lines += [*_json_block(example_data(model)), ""]
    if nested:
        lines += ["## Types used by the events", ""]
        for name, (sub_model, sub) in sorted(nested.items()):
            lines += [f"### {name}", ""]
            if sub.get("description"):
                lines += [_dedent(str(sub["description"])), ""]
            if "enum" in sub:
                lines += ["One of " + ", ".join(f"`{v}`" for v in sub["enum"]) + ".", ""]
            elif sub_model is not None:
                lines += [*_fields_table(sub_model, sub), ""]
    return "\n".join(lines).rstrip() + "\n"


def _model_named(model: type[BaseModel], name: str) -> type[BaseModel] | None:
    """The nested model class called ``name`` among ``model``'s fields (None for enums)."""
    for info in model.model_fields.values():
        base, _ = _unwrap(info.annotation)
        for candidate in (base, *typing.get_args(base)):
            found, _ = _unwrap(candidate)
            if isinstance(found, type) and issubclass(found, BaseModel) and found.__name__ == name:
                return found
    return None


def _dedent(text: str) -> str:
    return inspect.cleandoc(text)
