"""Push and live: signed webhooks to a real HTTP receiver with retries and replay, and
server-sent events through a real HTTP server, resumed with Last-Event-ID."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
import pytest

from cpd_eventstore.db import Pool
from cpd_platform.testing import eventually
from reporting.feeds import (
    DeliverySettings,
    FeedSettings,
    asyncapi_document,
    issue_credential,
    run_webhook_deliveries,
    sign,
    verify_signature,
)
from reporting.feeds.cursor import START
from reporting.feeds.webhooks import create_webhook, list_webhooks, replay_webhook

from .test_feeds_support import (
    SCHOOL_A,
    TRUST_A,
    Streams,
    app_for,
    apply,
    hours_logged,
    migrated,
    read_all,
    serving,
    settled,
    two_trusts,
)

SECRET = "whsec_test"


# --- signatures (no infrastructure) -----------------------------------------------------------


def test_a_signature_verifies_only_for_the_same_secret_body_and_a_recent_time() -> None:
    body = b'{"items":[]}'
    now = time.time()
    header = sign(SECRET, body, int(now))

    assert verify_signature(SECRET, header, body)
    assert not verify_signature(SECRET, header, body + b" ")
    assert not verify_signature("whsec_other", header, body)
    assert not verify_signature(SECRET, header, body, now=now + 301)
    assert verify_signature(SECRET, header, body, tolerance_s=600, now=now + 301)
    assert not verify_signature(SECRET, None, body)
    assert not verify_signature(SECRET, "v1=abc", body)
    assert not verify_signature(SECRET, "t=x,v1=abc", body)
    rotated = f"{header},v1={'0' * 64}"
    assert verify_signature(SECRET, rotated, body)


def test_the_asyncapi_document_describes_the_feed_item() -> None:
    document = asyncapi_document()
    assert document["asyncapi"].startswith("3.")
    item = document["components"]["schemas"]["FeedItem"]
    assert {"cursor", "event_id", "event_type", "data"} <= set(item["properties"])
    json.dumps(document)  # serialisable as is


def test_backoff_doubles_up_to_the_cap() -> None:
    settings = DeliverySettings(backoff_base_s=10, backoff_cap_s=3600)
    delays = [settings.backoff(n) for n in (1, 2, 3, 12)]
    assert 10 <= delays[0] <= 11
    assert 20 <= delays[1] <= 22
    assert 40 <= delays[2] <= 44
    assert 3600 <= delays[3] <= 3960
    # retrying for a day before giving up: the default window
    assert DeliverySettings().give_up_after_s >= 24 * 3600


# --- a real receiver --------------------------------------------------------------------------


@dataclass
class Receiver:
    """An ASGI webhook receiver that answers 500 to the first ``fail`` requests."""

    fail: int = 0
    requests: list[tuple[dict[str, str], bytes, int]] = field(default_factory=list)

    @property
    def accepted(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body, status in self.requests if status == 200]

    async def __call__(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[dict[str, Any]]],
        send: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        status = 500 if self.fail > 0 else 200
        self.fail -= 1
        self.requests.append((headers, body, status))
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"ok" if status == 200 else b"boom"})


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


FAST = DeliverySettings(batch_size=3, concurrency=4, idle_poll_s=0.02, backoff_base_s=0.05)


@pytest.mark.integration
async def test_deliveries_are_signed_ordered_retried_and_replayed(db: Pool) -> None:
    receiver = Receiver(fail=2)
    expected = [str(i.event_id) for i in await read_all(db, TRUST_A)]
    assert len(expected) == 8
    async with serving(receiver) as url:
        hook = await create_webhook(db, TRUST_A, f"{url}/hook")
        stop = asyncio.Event()
        # two workers, as two reporting instances would run them
        workers = [asyncio.create_task(run_webhook_deliveries(db, stop, FAST)) for _ in range(2)]
        try:

            def delivered_ids() -> list[str]:
                return [i["event_id"] for body in receiver.accepted for i in body["items"]]

            async def got() -> list[str]:
                return delivered_ids()

            await eventually(got, lambda ids: len(ids) >= len(expected))
            await asyncio.sleep(0.2)  # nothing more should come
            assert delivered_ids() == expected  # in order, none twice

            for headers, body, _ in receiver.requests:
                assert verify_signature(hook.secret, headers["x-cpd-signature"], body)
                assert headers["x-cpd-delivery"] == json.loads(body)["delivery_id"]
            # the failed batch was retried as the same delivery, with the same items
            first, second, third = (json.loads(b) for _, b, _ in receiver.requests[:3])
            assert first == second == third
            assert [s for _, _, s in receiver.requests[:3]] == [500, 500, 200]
            assert len(first["items"]) == 3

            [info] = await list_webhooks(db, TRUST_A)
            assert info.status == "active"
            assert info.failures == 0
            assert info.delivered == 8
            assert info.last_delivered_cursor == receiver.accepted[-1]["next_cursor"]
            outcomes = [a.outcome for a in reversed(info.recent_attempts)]
            assert outcomes == ["failed", "failed", "delivered", "delivered", "delivered"]
            assert info.recent_attempts[-1].http_status == 500
            assert "HTTP 500" in (info.recent_attempts[-1].error or "")

            # a replay from the start sends everything again, in order
            count = len(receiver.accepted)
            assert await replay_webhook(db, TRUST_A, hook.id, None) is True
            [info] = await list_webhooks(db, TRUST_A)  # resume without a cursor keeps it
            assert info.delivered == 8
            assert await replay_webhook(db, TRUST_A, hook.id, START)

            async def replayed() -> list[str]:
                return [i["event_id"] for body in receiver.accepted[count:] for i in body["items"]]

            await eventually(replayed, lambda ids: len(ids) >= len(expected))
            assert await replayed() == expected
        finally:
            stop.set()
            await asyncio.gather(*workers)


@pytest.mark.integration
async def test_a_receiver_that_keeps_failing_is_suspended_after_the_retry_window(
    db: Pool,
) -> None:
    receiver = Receiver(fail=1000)
    settings = DeliverySettings(
        batch_size=100, idle_poll_s=0.02, backoff_base_s=0.05, give_up_after_s=0.3
    )
    async with serving(receiver) as url:
        hook = await create_webhook(db, TRUST_A, f"{url}/hook")
        stop = asyncio.Event()
        worker = asyncio.create_task(run_webhook_deliveries(db, stop, settings))
        try:

            async def status() -> str:
                return (await list_webhooks(db, TRUST_A))[0].status

            await eventually(status, lambda s: s == "suspended")
            [info] = await list_webhooks(db, TRUST_A)
            assert info.next_attempt_at is None
            assert info.failures >= 2
            assert info.delivered == 0
            tried = len(receiver.requests)
            await asyncio.sleep(0.2)
            assert len(receiver.requests) == tried  # suspended: no more attempts

            receiver.fail = 0
            await replay_webhook(db, TRUST_A, hook.id, None)  # resume where it stopped

            async def delivered() -> int:
                return (await list_webhooks(db, TRUST_A))[0].delivered

            await eventually(delivered, lambda n: n == 8)
        finally:
            stop.set()
            await worker


# --- server-sent events -----------------------------------------------------------------------


async def read_events(lines: AsyncIterator[str], count: int) -> list[tuple[str, dict[str, Any]]]:
    """The next ``count`` events (id, data) of an SSE stream's lines; comments are skipped."""
    events: list[tuple[str, dict[str, Any]]] = []
    event_id, data = "", ""
    async for line in lines:
        if line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and data:
            events.append((event_id, json.loads(data)))
            event_id, data = "", ""
            if len(events) == count:
                return events
    raise AssertionError("the stream ended")


