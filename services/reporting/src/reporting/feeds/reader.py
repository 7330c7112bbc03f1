"""Reading one trust's feed after a cursor, gap-safe.

An entry's ``position`` is taken when it is inserted but becomes visible when its transaction
commits, so reading by position alone could pass an entry whose transaction commits late. The
reader therefore reads in ``(tx_id, position)`` order and only entries whose transaction id is
below ``pg_snapshot_xmin(pg_current_snapshot())``: every transaction below it has finished, so
no entry can ever appear before a cursor handed out. Pages are thus stable under concurrent
writes: no entry is skipped or repeated across pages. The price: an entry becomes readable once
every transaction older than its own has finished, so a long-running writing transaction on the
database holds every feed back for its duration.
"""

from __future__ import annotations

import json
from typing import Any

from cpd_eventstore.db import Connection, Pool, Row
from reporting.feeds.cursor import Cursor
from reporting.feeds.models import FeedItem, FeedPage
from reporting.feeds.privacy import redact_identity

MAX_LIMIT = 1000

_READ = """
select f.tx_id, f.position, f.employer, e.event_id, e.event_type, e.schema_version,
       e.stream_id, e.stream_version, e.occurred_at, e.recorded_at, e.school_urn, e.actor,
       e.correlation_id, e.trn, e.data
  from reporting_feed.trust_feed f
  join reporting_feed.events e on e.event_id = f.event_id
 where f.trust_id = $1
   and (f.tx_id, f.position) > ($2::xid8, $3::bigint)
   and f.tx_id < pg_snapshot_xmin(pg_current_snapshot())
 order by f.tx_id, f.position
 limit $4
"""


def item_of(row: Row) -> FeedItem:
    data: dict[str, Any] = json.loads(row["data"])
    stream_id: str = row["stream_id"]
    if not row["employer"]:
        data, stream_id = redact_identity(data, stream_id, row["trn"])
    return FeedItem(
        cursor=Cursor(row["tx_id"], row["position"]).encode(),
        event_id=row["event_id"],
        event_type=row["event_type"],
        schema_version=row["schema_version"],
        stream_id=stream_id,
        stream_version=row["stream_version"],
        occurred_at=row["occurred_at"],
        recorded_at=row["recorded_at"],
        school_urn=row["school_urn"],
        actor=row["actor"],
        correlation_id=row["correlation_id"],
        data=data,
    )


async def read_feed(
    db: Pool | Connection,
    trust_id: str,
    after: Cursor,
    limit: int = 100,
    until: Cursor | None = None,
) -> FeedPage:
    """Up to ``limit`` items of ``trust_id``'s feed after ``after`` (and up to ``until``)."""
    limit = max(1, min(limit, MAX_LIMIT))
    rows = list(await db.fetch(_READ, trust_id, after.tx_id, after.position, limit + 1))
    if until is not None:
        rows = [r for r in rows if (r["tx_id"], r["position"]) <= until]
    has_more = len(rows) > limit
    rows = rows[:limit]
    items = [item_of(row) for row in rows]
    next_cursor = items[-1].cursor if items else after.encode()
    return FeedPage(items=items, next_cursor=next_cursor, has_more=has_more)
