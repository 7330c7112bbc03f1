"""Authentication and authorisation of every HTTP route: bearer JWTs, roles, bindings, limits.

Who: a :class:`Principal` with one :class:`Role` (operator, trust, school, teacher, analyst) and
the binding that role carries (a trust id, a school URN, a TRN). It comes from a JWT in
``Authorization: Bearer <token>``:

- embedded default: the platform signs tokens with a key it keeps in the state folder
  (``$CPD_HOME/signing-key``, Ed25519; see :func:`ensure_signing_key` and ``cpd token``) and
  every service verifies them with the public key (``CPD_AUTH_PUBLIC_KEY``: PEM text, or a path);
- production: an external OIDC issuer's tokens (``CPD_AUTH_ISSUER``, ``CPD_AUTH_JWKS_URL`` or
  static ``CPD_AUTH_JWKS``, ``CPD_AUTH_AUDIENCE``, claim names ``CPD_AUTH_CLAIM_*``).

A service may accept other credentials on some routes (reporting: the trusts' feed API keys on
the feed routes), through :attr:`AccessPolicy.api_keys`.

What: an :class:`AccessPolicy` has one :class:`Rule` per route (method and path template): the
roles allowed and the resources the request names (a trust, school or teacher in the path or the
body) that a bound role must own. A route without a rule is a start-up error (and is refused if
it is reached anyway), so a new route cannot be open by accident. Reads of personal data
(``Rule(personal=True)``) leave an audit line: who, which route and resource, when.

Limits: each credential (token subject, API key id) has a token bucket of
``CPD_RATE_LIMIT_PER_MINUTE`` requests a minute in each process; past it, 429 with
``Retry-After``. Errors are problem+json: 401 (with ``WWW-Authenticate: Bearer``) without a
valid credential, 403 when the role or binding does not allow the route. See docs/security.md.
"""

from __future__ import annotations

import asyncio
import base64
import getpass
import hashlib
import json
import math
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx
import jwt
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from cpd_platform.http import problem

log = structlog.get_logger(__name__)
audit_log = structlog.get_logger("cpd.audit")

#: Issuer and audience of the tokens the platform signs itself (the embedded default).
PLATFORM_ISSUER = "cpd-platform"
PLATFORM_AUDIENCE = "cpd-platform"
SIGNING_KEY_FILE = "signing-key"
PUBLIC_KEY_FILE = "signing-key.pub"
PREVIOUS_KEY_FILE = "signing-key.previous"
#: Asymmetric algorithms only: never ``none``, never a shared-secret HMAC.
ALGORITHMS = ("EdDSA", "ES256", "ES384", "RS256", "RS384", "RS512", "PS256")


class Role(StrEnum):
    OPERATOR = "operator"  # runs the platform: every route
    TRUST = "trust"  # one trust: its schools, teachers, dashboards and feeds
    SCHOOL = "school"  # a school's CPD lead: that school and its teachers
    TEACHER = "teacher"  # one teacher: their own record
    ANALYST = "analyst"  # read-only, pseudonymous datasets and aggregate dashboards


ALL_ROLES = frozenset(Role)


@dataclass(frozen=True)
class Principal:
    """Who a request speaks for."""

    subject: str
    role: Role
    trust_id: str | None = None
    school_urn: str | None = None
    trn: str | None = None
    #: what the rate limit counts: the token's subject, or the API key's id
    credential: str = ""
    kind: Literal["jwt", "api-key"] = "jwt"

    @property
    def binding(self) -> str | None:
        return {
            Role.TRUST: self.trust_id,
            Role.SCHOOL: self.school_urn,
            Role.TEACHER: self.trn,
        }.get(self.role)


