"""Who may see the web dashboard: operators (and, for now, analysts) with the operator token
or an operator's platform token (a JWT, docs/security.md), trusts with one of their feed API
keys.

Until the platform has real authentication, the operator token is a shared secret:
``CPD_OPERATOR_TOKEN`` if set; otherwise the token kept in ``$CPD_HOME/operator-token``
(``.cpd/operator-token`` by default, the state folder ``make up`` uses), made on first start
and kept across restarts (``CPD_OPERATOR_TOKEN_FILE`` names another file).

A sign-in gives a session cookie: a JSON payload and its HMAC-SHA256, signed with a key derived
from the operator token (a new token ends every session). A trust's session is bound to that
trust and to the key it signed in with: revoking the key ends the session at the next request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import structlog

from cpd_eventstore.db import Pool
from cpd_platform.auth import AuthError, TokenVerifier
from cpd_platform.auth import Role as PlatformRole
from reporting.feeds.credentials import authenticate

log = structlog.get_logger(__name__)

COOKIE = "cpd_ui_session"
#: How long a session lasts, in seconds.
SESSION_SECONDS = 8 * 3600
TOKEN_FILE_NAME = "operator-token"

Role = Literal["operator", "trust"]


@dataclass(frozen=True)
class Session:
    role: Role
    trust_id: str | None = None
    key_id: str | None = None
    expires: int = 0

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"

    def may_see_trust(self, trust_id: str) -> bool:
        return self.is_operator or self.trust_id == trust_id


def token_file(env: dict[str, str] | None = None) -> Path:
    """Where the operator token is kept when ``CPD_OPERATOR_TOKEN`` is not set."""
    env = dict(os.environ) if env is None else env
    if env.get("CPD_OPERATOR_TOKEN_FILE"):
        return Path(env["CPD_OPERATOR_TOKEN_FILE"])
    return Path(env.get("CPD_HOME") or ".cpd") / TOKEN_FILE_NAME


def read_operator_token(home: Path | None = None) -> str | None:
    """The operator token as the service uses it, for ``cpd up`` to print: the environment's,
    else the one kept in ``home/operator-token`` (default: see :func:`token_file`)."""
    if os.environ.get("CPD_OPERATOR_TOKEN"):
        return os.environ["CPD_OPERATOR_TOKEN"]
    path = home / TOKEN_FILE_NAME if home is not None else token_file()
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def resolve_operator_token() -> str:
    """The environment's token, else the kept one, else a new one (kept if the folder exists)."""
    given = os.environ.get("CPD_OPERATOR_TOKEN")
    if given:
        return given
    path = token_file()
    kept = read_operator_token(path.parent)
    if kept:
        return kept
    token = secrets.token_urlsafe(24)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(token + "\n")
        log.info("web.operator_token_made", file=str(path.resolve()))
    except FileExistsError:  # another process made it meanwhile: use theirs
        return read_operator_token(path.parent) or token
    except OSError as error:
        log.warning(
            "web.operator_token_not_kept",
            error=repr(error),
            hint="set CPD_OPERATOR_TOKEN; this process's token is",
            token=token,
        )
    return token


class Authority:
    """Checks sign-ins and signs and reads session cookies."""

    def __init__(self, operator_token: str) -> None:
        if not operator_token:
            raise ValueError("an empty operator token")
        self._operator_token = operator_token
        self._key = hmac.new(operator_token.encode(), b"cpd-web-session-v1", "sha256").digest()

    def is_operator_token(self, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self._operator_token.encode())

    async def sign_in(
        self, pool: Pool, credential: str, verifier: TokenVerifier | None = None
    ) -> Session | None:
        """A session for the operator token, an operator's platform token (a JWT ``verifier``
        accepts), or a trust's live feed key; ``None`` otherwise."""
        credential = credential.strip()
        if not credential:
            return None
        expires = int(time.time()) + SESSION_SECONDS
        if self.is_operator_token(credential):
            return Session("operator", expires=expires)
        if verifier is not None and credential.count(".") == 2:
            try:
                verified = await verifier.verify(credential)
            except AuthError:
                return None
            if verified.role != PlatformRole.OPERATOR:
                return None  # trusts sign in with a feed key (their session is bound to it)
            return Session("operator", expires=expires)
        principal = await authenticate(pool, credential)
        if principal is None:
            return None
        return Session("trust", principal.trust_id, principal.key_id, expires)

    def cookie_value(self, session: Session) -> str:
        payload = json.dumps(
            {"r": session.role, "t": session.trust_id, "k": session.key_id, "e": session.expires},
            separators=(",", ":"),
        ).encode()
        body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        return f"{body}.{self._sign(body)}"

    def _sign(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()

    def read_cookie(self, value: str | None, now: float | None = None) -> Session | None:
        """The session a cookie carries, if its signature holds and it has not expired."""
        if not value or "." not in value:
            return None
        body, signature = value.rsplit(".", 1)
        if not hmac.compare_digest(signature, self._sign(body)):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            session = Session(data["r"], data["t"], data["k"], int(data["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        if session.role not in ("operator", "trust") or session.expires < (now or time.time()):
            return None
        if session.role == "trust" and not (session.trust_id and session.key_id):
            return None
        return session


async def key_still_live(pool: Pool, session: Session) -> bool:
    """A trust session holds only while the key it signed in with is not revoked."""
    if session.is_operator:
        return True
    revoked = await pool.fetchval(
        """select revoked_at is not null from reporting_feed.credentials
            where key_id = $1 and trust_id = $2""",
        session.key_id,
        session.trust_id,
    )
    return revoked is False
