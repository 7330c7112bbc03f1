"""Small builders for event store tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import uuid4

from cpd_events import Envelope, Metadata, NewEvent
from cpd_events.entitlement_events import HoursLogged

META = Metadata(actor="test")


def hours_logged(trn: str = "1234567", log_id: str | None = None, amount: str = "1") -> NewEvent:
    return NewEvent(
        event=HoursLogged(
            log_id=log_id or uuid4().hex,
            trn=trn,
            school_urn="100000",
            academic_year="2025/26",
            hours=Decimal(amount),
            activity_type="course",
            activity_date=date(2025, 10, 1),
        )
    )


def envelope_for(stream_id: str, version: int, event: NewEvent | None = None) -> Envelope:
    new = event or hours_logged()
    now = datetime.now(UTC)
    return Envelope(
        event_id=new.event_id,
        event_type=new.event.event_type,
        schema_version=new.event.schema_version,
        stream_id=stream_id,
        stream_version=version,
        occurred_at=now,
        recorded_at=now,
        correlation_id="c",
        actor="test",
        data=new.event.model_dump(mode="json"),
    )