class AuthError(Exception):
    """A refusal, answered as problem+json (401 carries ``WWW-Authenticate``)."""

    def __init__(
        self, status: int, title: str, detail: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = dict(headers or {})


def unauthenticated(detail: str, error: str = "invalid_token") -> AuthError:
    challenge = f'Bearer realm="cpd", error="{error}", error_description="{detail}"'
    if error == "":
        challenge = 'Bearer realm="cpd"'
    return AuthError(401, "Unauthenticated", detail, {"WWW-Authenticate": challenge})


def forbidden(detail: str) -> AuthError:
    return AuthError(403, "Forbidden", detail)


# --- settings -----------------------------------------------------------------------------------


class AuthSettings(BaseSettings):
    """How tokens are verified and requests limited (environment variables)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    #: PEM public key(s) (several blocks during a rotation) or the path of a file holding them
    public_key: str | None = Field(None, validation_alias=AliasChoices("CPD_AUTH_PUBLIC_KEY"))
    #: a JWKS document (JSON text or a path): static keys of an external issuer
    jwks: str | None = Field(None, validation_alias=AliasChoices("CPD_AUTH_JWKS"))
    #: an external issuer's JWKS endpoint, fetched and cached
    jwks_url: str | None = Field(None, validation_alias=AliasChoices("CPD_AUTH_JWKS_URL"))
    jwks_cache_s: float = Field(300, ge=0, validation_alias=AliasChoices("CPD_AUTH_JWKS_CACHE_S"))
    issuer: str = Field(PLATFORM_ISSUER, validation_alias=AliasChoices("CPD_AUTH_ISSUER"))
    audience: str = Field(PLATFORM_AUDIENCE, validation_alias=AliasChoices("CPD_AUTH_AUDIENCE"))
    leeway_s: float = Field(30, ge=0, validation_alias=AliasChoices("CPD_AUTH_LEEWAY_S"))
    #: claim names, for an external issuer whose tokens name them otherwise
    claim_role: str = Field("role", validation_alias=AliasChoices("CPD_AUTH_CLAIM_ROLE"))
    claim_trust: str = Field("trust_id", validation_alias=AliasChoices("CPD_AUTH_CLAIM_TRUST"))
    claim_school: str = Field("school_urn", validation_alias=AliasChoices("CPD_AUTH_CLAIM_SCHOOL"))
    claim_trn: str = Field("trn", validation_alias=AliasChoices("CPD_AUTH_CLAIM_TRN"))
    #: JSON object from the issuer's role values (or groups) to ours, e.g. {"cpd-ops": "operator"}
    role_values: str | None = Field(None, validation_alias=AliasChoices("CPD_AUTH_ROLE_VALUES"))
    #: requests per minute per credential (0: no limit); operators have their own limit
    rate_limit_per_minute: int = Field(
        600, ge=0, validation_alias=AliasChoices("CPD_RATE_LIMIT_PER_MINUTE")
    )
    rate_limit_operator_per_minute: int = Field(
        0, ge=0, validation_alias=AliasChoices("CPD_RATE_LIMIT_OPERATOR_PER_MINUTE")
    )

    @property
    def configured(self) -> bool:
        return bool(self.public_key or self.jwks or self.jwks_url)


# --- keys and tokens the platform signs (the embedded default) ---------------------------------


def ensure_signing_key(home: Path) -> Path:
    """The platform's signing key in ``home`` (made once, 0600), with its public key beside."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / SIGNING_KEY_FILE
    if not path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it meanwhile
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
            log.info("auth.signing_key_made", file=str(path))
    public = home / PUBLIC_KEY_FILE
    expected = public_pem_of(path.read_bytes())
    previous = home / PREVIOUS_KEY_FILE
    if previous.exists():  # a rotation: tokens of the previous key stay valid until it goes
        expected += public_pem_of(previous.read_bytes())
    if not public.exists() or public.read_text() != expected:
        public.write_text(expected)
    return path


def rotate_signing_key(home: Path) -> Path:
    """A new signing key; the current one becomes the previous one, still trusted until
    ``signing-key.previous`` is deleted (the services read the public keys when they start)."""
    path = home / SIGNING_KEY_FILE
    if path.exists():
        path.replace(home / PREVIOUS_KEY_FILE)
    return ensure_signing_key(home)


def public_pem_of(private_pem: bytes) -> str:
    key = serialization.load_pem_private_key(private_pem, password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def key_id_of(public_pem: str) -> str:
    """A short, stable id of a public key (the ``kid`` of the tokens it verifies)."""
    return hashlib.sha256(public_pem.strip().encode()).hexdigest()[:16]


def issue_token(
    private_pem: bytes,
    role: Role | str,
    *,
    subject: str | None = None,
    trust_id: str | None = None,
    school_urn: str | None = None,
    trn: str | None = None,
    ttl_s: float = 3600,
    issuer: str = PLATFORM_ISSUER,
    audience: str = PLATFORM_AUDIENCE,
    now: float | None = None,
) -> str:
    """A token signed with the platform's key; the binding its role needs must be given."""
    role = Role(role)
    binding = {Role.TRUST: trust_id, Role.SCHOOL: school_urn, Role.TEACHER: trn}.get(role)
    if role in (Role.TRUST, Role.SCHOOL, Role.TEACHER) and not binding:
        raise ValueError(f"a {role} token needs its {_BINDING_CLAIM[role]}")
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject or f"{role}:{binding or getpass.getuser()}",
        "role": str(role),
        "iat": issued,
        "nbf": issued,
        "exp": issued + int(ttl_s),
        "jti": uuid.uuid4().hex,
    }
    for name, value in (("trust_id", trust_id), ("school_urn", school_urn), ("trn", trn)):
        if value:
            claims[name] = value
    key = serialization.load_pem_private_key(private_pem, password=None)
    algorithm = "EdDSA" if isinstance(key, Ed25519PrivateKey) else "ES256"
    kid = key_id_of(public_pem_of(private_pem))
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})  # type: ignore[arg-type]


