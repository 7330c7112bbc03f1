"""Course deciders: given past events, when a command arrives, then these events."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from catalogue.domain import (
    Badge,
    BadgeCourse,
    ListCourse,
    RetireCourse,
    course_decider,
    listing_decider,
)
from cpd_events.catalogue_events import (
    CourseBadged,
    CourseBadgeRevoked,
    CourseListed,
    CourseRetired,
    CourseUpdated,
    ProviderRegistered,
)
from cpd_events.decider import Rule, RuleBroken
from cpd_events.types import CourseKind, hours

TODAY = date(2025, 9, 1)
PROVIDER = ProviderRegistered(provider_id="ambition", name="Ambition Institute", kind="npq")
LIST = ListCourse(
    course_id="npqh-2025",
    provider_id="ambition",
    title="NPQ for Headship",
    kind=CourseKind.NPQ,
    npq_type="NPQH",
    subjects=("leadership",),
    phases=("primary", "secondary"),
    hours=hours("60.5"),
    price_pence=215_000,
    government_funded=True,
    delivery_mode="online",
    evidence_summary="Built on the Early Career Framework evidence base",
)
LISTED = CourseListed(
    course_id="npqh-2025",
    provider_id="ambition",
    title="NPQ for Headship",
    kind=CourseKind.NPQ,
    npq_type="NPQH",
    subjects=["leadership"],
    phases=["primary", "secondary"],
    hours=Decimal("60.50"),
    price_pence=215_000,
    government_funded=True,
    delivery_mode="online",
    evidence_summary="Built on the Early Career Framework evidence base",
)
RETIRED = CourseRetired(course_id="npqh-2025", reason="replaced by the 2026 framework")


# --- listing ----------------------------------------------------------------------------------


def test_a_course_is_listed_under_a_registered_provider() -> None:
    assert listing_decider.run(given=[PROVIDER], command=LIST) == [LISTED]


def test_listing_needs_a_registered_provider() -> None:
    with pytest.raises(RuleBroken) as caught:
        listing_decider.run(given=[], command=LIST)
    assert (caught.value.rule, caught.value.field) == (Rule.INVALID, "provider_id")


def test_a_course_id_is_listed_once() -> None:
    with pytest.raises(RuleBroken) as caught:
        listing_decider.run(given=[PROVIDER, LISTED], command=LIST)
    assert (caught.value.rule, caught.value.field) == (Rule.CONFLICT, "course_id")


def test_a_retired_course_id_is_not_listed_again() -> None:
    with pytest.raises(RuleBroken) as caught:
        listing_decider.run(given=[PROVIDER, LISTED, RETIRED], command=LIST)
    assert caught.value.rule == Rule.CONFLICT


# --- retiring ---------------------------------------------------------------------------------


def test_a_listed_course_is_retired() -> None:
    command = RetireCourse(course_id="npqh-2025", reason="replaced by the 2026 framework")
    assert course_decider.run(given=[LISTED], command=command) == [RETIRED]


def test_an_unknown_course_cannot_be_retired() -> None:
    with pytest.raises(RuleBroken) as caught:
        course_decider.run(given=[], command=RetireCourse(course_id="npqh-2025"))
    assert caught.value.rule == Rule.NOT_FOUND


def test_a_course_is_retired_once() -> None:
    with pytest.raises(RuleBroken) as caught:
        course_decider.run(given=[LISTED, RETIRED], command=RetireCourse(course_id="npqh-2025"))
    assert caught.value.rule == Rule.CONFLICT


# --- badging ----------------------------------------------------------------------------------


def badge(expires_on: date) -> BadgeCourse:
    return BadgeCourse(course_id="npqh-2025", level="gold", expires_on=expires_on, today=TODAY)


def test_a_listed_course_is_badged_until_a_future_date() -> None:
    then = course_decider.run(given=[LISTED], command=badge(date(2026, 8, 31)))
    assert then == [CourseBadged(course_id="npqh-2025", level="gold", expires_on=date(2026, 8, 31))]


def test_a_badge_can_be_renewed() -> None:
    given = [LISTED, CourseBadged(course_id="npqh-2025", level="silver", expires_on=TODAY)]
    then = course_decider.run(given=given, command=badge(date(2027, 8, 31)))
    assert then == [CourseBadged(course_id="npqh-2025", level="gold", expires_on=date(2027, 8, 31))]


@pytest.mark.parametrize("expires_on", [TODAY, date(2025, 8, 31)])
def test_a_badge_must_expire_after_today(expires_on: date) -> None:
    with pytest.raises(RuleBroken) as caught:
        course_decider.run(given=[LISTED], command=badge(expires_on))
    assert (caught.value.rule, caught.value.field) == (Rule.INVALID, "expires_on")


def test_an_unknown_course_cannot_be_badged() -> None:
    with pytest.raises(RuleBroken) as caught:
        course_decider.run(given=[], command=badge(date(2026, 8, 31)))
    assert caught.value.rule == Rule.NOT_FOUND


def test_a_retired_course_cannot_be_badged() -> None:
    with pytest.raises(RuleBroken) as caught:
        course_decider.run(given=[LISTED, RETIRED], command=badge(date(2026, 8, 31)))
    assert caught.value.rule == Rule.CONFLICT


# --- state ------------------------------------------------------------------------------------


def test_the_course_state_follows_its_stream() -> None:
    course = course_decider.fold(
        [
            LISTED,
            CourseUpdated(course_id="npqh-2025", title="NPQH", price_pence=200_000),
            CourseBadged(course_id="npqh-2025", level="gold", expires_on=date(2026, 8, 31)),
        ]
    )
    assert course is not None
    assert (course.title, course.price_pence, course.hours) == ("NPQH", 200_000, Decimal("60.50"))
    assert course.badge == Badge(level="gold", expires_on=date(2026, 8, 31))
    assert not course.retired

    course = course_decider.fold(
        [LISTED, CourseBadgeRevoked(course_id="npqh-2025", reason="evidence lapsed"), RETIRED]
    )
    assert course is not None
    assert course.badge is None
    assert (course.retired, course.retirement_reason) == (True, "replaced by the 2026 framework")
