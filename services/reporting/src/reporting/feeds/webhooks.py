"""Push: a trust's webhook subscriptions and the worker that delivers its feed to them.

Deliveries
    A delivery POSTs the next items of the trust's feed after the subscription's cursor (at most
    ``batch_size``), in feed order, as a :class:`~reporting.feeds.models.WebhookDelivery` JSON
    body, with headers ``X-CPD-Delivery: <delivery id>`` and
    ``X-CPD-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``. A 2xx
    answer moves the cursor past the batch; anything else (or no answer within ``timeout_s``)
    is a failure: the same batch (same delivery id, same items) is tried again after a backoff
    that doubles from ``backoff_base_s`` up to ``backoff_cap_s``, so nothing is ever skipped and
    nothing after a failing batch is sent before it. The subscription shows ``failing`` while it
    retries; only once it has failed continuously for ``give_up_after_s`` (a day by default,
    retries included) is it ``suspended``: the trust sees why (``last_error``, the attempts
    log) and starts it again with a replay or a resume.

Several instances
    Every reporting instance may run :func:`run_webhook_deliveries`. A subscription is claimed
    with ``for update skip locked`` and a lease (a token and an expiry longer than an HTTP
    attempt), in a short transaction: the HTTP call runs outside any transaction, so it never
    holds back the gap-safe readers. A result is written only while the lease is still ours;
    a replay or a deletion during an attempt drops the lease, so a late answer cannot move a
    rewound cursor.

Secrets
    The signing secret must be known to sign, so it is stored as given (API keys, by contrast,
    are stored hashed); keep the database encrypted at rest. Receivers check signatures with
    :func:`verify_signature`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import random
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit
from uuid import UUID, uuid4

import httpx
import structlog
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily, Metric

from cpd_eventstore.db import Pool, Row
from cpd_platform.metrics import register_collector, register_scrape_source
from cpd_platform.runtime import ServiceRuntime
from reporting.feeds.cursor import Cursor, decode_cursor
from reporting.feeds.models import (
    DeliveryAttempt,
    WebhookCreated,
    WebhookDelivery,
    WebhookInfo,
)
from reporting.feeds.reader import read_feed

log = structlog.get_logger(__name__)

SIGNATURE_HEADER = "X-CPD-Signature"
DELIVERY_HEADER = "X-CPD-Delivery"
USER_AGENT = "cpd-trust-feeds/1"

#: Failed delivery attempts (``reason``: ``http_status`` for a non-2xx answer, else ``transport``)
DELIVERY_FAILURES = Counter(
    "webhook_delivery_failures",
    "Webhook delivery attempts that failed",
    ["reason"],
    registry=None,
)
register_collector(DELIVERY_FAILURES, service="reporting")


# --- signatures -------------------------------------------------------------------------------


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The ``X-CPD-Signature`` value of ``body`` sent at ``timestamp`` (unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(
    secret: str,
    header: str | None,
    body: bytes,
    tolerance_s: float = 300,
    now: float | None = None,
) -> bool:
    """Whether ``header`` (``X-CPD-Signature``) signs ``body`` with ``secret``, recently.

    For receivers: compute on the raw body bytes as received. A timestamp more than
    ``tolerance_s`` away from now is refused, so a captured request cannot be replayed later.
    Several ``v1=`` values are accepted (one matching is enough).
    """
    if not header:
        return False
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            with contextlib.suppress(ValueError):
                timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        return False
    expected = sign(secret, body, timestamp).rpartition("v1=")[2]
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)


# --- subscriptions ----------------------------------------------------------------------------


class InvalidWebhookUrl(ValueError):
    pass


def validate_webhook_url(url: str, allow_private: bool = False, require_https: bool = True) -> str:
    """Refuse addresses a trust must not make us call: not http(s), or (unless allowed) plain
    http, or a host that is this machine or a private network. Names are not resolved here: a
    network policy on egress is the real guard against names pointing inside."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidWebhookUrl("must be an http(s) address with a host")
    if require_https and parts.scheme != "https":
        raise InvalidWebhookUrl("must be an https address")
    if parts.username or parts.password:
        raise InvalidWebhookUrl("must not carry credentials")
    if not allow_private:
        host = parts.hostname.lower()
        if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
            raise InvalidWebhookUrl("must not point at a local or internal host")
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return url
        if not address.is_global:
            raise InvalidWebhookUrl("must not point at a private, loopback or reserved address")
    return url


