"""The catalogue's event contracts: cross-field rules, enums, optional fields, new events."""

from __future__ import annotations

from typing import Any

import pytest

from cpd_events import REGISTRY, InvalidEventPayload
from cpd_events.catalogue_events import CohortPlaceBooked, CourseListed
from cpd_events.types import CareerStage, NpqType, ProviderKind


def course(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "course_id": "npqh-1",
        "provider_id": "ambition",
        "title": "NPQ for Headship",
        "kind": "npq",
        "npq_type": "NPQH",
        "hours": "90",
        "price_pence": 0,
    }
    return {**data, **overrides}


def test_the_new_catalogue_events_are_registered() -> None:
    for name in ("ProviderUpdated", "ProviderDeactivated", "CohortPlaceBooked"):
        assert name in REGISTRY


def test_a_course_listed_before_career_stages_existed_still_reads() -> None:
    listed = REGISTRY.decode("CourseListed", 1, course())
    assert isinstance(listed, CourseListed)
    assert (listed.npq_type, listed.career_stages) == (NpqType.NPQH, [])
    listed = REGISTRY.decode("CourseListed", 1, course(career_stages=["senior_leader"]))
    assert isinstance(listed, CourseListed)
    assert listed.career_stages == [CareerStage.SENIOR_LEADER]


@pytest.mark.parametrize(
    "overrides",
    [
        {"npq_type": None},  # an NPQ without its type
        {"kind": "coaching"},  # a type on something that is not an NPQ
        {"npq_type": "NPQX"},  # not one of the ten
    ],
)
def test_an_npq_type_goes_with_kind_npq_and_nothing_else(overrides: dict[str, Any]) -> None:
    with pytest.raises(InvalidEventPayload) as caught:
        REGISTRY.decode("CourseListed", 1, course(**overrides))
    assert caught.value.fields == ["data.npq_type"]


def test_a_course_of_another_kind_has_no_npq_type() -> None:
    listed = REGISTRY.decode("CourseListed", 1, course(kind="inset", npq_type=None))
    assert isinstance(listed, CourseListed)


def test_the_ten_npq_types() -> None:
    assert [t.value for t in NpqType] == [
        "NPQLT",
        "NPQLTD",
        "NPQLBC",
        "NPQLL",
        "NPQLPM",
        "NPQSL",
        "NPQH",
        "NPQEL",
        "NPQEYL",
        "NPQSENCO",
    ]


def test_a_provider_kind_is_one_of_the_known_kinds() -> None:
    data = {"provider_id": "ucl", "name": "UCL"}
    registered = REGISTRY.decode("ProviderRegistered", 1, {**data, "kind": "university"})
    assert registered.model_dump()["kind"] == ProviderKind.UNIVERSITY
    with pytest.raises(InvalidEventPayload) as caught:
        REGISTRY.decode("ProviderRegistered", 1, {**data, "kind": "npq"})
    assert caught.value.fields == ["data.kind"]


def test_a_cohort_ends_on_or_after_its_start() -> None:
    data = {"cohort_id": "c1", "course_id": "x", "starts_on": "2025-10-01", "capacity": 1}
    assert REGISTRY.decode("CohortScheduled", 1, {**data, "ends_on": "2025-10-01"})
    with pytest.raises(InvalidEventPayload) as caught:
        REGISTRY.decode("CohortScheduled", 1, {**data, "ends_on": "2025-09-30"})
    assert caught.value.fields == ["data.ends_on"]
    with pytest.raises(InvalidEventPayload) as caught:
        REGISTRY.decode("CohortScheduled", 1, {**data, "ends_on": "2025-10-01", "capacity": 0})
    assert caught.value.fields == ["data.capacity"]


def test_a_booking_carries_the_teacher_and_school_as_tenancy_keys() -> None:
    booking = CohortPlaceBooked(
        cohort_id="c1", course_id="x", booking_id="b1", trn="1234567", school_urn="100000"
    )
    keys = booking.tenancy()
    assert (keys.teacher_id, keys.school_urn) == ("1234567", "100000")
