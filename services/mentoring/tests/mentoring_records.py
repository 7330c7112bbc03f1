"""Builders for mentoring's integration tests: registry events as a consumer receives them."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime
from uuid import uuid4

from cpd_events import Envelope, Event
from cpd_events.registry_events import SchoolRegistered, TeacherRegistered
from cpd_events.types import CareerStage
from cpd_platform.testing import Record, record_of


def unique_trns(count: int) -> list[str]:
    """Fresh TRNs, so that tests sharing a broker can tell their events apart."""
    return [str(n) for n in random.sample(range(3_000_000, 9_000_000), count)]


def unique_urns(count: int) -> list[str]:
    return [str(n) for n in random.sample(range(300_000, 900_000), count)]


class Streams:
    """Envelopes with consecutive versions per stream, as the owning service would publish."""

    def __init__(self) -> None:
        self.versions: Counter[str] = Counter()

    def envelope(self, stream_id: str, event: Event) -> Envelope:
        self.versions[stream_id] += 1
        now = datetime.now(UTC)
        return Envelope(
            event_id=uuid4(),
            event_type=event.event_type,
            schema_version=event.schema_version,
            stream_id=stream_id,
            stream_version=self.versions[stream_id],
            occurred_at=now,
            recorded_at=now,
            correlation_id="test",
            actor="test",
            data=event.model_dump(mode="json"),
        )

    def teacher(self, event: Event, trn: str) -> Record:
        return record_of(self.envelope(f"teacher-{trn}", event))

    def registered(
        self,
        trn: str,
        school_urn: str,
        stage: CareerStage = CareerStage.EXPERIENCED,
        on: date = date(2025, 9, 1),
    ) -> Record:
        event = TeacherRegistered(
            trn=trn,
            school_urn=school_urn,
            given_name="Ada",
            family_name="Lovelace",
            career_stage=stage,
            fte=100,
            registered_on=on,
        )
        return self.teacher(event, trn)

    def school(self, urn: str, name: str = "Primary school") -> Record:
        event = SchoolRegistered(urn=urn, name=name, local_authority="201", phase="Primary")
        return record_of(self.envelope(f"school-{urn}", event))