_BINDING_CLAIM = {Role.TRUST: "trust_id", Role.SCHOOL: "school_urn", Role.TEACHER: "trn"}


def token_from_home(home: Path, role: Role | str = Role.OPERATOR, **claims: Any) -> str | None:
    """A token signed with the key in ``home``, or None when there is no key there."""
    path = home / SIGNING_KEY_FILE
    try:
        private_pem = path.read_bytes()
    except OSError:
        return None
    return issue_token(private_pem, role, **claims)


# --- verification -------------------------------------------------------------------------------


def _read_setting(value: str) -> str:
    """A setting given inline or as a path to a file."""
    text = value.strip()
    if text.startswith(("-----BEGIN", "{")):
        return text
    return Path(text).expanduser().read_text()


def _pem_blocks(text: str) -> list[str]:
    marker = "-----BEGIN"
    return [marker + part for part in text.split(marker)[1:] if part.strip()]


@dataclass
class _Key:
    kid: str | None
    key: Any


class TokenVerifier:
    """Checks a JWT (signature, issuer, audience, times) and maps its claims to a principal."""

    def __init__(
        self, settings: AuthSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self._transport = transport
        self._static: list[_Key] = []
        self._fetched: list[_Key] = []
        self._fetched_at = -math.inf
        self._lock = asyncio.Lock()
        self._roles: dict[str, Role] = {str(r): r for r in Role}
        if settings.role_values:
            mapping = json.loads(_read_setting(settings.role_values))
            self._roles.update({str(k): Role(v) for k, v in mapping.items()})
        if settings.public_key:
            for pem in _pem_blocks(_read_setting(settings.public_key)):
                key = serialization.load_pem_public_key(pem.encode())
                self._static.append(_Key(key_id_of(pem), key))
        if settings.jwks:
            self._static.extend(_jwks_keys(json.loads(_read_setting(settings.jwks))))

    async def _keys(self, kid: str | None) -> list[_Key]:
        keys = [*self._static, *self._fetched]
        if self.settings.jwks_url is None:
            return keys
        loop = asyncio.get_running_loop()
        stale = loop.time() - self._fetched_at > self.settings.jwks_cache_s
        unknown = kid is not None and all(k.kid != kid for k in keys)
        # an unknown kid (the issuer rotated) refetches, at most every 30 s
        if stale or (unknown and loop.time() - self._fetched_at > 30):
            async with self._lock:
                if loop.time() - self._fetched_at > min(30, self.settings.jwks_cache_s) or stale:
                    await self._fetch()
        return [*self._static, *self._fetched]

    async def _fetch(self) -> None:
        assert self.settings.jwks_url is not None
        try:
            async with httpx.AsyncClient(transport=self._transport, timeout=5) as client:
                response = await client.get(self.settings.jwks_url)
                response.raise_for_status()
                self._fetched = _jwks_keys(response.json())
        except (httpx.HTTPError, ValueError) as error:
            log.warning("auth.jwks_unavailable", url=self.settings.jwks_url, error=repr(error))
        finally:
            self._fetched_at = asyncio.get_running_loop().time()

    async def verify(self, token: str) -> Principal:
        if not self.settings.configured:
            raise AuthError(
                503,
                "Authentication not configured",
                "this service has no key to verify tokens: set CPD_AUTH_PUBLIC_KEY,"
                " CPD_AUTH_JWKS or CPD_AUTH_JWKS_URL",
            )
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise unauthenticated("the token is not a JWT") from None
        kid = header.get("kid")
        keys = await self._keys(kid if isinstance(kid, str) else None)
        candidates = [k for k in keys if kid is not None and k.kid == kid] or [
            k for k in keys if kid is None or k.kid is None
        ]
        if not candidates:
            raise unauthenticated("the token is signed by an unknown key")
        claims: dict[str, Any] | None = None
        last: Exception | None = None
        for candidate in candidates:
            try:
                claims = jwt.decode(
                    token,
                    candidate.key,
                    algorithms=list(ALGORITHMS),
                    audience=self.settings.audience,
                    issuer=self.settings.issuer,
                    leeway=self.settings.leeway_s,
                    options={"require": ["exp", "sub", "iss", "aud"]},
                )
                break
            except jwt.ExpiredSignatureError:
                raise unauthenticated("the token has expired") from None
            except jwt.PyJWTError as error:
                last = error
        if claims is None:
            raise unauthenticated(f"the token is not valid: {last}") from None
        return self.principal_of(claims)

    def principal_of(self, claims: Mapping[str, Any]) -> Principal:
        s = self.settings
        given = claims.get(s.claim_role)
        values = given if isinstance(given, list) else [given]
        roles = [self._roles[str(v)] for v in values if str(v) in self._roles]
        if not roles:
            raise forbidden(f"the token carries no platform role in claim {s.claim_role!r}")
        role = roles[0]

        def text(name: str) -> str | None:
            value = claims.get(name)
            return None if value is None or value == "" else str(value)

        principal = Principal(
            subject=str(claims["sub"])[:200],
            role=role,
            trust_id=text(s.claim_trust) if role == Role.TRUST else None,
            school_urn=text(s.claim_school) if role == Role.SCHOOL else None,
            trn=text(s.claim_trn) if role == Role.TEACHER else None,
            credential=f"jwt:{claims['sub']}",
        )
        if role in _BINDING_CLAIM and principal.binding is None:
            raise forbidden(f"a {role} token must carry {_BINDING_CLAIM[role]}")
        return principal


def _jwks_keys(document: Mapping[str, Any]) -> list[_Key]:
    keys: list[_Key] = []
    for entry in document.get("keys", []):
        if entry.get("use", "sig") != "sig":
            continue
        try:
            found = jwt.PyJWK(entry)
        except jwt.PyJWTError as error:
            log.warning("auth.jwks_key_skipped", kid=entry.get("kid"), error=repr(error))
            continue
        keys.append(_Key(entry.get("kid"), found.key))
    return keys


# --- rate limit ---------------------------------------------------------------------------------


@dataclass
class RateLimiter:
    """A token bucket per credential: ``per_minute`` a minute, bursts up to ``per_minute``."""

    per_minute: int
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, credential: str) -> float:
        """0 when the request may go; otherwise the seconds until it could."""
        if self.per_minute <= 0:
            return 0.0
        now = self.clock()
        rate = self.per_minute / 60.0
        tokens, last = self._buckets.get(credential, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - last) * rate)
        if tokens >= 1:
            self._buckets[credential] = (tokens - 1, now)
            if len(self._buckets) > 100_000:
                self._prune(now)
            return 0.0
        self._buckets[credential] = (tokens, now)
        return (1 - tokens) / rate

    def _prune(self, now: float) -> None:
        full = [c for c, (_, last) in self._buckets.items() if now - last > 60]
        for credential in full:
            del self._buckets[credential]


