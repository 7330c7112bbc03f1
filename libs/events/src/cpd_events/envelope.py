"""The envelope every event travels in, and the base class of event payloads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Event(BaseModel):
    """Base of every event payload (the envelope's ``data``).

    Subclasses set ``event_type`` (past tense, from the domain) and ``schema_version``.
    Readers are tolerant: unknown fields are ignored, so adding an optional field is a minor
    change that needs no new version.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1

    def tenancy(self) -> Tenancy:
        """Tenancy keys found in the payload: the trust, school and teacher it concerns."""
        values = self.__dict__
        school = values.get("school_urn") or values.get("urn")
        return Tenancy(
            trust_id=values.get("trust_id"),
            school_urn=school if isinstance(school, str) else None,
            teacher_id=values.get("trn") if isinstance(values.get("trn"), str) else None,
        )


class Tenancy(BaseModel):
    model_config = ConfigDict(frozen=True)

    trust_id: str | None = None
    school_urn: str | None = None
    teacher_id: str | None = None


class Metadata(BaseModel):
    """Who asked for a change and why: copied onto every event the change produces."""

    model_config = ConfigDict(frozen=True)

    actor: str = Field(min_length=1, max_length=200)
    correlation_id: str = Field(default_factory=lambda: str(uuid4()), max_length=200)
    causation_id: str | None = Field(default=None, max_length=200)
    traceparent: str | None = None


class NewEvent(BaseModel):
    """An event decided but not yet stored: the store gives it a stream version and position."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    event: Event
    event_id: UUID = Field(default_factory=uuid4)
    occurred_at: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    tenancy: Tenancy | None = None

    def keys(self) -> Tenancy:
        return self.tenancy or self.event.tenancy()


class Envelope(BaseModel):
    """One stored, published event: metadata plus the payload as plain JSON data."""

    model_config = ConfigDict(frozen=True)

    event_id: UUID
    event_type: str
    schema_version: int = Field(ge=1)
    stream_id: str
    stream_version: int = Field(ge=1)
    position: int | None = Field(default=None, description="Global position in the store")
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    correlation_id: str
    causation_id: str | None = None
    actor: str
    trust_id: str | None = None
    school_urn: str | None = None
    teacher_id: str | None = None
    data: dict[str, Any]