@pytest.mark.integration
async def test_server_sent_events_resume_from_the_last_event_id_and_go_live(db: Pool) -> None:
    key = (await issue_credential(db, TRUST_A, "sse")).api_key
    expected = [str(i.event_id) for i in await read_all(db, TRUST_A)]
    app = app_for(db, FeedSettings(sse_poll_s=0.02, sse_keepalive_s=0.05))
    headers = {"Authorization": f"Bearer {key}"}
    async with serving(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as client:
        async with client.stream("GET", f"/trusts/{TRUST_A}/feed/stream", headers=headers) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            first = await read_events(r.aiter_lines(), 3)
        last_id = first[-1][0]
        assert [d["event_id"] for _, d in first] == expected[:3]
        assert all(event_id == d["cursor"] for event_id, d in first)

        resumed = headers | {"Last-Event-ID": last_id}
        async with client.stream("GET", f"/trusts/{TRUST_A}/feed/stream", headers=resumed) as r:
            lines = r.aiter_lines()
            rest = await read_events(lines, len(expected) - 3)
            assert [d["event_id"] for _, d in rest] == expected[3:]

            # live: an event ingested now arrives on the open stream
            streams = Streams()
            new = streams(
                "teacher-7777777",
                hours_logged("live", SCHOOL_A, date(2025, 11, 1)),
                date(2025, 11, 1),
            )
            await apply(db, [new])
            [(_, live)] = await read_events(lines, 1)
            assert live["event_id"] == str(new.envelope.event_id)

            # an idle stream sends keep-alive comments
            comment = await asyncio.wait_for(anext(lines), 5)
            while comment == "":
                comment = await asyncio.wait_for(anext(lines), 5)
            assert comment.startswith(":")

        other = (await issue_credential(db, "9999", "other")).api_key
        refused = await client.get(
            f"/trusts/{TRUST_A}/feed/stream", headers={"Authorization": f"Bearer {other}"}
        )
        assert refused.status_code == 403