# --- access rules -------------------------------------------------------------------------------

ResourceKind = Literal["trust", "school", "teacher"]


@dataclass(frozen=True)
class Resource:
    """A trust, school or teacher a request names (path parameter or body field)."""

    kind: ResourceKind
    name: str
    source: Literal["path", "body"] = "path"


def trust(name: str = "trust_id") -> Resource:
    return Resource("trust", name)


def school(name: str = "urn", source: Literal["path", "body"] = "path") -> Resource:
    return Resource("school", name, source)


def teacher(name: str = "trn", source: Literal["path", "body"] = "path") -> Resource:
    return Resource("teacher", name, source)


@dataclass(frozen=True)
class Rule:
    """Who may call a route: ``roles``; bound roles only for the ``resources`` they own."""

    roles: frozenset[Role] = frozenset()
    resources: tuple[Resource, ...] = ()
    public: bool = False  # no credential at all (health, metrics, docs, the web's own login)
    personal: bool = False  # reads personal data: audited
    api_keys: bool = False  # the service's API keys are accepted too (trust feeds)


PUBLIC = Rule(public=True)


def allow(
    *roles: Role,
    on: Resource | Sequence[Resource] = (),
    personal: bool = False,
    api_keys: bool = False,
) -> Rule:
    resources = (on,) if isinstance(on, Resource) else tuple(on)
    return Rule(frozenset({Role.OPERATOR, *roles}), resources, personal=personal, api_keys=api_keys)


