"""Course deciders: given past events, when a command arrives, then these events."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from catalogue.domain import (
    Badge,
    BadgeCourse,
    BadgeStatus,
    CourseCommand,
    ListCourse,
    RetireCourse,
    RevokeBadge,
    UpdateCourse,
    badge_status,
    course_decider,
    listing_decider,
)
from cpd_events.catalogue_events import (
    CourseBadged,
    CourseBadgeRevoked,
    CourseListed,
    CourseRetired,
    CourseUpdated,
    ProviderDeactivated,
    ProviderRegistered,
)
from cpd_events.decider import Rule, RuleBroken
from cpd_events.envelope import Event
from cpd_events.types import CareerStage, CourseKind, NpqType, ProviderKind, hours

TODAY = date(2025, 9, 1)
PROVIDER = ProviderRegistered(
    provider_id="ambition", name="Ambition Institute", kind=ProviderKind.NPQ_LEAD_PROVIDER
)
LIST = ListCourse(
    course_id="npqh-2025",
    provider_id="ambition",
    title="NPQ for Headship",
    kind=CourseKind.NPQ,
    npq_type=NpqType.NPQH,
    subjects=("leadership",),
    phases=("primary", "secondary"),
    career_stages=(CareerStage.SENIOR_LEADER,),
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
    npq_type=NpqType.NPQH,
    subjects=["leadership"],
    phases=["primary", "secondary"],
    career_stages=[CareerStage.SENIOR_LEADER],
    hours=Decimal("60.50"),
    price_pence=215_000,
    government_funded=True,
    delivery_mode="online",
    evidence_summary="Built on the Early Career Framework evidence base",
)
RETIRED = CourseRetired(course_id="npqh-2025", reason="replaced by the 2026 framework")
BADGED = CourseBadged(course_id="npqh-2025", level="gold", expires_on=date(2026, 8, 31))
REVOKED = CourseBadgeRevoked(course_id="npqh-2025", reason="evidence no longer meets the bar")


def refused(given: list[Event], command: CourseCommand) -> RuleBroken:
    with pytest.raises(RuleBroken) as caught:
        course_decider.run(given=given, command=command)
    return caught.value


def refused_listing(given: list[Event], command: ListCourse = LIST) -> RuleBroken:
    with pytest.raises(RuleBroken) as caught:
        listing_decider.run(given=given, command=command)
    return caught.value


# --- listing ----------------------------------------------------------------------------------


def test_a_course_is_listed_under_a_registered_provider() -> None:
    assert listing_decider.run(given=[PROVIDER], command=LIST) == [LISTED]


def test_listing_needs_a_registered_provider() -> None:
    error = refused_listing([])
    assert (error.rule, error.field) == (Rule.INVALID, "provider_id")


def test_a_deactivated_provider_lists_no_new_course() -> None:
    deactivated = ProviderDeactivated(provider_id="ambition", reason="contract ended")
    error = refused_listing([PROVIDER, deactivated])
    assert (error.rule, error.field) == (Rule.CONFLICT, "provider_id")


def test_a_course_id_is_listed_once() -> None:
    error = refused_listing([PROVIDER, LISTED])
    assert (error.rule, error.field) == (Rule.CONFLICT, "course_id")


def test_a_retired_course_id_is_not_listed_again() -> None:
    assert refused_listing([PROVIDER, LISTED, RETIRED]).rule == Rule.CONFLICT


def test_an_npq_names_its_type() -> None:
    command = ListCourse(**{**LIST.__dict__, "npq_type": None})
    error = refused_listing([PROVIDER], command)
    assert (error.rule, error.field) == (Rule.INVALID, "npq_type")


def test_only_an_npq_has_an_npq_type() -> None:
    command = ListCourse(**{**LIST.__dict__, "kind": CourseKind.COACHING})
    error = refused_listing([PROVIDER], command)
    assert (error.rule, error.field) == (Rule.INVALID, "npq_type")


def test_a_course_of_another_kind_is_listed_without_npq_type() -> None:
    command = ListCourse(
        course_id="inset-1",
        provider_id="ambition",
        title="Adaptive teaching INSET",
        kind=CourseKind.INSET,
        hours=hours(3),
        price_pence=0,
    )
    [listed] = listing_decider.run(given=[PROVIDER], command=command)
    assert isinstance(listed, CourseListed)
    assert (listed.kind, listed.npq_type, listed.career_stages) == (CourseKind.INSET, None, [])


# --- updating ---------------------------------------------------------------------------------


def test_an_update_records_only_what_changes() -> None:
    command = UpdateCourse(
        course_id="npqh-2025",
        title="NPQ for Headship",  # as it is
        subjects=("leadership", "curriculum"),
        career_stages=(CareerStage.MIDDLE_LEADER, CareerStage.SENIOR_LEADER),
        hours=hours("60.5"),  # as it is
        price_pence=0,
        government_funded=True,  # as it is
    )
    then = course_decider.run(given=[LISTED], command=command)
    assert then == [
        CourseUpdated(
            course_id="npqh-2025",
            subjects=["leadership", "curriculum"],
            career_stages=[CareerStage.MIDDLE_LEADER, CareerStage.SENIOR_LEADER],
            price_pence=0,
        )
    ]


def test_an_update_that_changes_nothing_writes_nothing() -> None:
    command = UpdateCourse(course_id="npqh-2025", phases=("primary", "secondary"))
    assert course_decider.run(given=[LISTED], command=command) == []


def test_an_update_names_something_to_change() -> None:
    assert refused([LISTED], UpdateCourse(course_id="npqh-2025")).rule == Rule.INVALID


def test_an_unknown_course_cannot_be_updated() -> None:
    error = refused([], UpdateCourse(course_id="npqh-2025", title="x"))
    assert error.rule == Rule.NOT_FOUND


def test_a_retired_course_cannot_be_updated() -> None:
    error = refused([LISTED, RETIRED], UpdateCourse(course_id="npqh-2025", title="NPQH"))
    assert error.rule == Rule.CONFLICT


# --- retiring ---------------------------------------------------------------------------------


def test_a_listed_course_is_retired() -> None:
    command = RetireCourse(course_id="npqh-2025", reason="replaced by the 2026 framework")
    assert course_decider.run(given=[LISTED], command=command) == [RETIRED]


def test_an_unknown_course_cannot_be_retired() -> None:
    assert refused([], RetireCourse(course_id="npqh-2025")).rule == Rule.NOT_FOUND


def test_a_course_is_retired_once() -> None:
    assert refused([LISTED, RETIRED], RetireCourse(course_id="npqh-2025")).rule == Rule.CONFLICT


# --- badging ----------------------------------------------------------------------------------


def badge(expires_on: date) -> BadgeCourse:
    return BadgeCourse(course_id="npqh-2025", level="gold", expires_on=expires_on, today=TODAY)


def test_a_listed_course_is_badged_until_a_future_date() -> None:
    assert course_decider.run(given=[LISTED], command=badge(date(2026, 8, 31))) == [BADGED]


def test_a_badge_can_be_renewed() -> None:
    given = [LISTED, CourseBadged(course_id="npqh-2025", level="silver", expires_on=TODAY)]
    then = course_decider.run(given=given, command=badge(date(2027, 8, 31)))
    assert then == [CourseBadged(course_id="npqh-2025", level="gold", expires_on=date(2027, 8, 31))]


@pytest.mark.parametrize("expires_on", [TODAY, date(2025, 8, 31)])
def test_a_badge_must_expire_after_today(expires_on: date) -> None:
    error = refused([LISTED], badge(expires_on))
    assert (error.rule, error.field) == (Rule.INVALID, "expires_on")


def test_an_unknown_course_cannot_be_badged() -> None:
    assert refused([], badge(date(2026, 8, 31))).rule == Rule.NOT_FOUND


def test_a_retired_course_cannot_be_badged() -> None:
    assert refused([LISTED, RETIRED], badge(date(2026, 8, 31))).rule == Rule.CONFLICT


# --- revoking a badge -------------------------------------------------------------------------


def revoke(today: date = TODAY, reason: str = REVOKED.reason) -> RevokeBadge:
    return RevokeBadge(course_id="npqh-2025", reason=reason, today=today)


def test_a_valid_badge_is_revoked_with_a_reason() -> None:
    assert course_decider.run(given=[LISTED, BADGED], command=revoke()) == [REVOKED]


def test_a_badge_is_revoked_on_its_last_valid_day() -> None:
    assert course_decider.run(given=[LISTED, BADGED], command=revoke(BADGED.expires_on))


def test_revoking_needs_a_reason() -> None:
    error = refused([LISTED, BADGED], revoke(reason=" "))
    assert (error.rule, error.field) == (Rule.INVALID, "reason")


def test_an_unbadged_course_has_no_badge_to_revoke() -> None:
    assert refused([LISTED], revoke()).rule == Rule.CONFLICT


def test_a_badge_is_revoked_once() -> None:
    assert refused([LISTED, BADGED, REVOKED], revoke()).rule == Rule.CONFLICT


def test_a_lapsed_badge_is_not_revoked() -> None:
    error = refused([LISTED, BADGED], revoke(BADGED.expires_on + timedelta(days=1)))
    assert error.rule == Rule.CONFLICT


def test_an_unknown_course_has_no_badge_to_revoke() -> None:
    assert refused([], revoke()).rule == Rule.NOT_FOUND


def test_a_retired_course_changes_no_more() -> None:
    assert refused([LISTED, BADGED, RETIRED], revoke()).rule == Rule.CONFLICT


# --- the badge's status, computed with today's date (no event marks a lapse) ------------------


def status(given: list[Event], today: date) -> BadgeStatus:
    course = course_decider.fold(given)
    assert course is not None
    return badge_status(course, today)


def test_a_badge_is_valid_through_its_expiry_date_then_lapses() -> None:
    assert status([LISTED], TODAY) == BadgeStatus.NONE
    assert status([LISTED, BADGED], TODAY) == BadgeStatus.BADGED
    assert status([LISTED, BADGED], BADGED.expires_on) == BadgeStatus.BADGED
    assert status([LISTED, BADGED], BADGED.expires_on + timedelta(days=1)) == BadgeStatus.LAPSED
    assert status([LISTED, BADGED, REVOKED], TODAY) == BadgeStatus.REVOKED
    assert status([LISTED, BADGED, REVOKED, BADGED], TODAY) == BadgeStatus.BADGED


# --- state ------------------------------------------------------------------------------------


def test_the_course_state_follows_its_stream() -> None:
    course = course_decider.fold(
        [
            LISTED,
            CourseUpdated(
                course_id="npqh-2025",
                title="NPQH",
                price_pence=200_000,
                phases=["secondary"],
                career_stages=[CareerStage.MIDDLE_LEADER],
                government_funded=False,
            ),
            BADGED,
        ]
    )
    assert course is not None
    assert (course.title, course.price_pence, course.hours) == ("NPQH", 200_000, Decimal("60.50"))
    assert (course.phases, course.career_stages) == (("secondary",), (CareerStage.MIDDLE_LEADER,))
    assert course.government_funded is False
    assert course.badge == Badge(level="gold", expires_on=date(2026, 8, 31))
    assert not course.retired

    course = course_decider.fold([LISTED, REVOKED, RETIRED])
    assert course is not None
    assert (course.badge, course.badge_revoked) == (None, True)
    assert (course.retired, course.retirement_reason) == (True, "replaced by the 2026 framework")