_INFO_COLUMNS = """id, trust_id, url, status, cursor_tx, cursor_position, delivered, failures,
    failing_since, next_attempt_at, last_attempt_at, last_delivered_at, last_error, created_at"""


async def create_webhook(
    pool: Pool, trust_id: str, url: str, after: Cursor = Cursor(0, 0)
) -> WebhookCreated:
    """Subscribe ``url`` to the trust's feed from after ``after``; the secret is shown once."""
    webhook_id = uuid4()
    secret = f"whsec_{secrets.token_urlsafe(32)}"
    await pool.execute(
        """insert into reporting_feed.webhooks (id, trust_id, url, secret, cursor_tx,
               cursor_position)
           values ($1, $2, $3, $4, $5::xid8, $6)""",
        webhook_id,
        trust_id,
        url,
        secret,
        after.tx_id,
        after.position,
    )
    return WebhookCreated(id=webhook_id, trust_id=trust_id, url=url, secret=secret)


def _info(row: Row, attempts: Sequence[Row]) -> WebhookInfo:
    return WebhookInfo(
        id=row["id"],
        trust_id=row["trust_id"],
        url=row["url"],
        status=row["status"],
        last_delivered_cursor=Cursor(row["cursor_tx"], row["cursor_position"]).encode(),
        delivered=row["delivered"],
        failures=row["failures"],
        failing_since=row["failing_since"],
        next_attempt_at=None if row["status"] == "suspended" else row["next_attempt_at"],
        last_attempt_at=row["last_attempt_at"],
        last_delivered_at=row["last_delivered_at"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        recent_attempts=[
            DeliveryAttempt(**{k: a[k] for k in DeliveryAttempt.model_fields}) for a in attempts
        ],
    )


async def list_webhooks(
    pool: Pool, trust_id: str, webhook_id: UUID | None = None, attempts: int = 10
) -> list[WebhookInfo]:
    """The trust's subscriptions with their delivery status and latest attempts."""
    rows = await pool.fetch(
        f"""select {_INFO_COLUMNS} from reporting_feed.webhooks
             where trust_id = $1 and ($2::uuid is null or id = $2) order by created_at, id""",
        trust_id,
        webhook_id,
    )
    recent = await pool.fetch(
        """select a.* from reporting_feed.webhooks w
             cross join lateral (
                select webhook_id, delivery_id, attempt, items, from_cursor, to_cursor, outcome,
                       http_status, error, duration_ms, attempted_at
                  from reporting_feed.webhook_deliveries d
                 where d.webhook_id = w.id order by d.id desc limit $3) a
            where w.trust_id = $1 and ($2::uuid is null or w.id = $2)""",
        trust_id,
        webhook_id,
        attempts,
    )
    by_webhook: dict[UUID, list[Row]] = {}
    for attempt in recent:
        by_webhook.setdefault(attempt["webhook_id"], []).append(attempt)
    return [_info(row, by_webhook.get(row["id"], [])) for row in rows]


async def delete_webhook(pool: Pool, trust_id: str, webhook_id: UUID) -> bool:
    deleted = await pool.fetchval(
        "delete from reporting_feed.webhooks where id = $1 and trust_id = $2 returning id",
        webhook_id,
        trust_id,
    )
    return deleted is not None


async def replay_webhook(pool: Pool, trust_id: str, webhook_id: UUID, after: Cursor | None) -> bool:
    """Deliver again from after ``after`` (``None``: keep the cursor, just resume).

    Clears failures and a suspension, and drops the lease of an attempt in flight, so its
    answer cannot move the cursor back past the replay point.
    """
    updated = await pool.fetchval(
        """update reporting_feed.webhooks
              set cursor_tx = case when $3 then $4::xid8 else cursor_tx end,
                  cursor_position = case when $3 then $5::bigint else cursor_position end,
                  status = 'active', failures = 0, failing_since = null, last_error = null,
                  next_attempt_at = now(), pending_delivery = null, pending_until_tx = null,
                  pending_until_position = null, lease_token = null, lease_until = null
            where id = $1 and trust_id = $2
        returning id""",
        webhook_id,
        trust_id,
        after is not None,
        after.tx_id if after is not None else 0,
        after.position if after is not None else 0,
    )
    return updated is not None


# --- the delivery worker ----------------------------------------------------------------------


@dataclass(frozen=True)
class DeliverySettings:
    batch_size: int = 100
    concurrency: int = 8
    idle_poll_s: float = 0.5
    timeout_s: float = 10.0
    lease_s: float = 60.0
    backoff_base_s: float = 10.0
    backoff_cap_s: float = 3600.0
    give_up_after_s: float = 24 * 3600.0
    keep_attempts_s: float = 30 * 24 * 3600.0

    def backoff(self, failures: int) -> float:
        """Delay after the ``failures``-th consecutive failure (1, 2, ...), with 10 % jitter."""
        delay = min(self.backoff_base_s * 2.0 ** min(failures - 1, 40), self.backoff_cap_s)
        return delay * (1 + random.random() / 10)


#: Claims due subscriptions with something to deliver (a batch to retry, or new entries).
_CLAIM = """
update reporting_feed.webhooks w
   set lease_token = $1, lease_until = now() + make_interval(secs => $2)
 where w.id in (
    select c.id from reporting_feed.webhooks c
     where c.status <> 'suspended' and c.next_attempt_at <= now()
       and (c.lease_until is null or c.lease_until < now())
       and (c.pending_delivery is not null or exists (
            select 1 from reporting_feed.trust_feed f
             where f.trust_id = c.trust_id
               and (f.tx_id, f.position) > (c.cursor_tx, c.cursor_position)
               and f.tx_id < pg_snapshot_xmin(pg_current_snapshot())))
     order by c.next_attempt_at
     limit $3
     for update skip locked)
returning w.*
"""

_RECORD_ATTEMPT = """
insert into reporting_feed.webhook_deliveries (webhook_id, delivery_id, attempt, items,
    from_cursor, to_cursor, outcome, http_status, error, duration_ms)
select $1, $2, $3, $4, $5, $6, $7, $8, $9, $10
 where exists (select 1 from reporting_feed.webhooks where id = $1)
"""

_DELIVERED = """
update reporting_feed.webhooks
   set cursor_tx = $3::xid8, cursor_position = $4, delivered = delivered + $5,
       status = 'active', failures = 0, failing_since = null, last_error = null,
       last_attempt_at = now(), last_delivered_at = now(), next_attempt_at = now(),
       pending_delivery = null, pending_until_tx = null, pending_until_position = null,
       lease_token = null, lease_until = null
 where id = $1 and lease_token = $2
"""

_FAILED = """
update reporting_feed.webhooks
   set failures = failures + 1,
       failing_since = coalesce(failing_since, now()),
       status = case when coalesce(failing_since, now()) <= now() - make_interval(secs => $7)
                     then 'suspended' else 'failing' end,
       next_attempt_at = now() + make_interval(secs => $6),
       last_error = $5, last_attempt_at = now(),
       pending_delivery = $3, pending_until_tx = $4::xid8, pending_until_position = $8,
       lease_token = null, lease_until = null
 where id = $1 and lease_token = $2
"""


async def _deliver(
    pool: Pool, client: httpx.AsyncClient, row: Row, settings: DeliverySettings
) -> None:
    after = Cursor(row["cursor_tx"], row["cursor_position"])
    pending: UUID | None = row["pending_delivery"]
    until = Cursor(row["pending_until_tx"], row["pending_until_position"]) if pending else None
    page = await read_feed(pool, row["trust_id"], after, settings.batch_size, until=until)
    if not page.items:
        await pool.execute(
            "update reporting_feed.webhooks set lease_token = null, lease_until = null,"
            " pending_delivery = null where id = $1 and lease_token = $2",
            row["id"],
            row["lease_token"],
        )
        return
    delivery_id = pending or uuid4()
    last = decode_cursor(page.next_cursor)
    body = (
        WebhookDelivery(
            delivery_id=delivery_id,
            subscription_id=row["id"],
            trust_id=row["trust_id"],
            items=page.items,
            next_cursor=page.next_cursor,
        )
        .model_dump_json()
        .encode()
    )
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        DELIVERY_HEADER: str(delivery_id),
        SIGNATURE_HEADER: sign(row["secret"], body, int(time.time())),
    }
    started = time.monotonic()
    status: int | None = None
    error: str | None = None
    try:
        response = await client.post(
            row["url"], content=body, headers=headers, timeout=settings.timeout_s
        )
        status = response.status_code
        if not 200 <= status < 300:
            error = f"HTTP {status}: {response.text[:200]}"
    except httpx.HTTPError as failure:
        error = f"{type(failure).__name__}: {failure}"[:500]
    duration_ms = int((time.monotonic() - started) * 1000)
    failures = row["failures"] + 1 if error else 0
    if error is not None:
        DELIVERY_FAILURES.labels("transport" if status is None else "http_status").inc()
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            _RECORD_ATTEMPT,
            row["id"],
            delivery_id,
            row["failures"] + 1,
            len(page.items),
            after.encode(),
            page.next_cursor,
            "failed" if error else "delivered",
            status,
            error,
            duration_ms,
        )
        if error is None:
            await conn.execute(
                _DELIVERED,
                row["id"],
                row["lease_token"],
                last.tx_id,
                last.position,
                len(page.items),
            )
        else:
            await conn.execute(
                _FAILED,
                row["id"],
                row["lease_token"],
                delivery_id,
                last.tx_id,
                error,
                settings.backoff(failures),
                settings.give_up_after_s,
                last.position,
            )
    log.info(
        "feeds.webhook_attempt",
        webhook=str(row["id"]),
        trust_id=row["trust_id"],
        delivery=str(delivery_id),
        items=len(page.items),
        status=status,
        error=error,
    )


