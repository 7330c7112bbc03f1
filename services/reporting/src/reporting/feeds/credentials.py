"""Per-trust API keys for the feeds: issued once, stored hashed, revocable.

A key reads ``cpdf_<key id>_<secret>``: the key id (16 hex digits) is public and finds the row;
the secret is 256 random bits. Only the SHA-256 of the whole key is stored (a slow password hash
buys nothing against a 256-bit random secret), compared in constant time. A key authenticates
one trust and nothing else: every feed route checks that the key's trust is the trust in the
path.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from cpd_eventstore.db import Pool
from reporting.feeds.models import CredentialInfo, CredentialIssued

PREFIX = "cpdf"


@dataclass(frozen=True)
class TrustPrincipal:
    """Who a valid key speaks for."""

    trust_id: str
    key_id: str


def _digest(api_key: str) -> bytes:
    return hashlib.sha256(api_key.encode()).digest()


def parse_key_id(api_key: str) -> str | None:
    parts = api_key.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or len(parts[1]) != 16 or not parts[2]:
        return None
    try:
        int(parts[1], 16)
    except ValueError:
        return None
    return parts[1]


async def issue_credential(pool: Pool, trust_id: str, label: str) -> CredentialIssued:
    """A new key for ``trust_id``; the returned ``api_key`` is the only copy of the secret."""
    key_id = secrets.token_hex(8)
    api_key = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    row = await pool.fetchrow(
        """insert into reporting_feed.credentials (key_id, trust_id, label, secret_sha256)
           values ($1, $2, $3, $4) returning created_at""",
        key_id,
        trust_id,
        label,
        _digest(api_key),
    )
    assert row is not None
    return CredentialIssued(
        key_id=key_id,
        trust_id=trust_id,
        label=label,
        api_key=api_key,
        created_at=row["created_at"],
    )


async def list_credentials(pool: Pool, trust_id: str) -> list[CredentialInfo]:
    """The trust's keys, revoked ones included, without secrets."""
    rows = await pool.fetch(
        """select key_id, trust_id, label, created_at, last_used_at, revoked_at
             from reporting_feed.credentials where trust_id = $1 order by created_at, key_id""",
        trust_id,
    )
    return [CredentialInfo(**dict(row)) for row in rows]


async def revoke_credential(pool: Pool, key_id: str, trust_id: str | None = None) -> bool:
    """Revoke a key (for ``trust_id`` only, if given); False if there is no such live key."""
    revoked = await pool.fetchval(
        """update reporting_feed.credentials set revoked_at = now()
            where key_id = $1 and revoked_at is null and ($2::text is null or trust_id = $2)
        returning key_id""",
        key_id,
        trust_id,
    )
    return revoked is not None


async def authenticate(pool: Pool, api_key: str) -> TrustPrincipal | None:
    """The trust a key speaks for, or ``None`` for an unknown, wrong or revoked key."""
    key_id = parse_key_id(api_key)
    if key_id is None:
        return None
    row = await pool.fetchrow(
        """select trust_id, secret_sha256 from reporting_feed.credentials
            where key_id = $1 and revoked_at is null""",
        key_id,
    )
    if row is None or not hmac.compare_digest(bytes(row["secret_sha256"]), _digest(api_key)):
        return None
    await pool.execute(
        """update reporting_feed.credentials set last_used_at = now()
            where key_id = $1
              and (last_used_at is null or last_used_at < now() - interval '1 minute')""",
        key_id,
    )
    return TrustPrincipal(trust_id=row["trust_id"], key_id=key_id)
