"""Tables of the trust feeds, in schema ``reporting_feed`` (run with ``migrate(pool,
"reporting_feed", FEED_MIGRATIONS)``).

The feed is never rebuilt with the read models: the positions in ``trust_feed`` are what trusts
hold as cursors, so they stay valid forever. Everything here is append-only except the
credentials (revocation), the webhook subscriptions (delivery state) and their attempts log.

- ``events``: every event that can concern a trust, once, with its feed-safe payload
  (see :mod:`reporting.feeds.privacy`) and the keys that tie it to trusts: the trusts it names
  (``trust_ids``), its school (``school_urn``), a second school (``other_school_urn``: the school a
  teacher moved from, a mentor's school) and the teacher (``trn``), at the date ``effective_on``.
- ``school_trust_facts`` / ``teacher_school_facts``: joins, leaves and moves as they arrived; the
  views ``school_trust_periods`` and ``teacher_school_periods`` turn them into half-open periods
  ``[from, until)``, whatever order the facts arrived in.
- ``trust_feed``: one entry per (trust, event), appended, never updated. ``tx_id`` lets readers
  stay gap-safe: they only read entries of transactions below the snapshot's ``xmin``.
- ``credentials``: per-trust API keys, stored as SHA-256 hashes.
- ``webhooks`` / ``webhook_deliveries``: push subscriptions, their delivery state and attempts.
"""

from __future__ import annotations

from cpd_eventstore import Migration

FEED_SCHEMA = "reporting_feed"

FEED_MIGRATIONS: list[Migration] = [
    Migration(
        1,
        "trust feeds: events, memberships, feed entries, credentials, webhooks",
        """
        create schema if not exists reporting_feed;

        create table reporting_feed.events (
            seq bigint generated always as identity primary key,
            event_id uuid not null unique,
            event_type text not null,
            schema_version int not null,
            stream_id text not null,
            stream_version int not null,
            occurred_at timestamptz not null,
            recorded_at timestamptz not null,
            effective_on date not null,
            actor text not null,
            correlation_id text not null,
            trust_ids text[] not null default '{}',
            school_urn text,
            other_school_urn text,
            trn text,
            by_school boolean not null default true,
            data jsonb not null,
            ingested_at timestamptz not null default now()
        );
        create index events_school on reporting_feed.events (school_urn, effective_on);
        create index events_other_school on reporting_feed.events (other_school_urn, effective_on)
            where other_school_urn is not null;
        create index events_teacher_only on reporting_feed.events (trn)
            where school_urn is null and trn is not null;

        create table reporting_feed.school_trust_facts (
            event_id uuid primary key,
            urn text not null,
            trust_id text not null,
            effective_on date not null,
            joined boolean not null
        );
        create index school_trust_facts_urn on reporting_feed.school_trust_facts (urn, trust_id);

        -- A join starts a period that ends at the first leave of the same trust on or after it;
        -- a leave with no join before it means "member since before we knew".
        create view reporting_feed.school_trust_periods as
            select j.urn, j.trust_id, j.effective_on as from_on,
                (select min(l.effective_on) from reporting_feed.school_trust_facts l
                  where l.urn = j.urn and l.trust_id = j.trust_id and not l.joined
                    and l.effective_on >= j.effective_on) as until_on
              from reporting_feed.school_trust_facts j
             where j.joined
            union all
            select l.urn, l.trust_id, '-infinity'::date, l.effective_on
              from reporting_feed.school_trust_facts l
             where not l.joined and not exists (
                select 1 from reporting_feed.school_trust_facts j
                 where j.joined and j.urn = l.urn and j.trust_id = l.trust_id
                   and j.effective_on <= l.effective_on);

        create table reporting_feed.teacher_school_facts (
            event_id uuid primary key,
            seq bigint generated always as identity,
            trn text not null,
            urn text,
            effective_on date not null
        );
        create index teacher_school_facts_trn
            on reporting_feed.teacher_school_facts (trn, effective_on);

        -- A teacher is at ``urn`` from a registration or move until the next move or leaving.
        create view reporting_feed.teacher_school_periods as
            select trn, urn, from_on, until_on from (
                select trn, urn, effective_on as from_on,
                    lead(effective_on) over (partition by trn order by effective_on, seq)
                        as until_on
                  from reporting_feed.teacher_school_facts) p
             where urn is not null;

        create table reporting_feed.trust_feed (
            position bigint generated always as identity primary key,
            tx_id xid8 not null default pg_current_xact_id(),
            trust_id text not null,
            event_id uuid not null,
            employer boolean not null,
            appended_at timestamptz not null default now(),
            unique (trust_id, event_id)
        );
        create index trust_feed_read on reporting_feed.trust_feed (trust_id, tx_id, position);

        create table reporting_feed.credentials (
            key_id text primary key,
            trust_id text not null,
            label text not null,
            secret_sha256 bytea not null,
            created_at timestamptz not null default now(),
            last_used_at timestamptz,
            revoked_at timestamptz
        );
        create index credentials_trust on reporting_feed.credentials (trust_id);

        create table reporting_feed.webhooks (
            id uuid primary key,
            trust_id text not null,
            url text not null,
            secret text not null,
            status text not null default 'active'
                check (status in ('active', 'failing', 'suspended')),
            cursor_tx xid8 not null default '0',
            cursor_position bigint not null default 0,
            delivered bigint not null default 0,
            failures int not null default 0,
            failing_since timestamptz,
            next_attempt_at timestamptz not null default now(),
            last_attempt_at timestamptz,
            last_delivered_at timestamptz,
            last_error text,
            pending_delivery uuid,
            pending_until_tx xid8,
            pending_until_position bigint,
            lease_token uuid,
            lease_until timestamptz,
            created_at timestamptz not null default now()
        );
        create index webhooks_trust on reporting_feed.webhooks (trust_id);
        create index webhooks_due on reporting_feed.webhooks (next_attempt_at)
            where status <> 'suspended';

        create table reporting_feed.webhook_deliveries (
            id bigint generated always as identity primary key,
            webhook_id uuid not null references reporting_feed.webhooks (id) on delete cascade,
            delivery_id uuid not null,
            attempt int not null,
            items int not null,
            from_cursor text not null,
            to_cursor text not null,
            outcome text not null check (outcome in ('delivered', 'failed')),
            http_status int,
            error text,
            duration_ms int not null,
            attempted_at timestamptz not null default now()
        );
        create index webhook_deliveries_webhook
            on reporting_feed.webhook_deliveries (webhook_id, id desc);
        """,
    ),
    Migration(
        2,
        "a teacher's audit timeline reads events by teacher",
        "create index events_teacher on reporting_feed.events (trn, seq) where trn is not null",
    ),
]