class Directory(Protocol):
    """Where a service finds whose a school or a teacher is (its own tables or replicas)."""

    async def school_of_teacher(self, request: Request, trn: str) -> str | None: ...

    async def trust_of_school(self, request: Request, urn: str) -> str | None: ...


class NoDirectory:
    """A service that knows no schools or teachers: bound roles own none of them."""

    async def school_of_teacher(self, request: Request, trn: str) -> str | None:
        return None

    async def trust_of_school(self, request: Request, urn: str) -> str | None:
        return None


#: Checks a credential the service issues itself (not a JWT); None: not one of its keys.
ApiKeyAuthenticator = Callable[[Request, str], Awaitable[Principal | None]]

RouteKey = tuple[str, str]


@dataclass
class AccessPolicy:
    """The rule of every route of a service, keyed by (method, path template)."""

    rules: dict[RouteKey, Rule] = field(default_factory=dict)
    directory: Directory = field(default_factory=NoDirectory)
    api_keys: ApiKeyAuthenticator | None = None
    #: prefixes of API keys (e.g. "cpdf_"): such credentials never go to the JWT verifier
    api_key_prefixes: tuple[str, ...] = ()

    def add(self, method: str, path: str, rule: Rule) -> AccessPolicy:
        key = (method.upper(), path)
        if key in self.rules:
            raise ValueError(f"two access rules for {method} {path}")
        self.rules[key] = rule
        return self

    def merged(self, *others: AccessPolicy) -> AccessPolicy:
        merged = AccessPolicy(
            dict(self.rules), self.directory, self.api_keys, self.api_key_prefixes
        )
        for other in others:
            for (method, path), rule in other.rules.items():
                merged.add(method, path, rule)
            if not isinstance(other.directory, NoDirectory):
                merged.directory = other.directory
            merged.api_keys = other.api_keys or merged.api_keys
            merged.api_key_prefixes += other.api_key_prefixes
        return merged

    def rule_for(self, method: str, path: str) -> Rule | None:
        return self.rules.get((method.upper(), path))

    def missing(self, app: FastAPI) -> list[str]:
        """Routes of ``app`` without a rule ("METHOD /path"): must be none."""
        return [f"{m} {p}" for m, p in route_keys(app) if (m, p) not in self.rules]


