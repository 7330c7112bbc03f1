"""The Kafka AsyncAPI document and the event catalogue (docs/events.md): current, complete, and
every example valid against its contract (`make api-docs` writes them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest

from cpd_cli.apidocs import documents, events_markdown
from cpd_events import REGISTRY, Envelope
from cpd_events.asyncapi import example_data, example_envelope, example_event, topic_of
from cpd_events.envelope import Event
from cpd_events.topics import (
    ALL_TOPICS,
    DEFAULT_PARTITIONS,
    HEADER_EVENT_ID,
    HEADER_EVENT_TYPE,
    HEADER_SCHEMA_VERSION,
    TOPIC_OF_SERVICE,
)

ROOT = Path(__file__).resolve().parents[2]
MODELS = list(REGISTRY)


@pytest.fixture(scope="module")
def kafka() -> dict[str, Any]:
    return documents()["kafka.asyncapi.json"]


def test_the_committed_event_catalogue_is_current() -> None:
    committed = ROOT / "docs" / "events.md"
    assert committed.exists(), f"{committed} is missing: run `make api-docs`"
    assert committed.read_text() == events_markdown(), (
        f"{committed} is stale: run `make api-docs` and commit it"
    )


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.event_type)
def test_every_event_has_an_example_valid_against_its_contract(model: type[Event]) -> None:
    data = example_data(model)
    assert model.model_validate(data).model_dump(mode="json") == data
    assert REGISTRY.decode(model.event_type, model.schema_version, data) == example_event(model)
    envelope = example_envelope(model)
    assert Envelope.model_validate_json(envelope.model_dump_json()) == envelope
    assert REGISTRY.load(envelope).model_dump(mode="json") == data


def test_every_event_type_is_a_message_on_its_topic(kafka: dict[str, Any]) -> None:
    messages = kafka["components"]["messages"]
    assert set(messages) == {m.event_type for m in MODELS}
    channels = {c["address"]: c for c in kafka["channels"].values()}
    assert set(channels) == set(ALL_TOPICS)
    for model in MODELS:
        assert model.event_type in channels[topic_of(model)]["messages"]
    assert sum(len(c["messages"]) for c in channels.values()) == len(MODELS)
    for topic, channel in channels.items():
        binding = channel["bindings"]["kafka"]
        assert binding["topic"] == topic
        assert binding["partitions"] == DEFAULT_PARTITIONS
        assert binding["topicConfiguration"]["retention.ms"] == -1


def test_each_topic_is_sent_by_its_owner_and_reporting_receives_all(
    kafka: dict[str, Any],
) -> None:
    address = {f"#/channels/{k}": c["address"] for k, c in kafka["channels"].items()}
    sends: dict[str, str] = {}
    receives: dict[str, set[str]] = {}
    for operation_id, operation in kafka["operations"].items():
        topic = address[operation["channel"]["$ref"]]
        service = operation_id.split("Sends" if operation["action"] == "send" else "Receives")[0]
        if operation["action"] == "send":
            assert topic not in sends, f"{topic} has two writers"
            sends[topic] = service
        else:
            receives.setdefault(service, set()).add(topic)
    assert sends == {topic: service for service, topic in TOPIC_OF_SERVICE.items()}
    assert receives["reporting"] == set(ALL_TOPICS)


def _validator(document: dict[str, Any], pointer: str) -> Any:
    root = {"$ref": f"#/{pointer}", "components": document["components"]}
    return jsonschema.Draft202012Validator(root)


@pytest.mark.parametrize("event_type", [m.event_type for m in MODELS])
def test_every_message_example_matches_the_documented_schemas(
    kafka: dict[str, Any], event_type: str
) -> None:
    """The CLI does not check examples against schemas in AsyncAPI 3.0: this test does."""
    message = kafka["components"]["messages"][event_type]
    (example,) = message["examples"]
    base = f"components/messages/{event_type}"
    payload = _validator(kafka, f"{base}/payload")
    headers = _validator(kafka, f"{base}/headers")
    assert not list(payload.iter_errors(example["payload"]))
    assert not list(headers.iter_errors(example["headers"]))
    envelope = Envelope.model_validate(example["payload"])
    assert example["headers"][HEADER_EVENT_TYPE] == envelope.event_type == event_type
    assert example["headers"][HEADER_EVENT_ID] == str(envelope.event_id)
    assert example["headers"][HEADER_SCHEMA_VERSION] == str(envelope.schema_version)
    REGISTRY.load(envelope)  # the data is a valid event of the current version
    wrong = {**example["payload"], "data": {**example["payload"]["data"], "trn": "12"}}
    if "trn" in example["payload"]["data"]:
        assert list(payload.iter_errors(wrong)), "the payload schema checks the event's data"


def test_a_contract_s_own_example_comes_first() -> None:
    from pydantic import ConfigDict

    from cpd_events.types import Trn

    given = {"trn": "7654321", "note": "from the contract"}

    class NoteTaken(Event):
        model_config = ConfigDict(json_schema_extra={"examples": [given]})
        event_type = "NoteTaken"
        trn: Trn
        note: str

    assert example_data(NoteTaken) == given
