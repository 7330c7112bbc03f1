"""The feed routes over HTTP: keys, pull pages, bad cursors, webhook management, OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest

from cpd_eventstore.db import Pool
from cpd_platform.testing import operator_headers
from reporting.feeds import issue_credential, list_credentials, revoke_credential
from reporting.feeds.cursor import Cursor
from reporting.feeds.webhooks import InvalidWebhookUrl, validate_webhook_url

from .test_feeds_support import (
    SCHOOL_A,
    TRUST_A,
    TRUST_B,
    Streams,
    app_for,
    apply,
    hours_logged,
    migrated,
    settled,
    two_trusts,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def db(pool: Pool) -> Pool:
    await migrated(pool)
    streams = Streams()
    await apply(pool, two_trusts(streams))
    await apply(
        pool,
        [
            streams(
                "teacher-1234567",
                hours_logged(f"h{n}", SCHOOL_A, date(2025, 10, n)),
                date(2025, 10, n),
            )
            for n in range(1, 6)
        ],
    )
    await settled(pool)
    return pool


@pytest.fixture
async def client(db: Pool) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app_for(db)), base_url="http://reporting"
    ) as found:
        yield found


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_operators_issue_list_and_revoke_keys_whose_secret_is_shown_once(
    client: httpx.AsyncClient, db: Pool
) -> None:
    operator = operator_headers()
    issued = await client.post(
        f"/admin/trusts/{TRUST_A}/credentials", json={"label": "finance"}, headers=operator
    )
    assert issued.status_code == 201
    key = issued.json()["api_key"]
    listed = await client.get(f"/admin/trusts/{TRUST_A}/credentials", headers=operator)

    assert listed.status_code == 200
    [info] = listed.json()
    assert info["label"] == "finance"
    assert "api_key" not in info
    assert key not in listed.text
    stored = await db.fetchval("select secret_sha256 from reporting_feed.credentials")
    assert key.encode() not in bytes(stored)  # only a hash is kept

    ok = await client.get(f"/trusts/{TRUST_A}/feed", headers=bearer(key))
    revoked = await client.delete(
        f"/admin/trusts/{TRUST_A}/credentials/{info['key_id']}", headers=operator
    )
    after = await client.get(f"/trusts/{TRUST_A}/feed", headers=bearer(key))
    again = await client.delete(
        f"/admin/trusts/{TRUST_A}/credentials/{info['key_id']}", headers=operator
    )

    assert ok.status_code == 200
    assert revoked.status_code == 204
    assert after.status_code == 401
    assert again.status_code == 404


async def test_the_python_functions_the_cli_calls(db: Pool) -> None:
    issued = await issue_credential(db, TRUST_B, "cli")
    [listed] = await list_credentials(db, TRUST_B)
    assert listed.key_id == issued.key_id
    assert listed.revoked_at is None
    assert not await revoke_credential(db, issued.key_id, trust_id=TRUST_A)  # not A's key
    assert await revoke_credential(db, issued.key_id)
    [listed] = await list_credentials(db, TRUST_B)
    assert listed.revoked_at is not None


async def test_a_key_reads_only_its_own_trusts_feed(client: httpx.AsyncClient, db: Pool) -> None:
    key_a = (await issue_credential(db, TRUST_A, "a")).api_key
    key_b = (await issue_credential(db, TRUST_B, "b")).api_key

    none = await client.get(f"/trusts/{TRUST_A}/feed")
    wrong = await client.get(f"/trusts/{TRUST_A}/feed", headers=bearer(key_a + "x"))
    garbage = await client.get(f"/trusts/{TRUST_A}/feed", headers=bearer("not-a-key"))
    other = await client.get(f"/trusts/{TRUST_A}/feed", headers=bearer(key_b))
    other_hooks = await client.get(f"/trusts/{TRUST_A}/webhooks", headers=bearer(key_b))
    own = await client.get(f"/trusts/{TRUST_A}/feed", headers={"X-API-Key": key_a})
    own_b = await client.get(f"/trusts/{TRUST_B}/feed", headers=bearer(key_b))

    for response in (none, wrong, garbage):
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
    assert other.status_code == 403
    assert other_hooks.status_code == 403
    assert own.status_code == 200
    assert len(own.json()["items"]) == 8
    assert [i["event_type"] for i in own_b.json()["items"]] == [
        "TrustRegistered",
        "SchoolJoinedTrust",
    ]


async def test_pages_follow_the_cursor_to_the_end(client: httpx.AsyncClient, db: Pool) -> None:
    key = (await issue_credential(db, TRUST_A, "a")).api_key
    seen: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        params = {"limit": "3"} | ({"after": after} if after else {})
        page = (
            await client.get(f"/trusts/{TRUST_A}/feed", params=params, headers=bearer(key))
        ).json()
        seen.extend(i["event_id"] for i in page["items"])
        after = page["next_cursor"]
        pages += 1
        if not page["has_more"]:
            break
    empty = (
        await client.get(f"/trusts/{TRUST_A}/feed", params={"after": after}, headers=bearer(key))
    ).json()

    assert pages == 3
    assert len(seen) == len(set(seen)) == 8
    assert empty == {"items": [], "next_cursor": after, "has_more": False}
    first = (await client.get(f"/trusts/{TRUST_A}/feed", headers=bearer(key))).json()["items"][3]
    assert first["event_type"] == "HoursLogged"
    assert set(first) == {
        "cursor",
        "event_id",
        "event_type",
        "schema_version",
        "stream_id",
        "stream_version",
        "occurred_at",
        "recorded_at",
        "school_urn",
        "actor",
        "correlation_id",
        "data",
    }


async def test_a_bad_cursor_or_limit_is_refused_naming_the_field(
    client: httpx.AsyncClient, db: Pool
) -> None:
    key = (await issue_credential(db, TRUST_A, "a")).api_key

    bad = await client.get(f"/trusts/{TRUST_A}/feed", params={"after": "zzz"}, headers=bearer(key))
    big = await client.get(f"/trusts/{TRUST_A}/feed", params={"limit": "5000"}, headers=bearer(key))
    stream = await client.get(
        f"/trusts/{TRUST_A}/feed/stream", headers=bearer(key) | {"Last-Event-ID": "nope"}
    )

    assert bad.status_code == 400
    assert bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["errors"][0]["field"] == "after"
    assert big.status_code == 422
    assert stream.status_code == 400
    assert stream.json()["errors"][0]["field"] == "Last-Event-ID"


async def test_webhook_subscriptions_are_managed_by_the_trust(
    client: httpx.AsyncClient, db: Pool
) -> None:
    key = (await issue_credential(db, TRUST_A, "a")).api_key
    created = await client.post(
        f"/trusts/{TRUST_A}/webhooks",
        json={"url": "https://hooks.example.org/cpd"},
        headers=bearer(key),
    )
    assert created.status_code == 201
    hook = created.json()
    assert hook["secret"].startswith("whsec_")

    listed = await client.get(f"/trusts/{TRUST_A}/webhooks", headers=bearer(key))
    [info] = listed.json()
    assert info["status"] == "active"
    assert info["failures"] == 0
    assert hook["secret"] not in listed.text
    cursor = Cursor(5, 7).encode()
    replayed = await client.post(
        f"/trusts/{TRUST_A}/webhooks/{hook['id']}/replay",
        json={"after": cursor},
        headers=bearer(key),
    )
    assert replayed.json()["last_delivered_cursor"] == cursor
    bad_replay = await client.post(
        f"/trusts/{TRUST_A}/webhooks/{hook['id']}/replay", json={"after": "x"}, headers=bearer(key)
    )
    assert bad_replay.status_code == 400
    bad_url = await client.post(
        f"/trusts/{TRUST_A}/webhooks", json={"url": "ftp://x.org/"}, headers=bearer(key)
    )
    assert bad_url.status_code == 422
    assert bad_url.json()["errors"][0]["field"] == "url"

    deleted = await client.delete(f"/trusts/{TRUST_A}/webhooks/{hook['id']}", headers=bearer(key))
    gone = await client.get(f"/trusts/{TRUST_A}/webhooks/{hook['id']}", headers=bearer(key))
    assert deleted.status_code == 204
    assert gone.status_code == 404


def test_webhook_addresses_inside_are_refused_unless_allowed() -> None:
    assert validate_webhook_url("https://hooks.example.org/x") == "https://hooks.example.org/x"
    for url in (
        "http://hooks.example.org/x",
        "https://127.0.0.1/x",
        "https://10.1.2.3/x",
        "https://[::1]/x",
        "https://localhost/x",
        "https://user:pw@hooks.example.org/x",
        "file:///etc/passwd",
    ):
        with pytest.raises(InvalidWebhookUrl):
            validate_webhook_url(url)
    assert validate_webhook_url("http://127.0.0.1:9/x", allow_private=True, require_https=False)


async def test_openapi_describes_the_feed_routes(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    feed = spec["paths"]["/trusts/{trust_id}/feed"]["get"]
    stream = spec["paths"]["/trusts/{trust_id}/feed/stream"]["get"]
    admin = spec["paths"]["/admin/trusts/{trust_id}/credentials"]["post"]

    assert feed["tags"] == ["trust feeds"]
    assert {"400", "401", "403"} <= set(feed["responses"])
    assert feed["security"]
    assert "text/event-stream" in stream["responses"]["200"]["content"]
    assert admin["tags"] == ["operations"]
    assert "FeedItem" in spec["components"]["schemas"]
    assert {"HTTPBearer", "APIKeyHeader"} <= set(spec["components"]["securitySchemes"])
