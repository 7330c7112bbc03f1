"""The published language: validation, registry, upcasting, JSON Schema."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from cpd_events import REGISTRY, Envelope, InvalidEventPayload, UnknownEventType
from cpd_events.entitlement_events import EntitlementPolicyPublished, HoursLogged
from cpd_events.registry_events import TeacherRegistered, TrustFundingModelChosen
from cpd_events.schema import export

ARCHITECTURE_CATALOGUE = [
    "TrustRegistered",
    "SchoolRegistered",
    "SchoolJoinedTrust",
    "SchoolLeftTrust",
    "CPDLeadDesignated",
    "TrustFundingModelChosen",
    "TeacherRegistered",
    "TeacherMovedSchool",
    "TeacherLeftProfession",
    "EntitlementPolicyPublished",
    "EntitlementGranted",
    "BudgetAllocated",
    "CPDRequested",
    "CPDApproved",
    "CPDDeclined",
    "CPDWithdrawn",
    "CPDCompleted",
    "HoursLogged",
    "HoursLogCorrected",
    "FundingCommitted",
    "FundingSpent",
    "DevelopmentPlanAgreed",
    "ProviderRegistered",
    "CourseListed",
    "CourseUpdated",
    "CourseBadged",
    "CourseBadgeRevoked",
    "CourseRetired",
    "CohortScheduled",
    "CourseFeedbackSubmitted",
    "MentorRegistered",
    "MentorTrainingCompleted",
    "LeadMentorDesignated",
    "MentorCapacitySet",
    "MentorAssigned",
    "MentorshipEnded",
    "MentoringSessionLogged",
]


def envelope(event_type: str, version: int, data: dict[str, object]) -> Envelope:
    now = datetime.now(UTC)
    return Envelope(
        event_id=uuid4(),
        event_type=event_type,
        schema_version=version,
        stream_id="teacher-1234567",
        stream_version=1,
        occurred_at=now,
        recorded_at=now,
        correlation_id="c",
        actor="test",
        data=data,
    )


def test_the_whole_starting_catalogue_is_registered() -> None:
    registered = {m.event_type for m in REGISTRY}
    assert set(ARCHITECTURE_CATALOGUE) <= registered


def teacher(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "trn": "1234567",
        "school_urn": "100000",
        "given_name": "Ada",
        "family_name": "Lovelace",
        "career_stage": "experienced",
        "fte": "100",
        "registered_on": "2025-09-01",
    }
    return {**data, **overrides}


@pytest.mark.parametrize(
    ("field", "value"),
    [("trn", "123456"), ("trn", "12345678"), ("trn", "abcdefg"), ("school_urn", "12345")],
)
def test_identifiers_are_validated_and_errors_name_the_field(field: str, value: str) -> None:
    with pytest.raises(InvalidEventPayload) as caught:
        REGISTRY.decode("TeacherRegistered", 1, teacher(**{field: value}))
    assert caught.value.fields == [f"data.{field}"]
    assert f"data.{field}" in str(caught.value)


def test_money_is_integer_pence_and_hours_are_fixed_scale_decimals() -> None:
    policy = EntitlementPolicyPublished(
        academic_year="2025/26",
        policy_version=1,
        minimum_hours=Decimal("35"),
        base_funding_per_fte_pence=60000,
        pp50_uplift_percent=Decimal(20),
        early_career_uplift_percent=Decimal(10),
        effective_from=date(2025, 9, 1),
    )
    assert policy.minimum_hours == Decimal("35.00")
    dumped = json.loads(policy.model_dump_json())
    assert dumped["minimum_hours"] == "35.00"  # never a float on the wire
    with pytest.raises(InvalidEventPayload) as caught:
        REGISTRY.decode(
            "EntitlementPolicyPublished", 1, {**dumped, "base_funding_per_fte_pence": 12.5}
        )
    assert caught.value.fields == ["data.base_funding_per_fte_pence"]
    with pytest.raises(InvalidEventPayload):
        REGISTRY.decode("EntitlementPolicyPublished", 1, {**dumped, "minimum_hours": "1.234"})


def test_academic_year_must_span_consecutive_years() -> None:
    with pytest.raises(InvalidEventPayload, match="academic_year"):
        REGISTRY.decode("EntitlementGranted", 1, {"academic_year": "2025/27"})


def test_unknown_types_and_versions_raise_clear_errors() -> None:
    with pytest.raises(UnknownEventType, match="'TeacherTeleported'"):
        REGISTRY.decode("TeacherTeleported", 1, {})
    with pytest.raises(UnknownEventType, match="version 3"):
        REGISTRY.decode("HoursLogged", 3, {})


def test_hours_logged_v1_is_upcast_from_minutes_to_hours() -> None:
    v1 = {
        "log_id": "log-1",
        "trn": "1234567",
        "school_urn": "100000",
        "academic_year": "2025/26",
        "minutes": 90,
        "activity_date": "2025-10-01",
    }
    event = REGISTRY.load(envelope("HoursLogged", 1, v1))
    assert isinstance(event, HoursLogged)
    assert event.hours == Decimal("1.50")
    assert event.activity_type == "other"
    # a current-version event passes through untouched
    v2 = REGISTRY.load(envelope("HoursLogged", 2, json.loads(event.model_dump_json())))
    assert v2 == event


def test_cross_field_rules_are_part_of_the_contract() -> None:
    hybrid = {"trust_id": "1", "model": "hybrid", "effective_from": "2025-09-01"}
    with pytest.raises(InvalidEventPayload, match="hybrid"):
        REGISTRY.decode("TrustFundingModelChosen", 1, {**hybrid, "central_share_percent": 0})
    chosen = REGISTRY.decode("TrustFundingModelChosen", 1, {**hybrid, "central_share_percent": 30})
    assert isinstance(chosen, TrustFundingModelChosen)


def test_tenancy_keys_come_from_the_payload() -> None:
    event = TeacherRegistered.model_validate(teacher())
    keys = event.tenancy()
    assert (keys.teacher_id, keys.school_urn, keys.trust_id) == ("1234567", "100000", None)


def test_parse_rejects_bytes_that_are_no_envelope() -> None:
    with pytest.raises(InvalidEventPayload, match="envelope"):
        REGISTRY.parse(b"\x00\xffnot json")


def test_json_schema_export_covers_every_event(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    written = export(tmp_path)
    names = {p.stem for p in written}
    assert "Envelope" in names
    assert "HoursLogged.v2" in names
    assert len(names) == len(list(REGISTRY)) + 1
    schema = json.loads((tmp_path / "TeacherRegistered.v1.json").read_text())
    assert schema["properties"]["trn"]["pattern"] == r"^\d{7}$"
