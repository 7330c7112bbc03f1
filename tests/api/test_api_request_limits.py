"""A malformed or oversized request is refused with problem+json naming the field: bodies that
are not JSON (or not UTF-8), bodies over the size limit (413), NUL characters, pages too large.

The conventions are checked on a bare app (no infrastructure), then on the four services as
they run (their paged routes, their body limit through a real HTTP server).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI, Query
from pydantic import BaseModel

from cpd_events.types import Name
from cpd_platform.http import (
    MAX_OFFSET,
    MAX_PAGE_SIZE,
    PROBLEM_JSON,
    PROBLEM_RESPONSES,
    Offset,
    install_error_handlers,
    install_request_context,
    install_request_limits,
)
from cpd_platform.launcher import Platform

LIMIT = 250_000


class Greeting(BaseModel):
    name: Name


def bare_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    install_request_limits(app, LIMIT)
    install_request_context(app)

    @app.post("/greetings", responses=PROBLEM_RESPONSES)
    async def greet(body: Greeting) -> dict[str, str]:
        return {"hello": body.name}

    @app.get("/greetings/{who}", responses=PROBLEM_RESPONSES)
    async def find(
        who: str,
        q: str | None = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 10,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        return {"who": who, "q": q, "limit": limit, "offset": offset}

    return app


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=bare_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def refused(response: httpx.Response, status: int, field: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert [error["field"] for error in body["errors"]] == [field], body
    return body


async def test_a_body_that_is_not_json_names_the_body(http: httpx.AsyncClient) -> None:
    headers = {"content-type": "application/json"}
    cut_short = await http.post("/greetings", content=b'{"name": ', headers=headers)
    body = refused(cut_short, 422, "body")
    assert body["errors"][0]["message"].startswith("not valid JSON")
    refused(await http.post("/greetings", content=b"\xff\xfe\x00", headers=headers), 422, "body")
    refused(await http.post("/greetings", json=[1, 2]), 422, "body")
    deep = b"[" * 100_000 + b"]" * 100_000  # deeper than the parser recurses: still bad input
    refused(await http.post("/greetings", content=deep, headers=headers), 422, "body")
    assert (await http.post("/greetings", json={"name": "Ada"})).json() == {"hello": "Ada"}


async def test_a_body_over_the_limit_is_413_naming_the_body(http: httpx.AsyncClient) -> None:
    big = {"name": "x" * LIMIT}
    body = refused(await http.post("/greetings", json=big), 413, "body")
    assert str(LIMIT) in body["detail"]

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it is read
        yield b'{"name": "'
        for _ in range(LIMIT // 100):
            yield b"x" * 100
        yield b'"}'

    headers = {"content-type": "application/json"}
    response = await http.post("/greetings", content=chunks(), headers=headers)
    refused(response, 413, "body")
    assert response.headers["x-correlation-id"]  # refused inside the request context
    # a route that takes no body is refused the same, from the Content-Length alone
    refused(await http.request("GET", "/greetings/ada", content=b"x" * (LIMIT + 1)), 413, "body")
    assert (await http.post("/greetings", json={"name": "x" * 200})).status_code == 200


async def test_nul_characters_are_refused_naming_the_field(http: httpx.AsyncClient) -> None:
    refused(await http.get("/greetings/ada", params={"q": "a\x00b"}), 422, "q")
    refused(await http.get("/greetings/a%00da"), 422, "path")
    refused(await http.post("/greetings", json={"name": "a\x00b"}), 422, "name")
    assert (await http.get("/greetings/ada", params={"q": "ab"})).json()["q"] == "ab"


async def test_pages_are_bounded_naming_the_parameter(http: httpx.AsyncClient) -> None:
    refused(await http.get("/greetings/ada", params={"limit": MAX_PAGE_SIZE + 1}), 422, "limit")
    refused(await http.get("/greetings/ada", params={"offset": MAX_OFFSET + 1}), 422, "offset")
    refused(await http.get("/greetings/ada", params={"offset": 10**30}), 422, "offset")
    found = await http.get("/greetings/ada", params={"limit": MAX_PAGE_SIZE, "offset": MAX_OFFSET})
    assert found.status_code == 200


def test_the_openapi_document_says_problem_json_and_413() -> None:
    document = bare_app().openapi()
    post = document["paths"]["/greetings"]["post"]["responses"]
    get = document["paths"]["/greetings/{who}"]["get"]["responses"]
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    for status in ("404", "409", "422", "503", "413"):
        assert post[status]["content"] == {PROBLEM_JSON: problem}, status
    assert "413" not in get  # no body, nothing to limit
    assert get["422"]["content"] == {PROBLEM_JSON: problem}
    assert "HTTPValidationError" not in document["components"]["schemas"]


# --- the services as they run ---------------------------------------------------------------

#: Every paged route of the services, with its page size parameter's bound.
PAGED: list[tuple[str, str, dict[str, Any], str]] = [
    ("catalogue", "/courses", {"limit": 201}, "limit"),
    ("catalogue", "/courses", {"offset": MAX_OFFSET + 1}, "offset"),
    ("entitlement", "/operators/schools-without-cpd-lead", {"limit": 1001}, "limit"),
    ("entitlement", "/operators/schools-without-cpd-lead", {"offset": 10**30}, "offset"),
    ("reporting", "/teachers/1234567/timeline", {"limit": 1001}, "limit"),
    ("reporting", "/teachers/1234567/timeline", {"after": 2**63}, "after"),
    ("reporting", "/analysts/datasets/teachers", {"limit": 1001}, "limit"),
    ("reporting", "/trusts/2044/feed", {"limit": 1001}, "limit"),
    *(
        (service, "/admin/dead-letters", {"limit": MAX_PAGE_SIZE + 1}, "limit")
        for service in ("entitlement", "catalogue", "mentoring", "reporting")
    ),
    ("mentoring", "/admin/dead-letters", {"status": "lost"}, "status.0"),
]


@pytest.mark.integration
@pytest.mark.e2e
@pytest.mark.slow
async def test_the_services_refuse_large_pages_and_bodies(api_platform: Platform) -> None:
    async with httpx.AsyncClient(timeout=30, headers=api_platform.operator_headers()) as http:
        for service, path, params, field in PAGED:
            response = await http.get(f"{api_platform.url(service)}{path}", params=params)
            refused(response, 422, field)
        for service in api_platform.ports:
            url = f"{api_platform.url(service)}/admin/republish"
            too_big = b'{"from_position": 0, "pad": "' + b"x" * (1024 * 1024) + b'"}'
            response = await http.post(url, content=too_big)
            body = refused(response, 413, "body")
            assert str(1024 * 1024) in body["detail"]
