"""The HTTP contract without infrastructure: the OpenAPI document and request validation
(which answers before any command runs, so nothing needs a database here)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from cpd_platform.http import PROBLEM_JSON
from cpd_platform.testing import operator_headers


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    monkeypatch.setenv("DATABASE_URL", "postgresql://unused/catalogue")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "unused:9092")
    from catalogue.main import build_app

    return build_app()  # not started: no connection is made


def test_the_openapi_document_lists_every_command_and_query(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    expected = {
        ("post", "/providers"),
        ("get", "/providers"),
        ("get", "/providers/{provider_id}"),
        ("post", "/providers/{provider_id}/update"),
        ("post", "/providers/{provider_id}/deactivate"),
        ("post", "/courses"),
        ("get", "/courses"),
        ("get", "/courses/{course_id}"),
        ("post", "/courses/{course_id}/update"),
        ("post", "/courses/{course_id}/retire"),
        ("post", "/courses/{course_id}/badge"),
        ("post", "/courses/{course_id}/badge/revoke"),
        ("get", "/courses/{course_id}/stats"),
        ("post", "/courses/{course_id}/cohorts"),
        ("get", "/courses/{course_id}/cohorts"),
        ("post", "/courses/{course_id}/feedback"),
        ("post", "/cohorts/{cohort_id}/bookings"),
        ("get", "/cohorts/{cohort_id}"),
    }
    assert expected <= {(method, path) for path, item in paths.items() for method in item}
    listing = app.openapi()["components"]["schemas"]["ListCourseRequest"]["properties"]
    assert {"npq_type", "career_stages", "government_funded"} <= set(listing)


@pytest.mark.parametrize(
    ("method", "path", "body", "fields"),
    [
        ("post", "/providers", {"provider_id": "a", "name": "A", "kind": "npq"}, {"kind"}),
        (
            "post",
            "/providers",
            {"provider_id": "a b", "name": "", "kind": "other"},
            {
                "provider_id",
                "name",
            },
        ),
        ("post", "/courses/c/update", {"price_pence": -1}, {"price_pence"}),
        ("post", "/courses/c/update", {"career_stages": ["guru"]}, {"career_stages.0"}),
        (
            "post",
            "/courses/c/cohorts",
            {"starts_on": "x", "ends_on": "2030-01-01", "capacity": 0},
            {
                "starts_on",
                "capacity",
            },
        ),
        ("post", "/cohorts/h/bookings", {"trn": "1234567", "school_urn": "1"}, {"school_urn"}),
        (
            "post",
            "/courses/c/feedback",
            {"trn": "1234567", "rating": 0, "impact_note": "x"},
            {"rating"},
        ),
        (
            "get",
            "/courses?max_price_pence=-1&career_stage=guru",
            None,
            {
                "max_price_pence",
                "career_stage",
            },
        ),
        ("get", "/providers?kind=npq", None, {"kind"}),
    ],
)
async def test_invalid_input_is_a_problem_naming_the_field(
    app: FastAPI, method: str, path: str, body: dict[str, object] | None, fields: set[str]
) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://catalogue",
        headers=operator_headers(),
    ) as http:
        response = await http.request(method, path, json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    assert {error["field"] for error in response.json()["errors"]} == fields