async def deliver_due(
    pool: Pool, client: httpx.AsyncClient, settings: DeliverySettings | None = None
) -> int:
    """Claim the due subscriptions (up to ``concurrency``) and deliver one batch to each."""
    settings = settings or DeliverySettings()
    claimed = await pool.fetch(_CLAIM, uuid4(), settings.lease_s, settings.concurrency)
    outcomes = await asyncio.gather(
        *(_deliver(pool, client, row, settings) for row in claimed), return_exceptions=True
    )
    for row, outcome in zip(claimed, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            log.warning("feeds.webhook_error", webhook=str(row["id"]), error=repr(outcome))
    return len(claimed)


async def prune_attempts(pool: Pool, older_than_s: float) -> None:
    await pool.execute(
        "delete from reporting_feed.webhook_deliveries"
        " where attempted_at < now() - make_interval(secs => $1)",
        older_than_s,
    )


async def run_webhook_deliveries(
    pool: Pool,
    stop: asyncio.Event,
    settings: DeliverySettings | None = None,
    client: httpx.AsyncClient | None = None,
) -> None:
    """Deliver webhooks until ``stop`` is set; safe to run in every instance at once."""
    settings = settings or DeliverySettings()
    own = client is None
    http = client or httpx.AsyncClient(follow_redirects=False)
    loop = asyncio.get_running_loop()
    next_prune = loop.time()
    backoff = 0.5
    try:
        while not stop.is_set():
            try:
                if loop.time() >= next_prune:
                    await prune_attempts(pool, settings.keep_attempts_s)
                    next_prune = loop.time() + 3600
                delivered = await deliver_due(pool, http, settings)
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as error:  # database unreachable: try again later
                log.warning("feeds.webhook_worker_error", error=repr(error), retry_in=backoff)
                await _sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            if delivered == 0:
                await _sleep_or_stop(stop, settings.idle_poll_s)
    finally:
        if own:
            await http.aclose()


async def subscription_gauges(runtime: ServiceRuntime) -> list[Metric]:
    """``webhook_subscriptions{status}`` (``failing``, ``suspended``...), for /metrics."""
    family = GaugeMetricFamily(
        "webhook_subscriptions", "Webhook subscriptions by delivery status", labels=["status"]
    )
    counts = dict.fromkeys(("active", "failing", "suspended"), 0)
    for row in await runtime.require_pool().fetch(
        "select status, count(*) as n from reporting_feed.webhooks group by status"
    ):
        counts[row["status"]] = row["n"]
    for status, n in counts.items():
        family.add_metric([status], n)
    return [family]


register_scrape_source("webhooks", subscription_gauges, service="reporting")


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
