"""The NPQ seed: DfE's course and lead-provider pairs become valid, idempotent HTTP commands."""

from __future__ import annotations

import json

import httpx

from catalogue.api import ListCourseRequest, RegisterProviderRequest
from catalogue.seed import NPQ_COURSES, commands, rows, seed_npq, slug
from cpd_events.catalogue_events import CourseListed
from cpd_events.types import NpqType


def test_the_data_file_ships_with_the_package_and_every_course_is_known() -> None:
    pairs = rows()
    assert len(pairs) == 69
    assert {identifier for identifier, _ in pairs} <= set(NPQ_COURSES)
    assert ("npq-headship", "Ambition Institute") in pairs


def test_every_npq_type_is_seeded() -> None:
    types = {course.npq_type for course in NPQ_COURSES.values()}
    assert types == {*NpqType, None}  # None: the Early Headship Coaching Offer


def test_the_commands_are_valid_requests_and_events() -> None:
    sent = commands()
    providers = [body for path, body in sent if path == "/providers"]
    courses = [body for path, body in sent if path == "/courses"]
    assert len(providers) == 7
    assert len(courses) == 69
    assert sent[: len(providers)] == [("/providers", body) for body in providers]  # first
    for body in providers:
        RegisterProviderRequest.model_validate(json.loads(json.dumps(body)))
    ids = [body["course_id"] for body in courses]
    assert len(set(ids)) == len(ids)
    assert "npq-headship-ambition-institute" in ids
    assert {body["provider_id"] for body in courses} == {body["provider_id"] for body in providers}
    for body in courses:
        wire = json.loads(json.dumps(body))
        ListCourseRequest.model_validate(wire)
        CourseListed.model_validate(wire)  # the NPQ type fits the kind
        assert (wire["price_pence"], wire["government_funded"]) == (0, True)


def test_slugs() -> None:
    assert slug("UCL Institute of Education") == "ucl-institute-of-education"
    assert slug("LLSE") == "llse"


def test_seeding_twice_finds_everything_there() -> None:
    seen: set[str] = set()

    def catalogue(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        key = body.get("course_id") or body["provider_id"]
        status = 409 if key in seen else 201
        seen.add(key)
        return httpx.Response(status, json={})

    with httpx.Client(transport=httpx.MockTransport(catalogue)) as client:
        first = seed_npq("http://catalogue", client)
        again = seed_npq("http://catalogue", client)
    assert (first.created, first.existing) == (76, 0)
    assert (again.created, again.existing) == (0, 76)