def route_keys(app: FastAPI) -> Iterator[RouteKey]:
    """(method, path template) of every route the app serves; ``*`` for mounts."""
    from fastapi.routing import APIRoute

    try:
        from fastapi.routing import iter_route_contexts

        routes: Iterable[Any] = (context.route for context in iter_route_contexts(app.routes))
    except ImportError:  # older FastAPI: included routes are plain routes
        routes = app.routes
    docs = {app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    for route in routes:
        path = getattr(route, "path", None)
        if path is None or path in docs:
            continue  # the OpenAPI document and its viewers: public by design
        methods = getattr(route, "methods", None)
        if isinstance(route, APIRoute) or methods:
            for method in sorted(methods or ()):
                if method != "HEAD":
                    yield method, path
        else:
            yield "*", path


def platform_policy() -> AccessPolicy:
    """Routes every service has (create_app and admin.py): probes open, operations operators'."""
    policy = AccessPolicy()
    policy.add("GET", "/health", PUBLIC)
    # Prometheus text (counts, lags): open for the scraper; keep the port internal, see docs
    policy.add("GET", "/metrics", PUBLIC)
    for method, path in (
        ("GET", "/admin/relay"),
        ("GET", "/admin/lag"),
        ("POST", "/admin/republish"),
        ("GET", "/admin/dead-letters"),
        ("POST", "/admin/dead-letters/{consumer}/{letter_id}/retry"),
        ("POST", "/admin/dead-letters/{consumer}/{letter_id}/discard"),
    ):
        policy.add(method, path, allow())
    return policy


# --- the request check --------------------------------------------------------------------------


@dataclass
class Guard:
    """What a service checks on each request (``app.state.auth``)."""

    policy: AccessPolicy
    settings: AuthSettings
    verifier: TokenVerifier
    limiter: RateLimiter
    operator_limiter: RateLimiter

    @classmethod
    def of(cls, policy: AccessPolicy, settings: AuthSettings | None = None) -> Guard:
        settings = settings or AuthSettings()
        return cls(
            policy,
            settings,
            TokenVerifier(settings),
            RateLimiter(settings.rate_limit_per_minute),
            RateLimiter(settings.rate_limit_operator_per_minute),
        )

    def check_routes(self, app: FastAPI) -> None:
        missing = self.policy.missing(app)
        if missing:
            raise RuntimeError(
                "routes without an access rule (add them to the service's access.py): "
                + ", ".join(missing)
            )

    async def authenticate(self, request: Request, rule: Rule) -> Principal:
        credential = credential_of(request)
        if credential is None:
            raise unauthenticated(
                "a bearer token is required: Authorization: Bearer <token> (see `cpd token`)",
                error="",
            )
        api_keys = self.policy.api_keys
        if credential.startswith(self.policy.api_key_prefixes or ("\0",)):
            if not rule.api_keys or api_keys is None:
                raise unauthenticated("an API key is not accepted here: use a bearer token")
            principal = await api_keys(request, credential)
            if principal is None:
                raise unauthenticated("the API key is unknown or revoked")
            return principal
        return await self.verifier.verify(credential)

    def limit(self, principal: Principal) -> None:
        limiter = self.operator_limiter if principal.role == Role.OPERATOR else self.limiter
        wait = limiter.take(principal.credential or principal.subject)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise AuthError(
                429,
                "Too many requests",
                f"more than {limiter.per_minute} requests a minute with this credential;"
                f" retry in {seconds} s",
                {"Retry-After": str(seconds)},
            )

    async def authorise(self, request: Request, rule: Rule, principal: Principal) -> None:
        if principal.role not in rule.roles:
            raise forbidden(f"the {principal.role} role may not call this route")
        if principal.role in (Role.OPERATOR, Role.ANALYST):
            return
        for resource in rule.resources:
            value = await _value_of(request, resource)
            if value is None or not await self._owns(request, principal, resource.kind, value):
                raise forbidden(
                    f"this {principal.role} credential gives no access to {resource.kind} {value}"
                )

    async def _owns(
        self, request: Request, principal: Principal, kind: ResourceKind, value: str
    ) -> bool:
        directory = self.policy.directory
        if principal.role == Role.TEACHER:
            return kind == "teacher" and value == principal.trn
        school_urn: str | None = value
        if kind == "teacher":
            school_urn = await directory.school_of_teacher(request, value)
        if principal.role == Role.SCHOOL:
            return kind != "trust" and school_urn is not None and school_urn == principal.school_urn
        if principal.role == Role.TRUST:
            if kind == "trust":
                return value == principal.trust_id
            if school_urn is None:
                return False
            return await directory.trust_of_school(request, school_urn) == principal.trust_id
        return False


async def _value_of(request: Request, resource: Resource) -> str | None:
    if resource.source == "path":
        value = request.path_params.get(resource.name)
    else:
        try:
            body = await request.json()
        except (ValueError, RecursionError):  # not JSON, or nested too deep: validation says so
            return None
        value = body.get(resource.name) if isinstance(body, dict) else None
    return None if value is None else str(value)


def credential_of(request: Request) -> str | None:
    """The bearer token (or an API key in ``X-API-Key``) a request carries."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = request.headers.get("x-api-key", "").strip()
    return key or None


def principal_of(request: Request) -> Principal | None:
    """The principal the platform authenticated for this request, if any."""
    found = getattr(request.state, "principal", None)
    return found if isinstance(found, Principal) else None


async def authorise_request(request: Request) -> None:
    """The dependency every route of a service runs first (see :func:`install_auth`)."""
    guard: Guard | None = getattr(request.app.state, "auth", None)
    if guard is None:
        raise AuthError(500, "Access not configured", "this app has no access policy")
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    rule = guard.policy.rule_for(request.method, path) if path else None
    if rule is None:
        log.error("auth.no_rule", method=request.method, route=path)
        raise forbidden(f"no access rule for {request.method} {path}: refused")
    if rule.public:
        return
    principal = await guard.authenticate(request, rule)
    guard.limit(principal)
    await guard.authorise(request, rule, principal)
    request.state.principal = principal
    structlog.contextvars.bind_contextvars(principal=principal.subject, role=str(principal.role))
    if rule.personal:
        audit_log.info(
            "audit.personal_data_read",
            principal=principal.subject,
            role=str(principal.role),
            credential=principal.credential,
            method=request.method,
            route=path,
            resource=dict(request.path_params),
            correlation_id=getattr(request.state, "correlation_id", None),
        )


def install_auth(app: FastAPI, guard: Guard) -> None:
    """Keep ``guard`` on the app and answer its refusals as problem+json."""
    app.state.auth = guard

    @app.exception_handler(AuthError)
    async def refused(request: Request, error: AuthError) -> JSONResponse:
        if error.status in (401, 403):
            log.info(
                "auth.refused",
                status=error.status,
                method=request.method,
                route=getattr(request.scope.get("route"), "path", None),
                detail=error.detail,
            )
        return problem(error.status, error.title, error.detail, headers=error.headers)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def decode_unverified(token: str) -> dict[str, Any]:
    """The claims of a token without checking it (for display only)."""
    payload = token.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return data
