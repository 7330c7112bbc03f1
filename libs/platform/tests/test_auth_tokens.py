"""Tokens, verification, OIDC keys, rate limits and the access check (cpd_platform.auth)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI, Request

from cpd_platform.auth import (
    PUBLIC_KEY_FILE,
    AccessPolicy,
    AuthError,
    AuthSettings,
    Principal,
    RateLimiter,
    Role,
    TokenVerifier,
    allow,
    ensure_signing_key,
    issue_token,
    public_pem_of,
    rotate_signing_key,
    school,
    teacher,
    token_from_home,
    trust,
)
from cpd_platform.embedded import free_port
from cpd_platform.runtime import ServiceRuntime, create_app
from cpd_platform.settings import ServiceSettings
from cpd_platform.testing import auth_headers, signing_key_of_tests


def new_key() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def verifier_for(*private_pems: bytes, **settings: Any) -> TokenVerifier:
    public = "".join(public_pem_of(pem) for pem in private_pems)
    return TokenVerifier(AuthSettings(CPD_AUTH_PUBLIC_KEY=public, **settings))


async def test_a_platform_token_verifies_to_its_principal() -> None:
    key = new_key()
    token = issue_token(key, "trust", subject="hr@trust", trust_id="2044")
    principal = await verifier_for(key).verify(token)
    assert principal == Principal(
        subject="hr@trust", role=Role.TRUST, trust_id="2044", credential="jwt:hr@trust"
    )


@pytest.mark.parametrize(
    ("role", "claims"),
    [("trust", {}), ("school", {"trust_id": "1"}), ("teacher", {"school_urn": "100000"})],
)
def test_a_bound_role_needs_its_binding(role: str, claims: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="needs its"):
        issue_token(new_key(), role, **claims)


async def test_expired_forged_and_foreign_tokens_are_refused() -> None:
    key, other = new_key(), new_key()
    verifier = verifier_for(key, CPD_AUTH_LEEWAY_S=0)
    expired = issue_token(key, "operator", ttl_s=60, now=time.time() - 3600)
    forged = issue_token(other, "operator")
    wrong_audience = issue_token(key, "operator", audience="another-platform")
    wrong_issuer = issue_token(key, "operator", issuer="https://evil.example")
    header, payload, signature = issue_token(key, "teacher", trn="1234567").split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["role"] = "operator"  # a teacher promoting themself: the signature no longer holds
    tampered = ".".join(
        [header, jwt.utils.base64url_encode(json.dumps(claims).encode()).decode(), signature]
    )
    unsigned = jwt.encode({"sub": "x", "role": "operator"}, None, algorithm="none")  # type: ignore[arg-type]
    hmac_with_public_key = jwt.encode(
        {"sub": "x", "role": "operator", "iss": "cpd-platform", "aud": "cpd-platform"},
        "a shared secret of at least thirty-two bytes",
        algorithm="HS256",
    )
    for token, reason in (
        (expired, "expired"),
        (forged, "unknown key"),
        (wrong_audience, "not valid"),
        (wrong_issuer, "not valid"),
        (tampered, "not valid"),
        (unsigned, ""),
        (hmac_with_public_key, ""),
        ("garbage", "not a JWT"),
    ):
        with pytest.raises(AuthError) as refused:
            await verifier.verify(token)
        assert refused.value.status == 401, token
        assert reason in refused.value.detail
        assert refused.value.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_token_without_a_platform_role_is_forbidden() -> None:
    key = new_key()
    token = jwt.encode(
        {"sub": "x", "iss": "cpd-platform", "aud": "cpd-platform", "exp": time.time() + 60},
        serialization.load_pem_private_key(key, None),  # type: ignore[arg-type]
        algorithm="EdDSA",
    )
    with pytest.raises(AuthError) as refused:
        await verifier_for(key).verify(token)
    assert refused.value.status == 403


def test_the_signing_key_is_made_once_kept_private_and_rotated(tmp_path: Path) -> None:
    path = ensure_signing_key(tmp_path)
    assert path.stat().st_mode & 0o077 == 0
    assert ensure_signing_key(tmp_path).read_bytes() == path.read_bytes()
    old_token = token_from_home(tmp_path, "operator")
    assert old_token is not None
    rotate_signing_key(tmp_path)
    new_token = token_from_home(tmp_path, "operator")
    assert new_token is not None
    public = (tmp_path / PUBLIC_KEY_FILE).read_text()
    assert public.count("BEGIN PUBLIC KEY") == 2  # the previous key still verifies
    assert token_from_home(tmp_path / "nowhere", "operator") is None


async def test_both_keys_verify_during_a_rotation(tmp_path: Path) -> None:
    ensure_signing_key(tmp_path)
    old = token_from_home(tmp_path, "operator")
    rotate_signing_key(tmp_path)
    new = token_from_home(tmp_path, "operator")
    verifier = TokenVerifier(AuthSettings(CPD_AUTH_PUBLIC_KEY=str(tmp_path / PUBLIC_KEY_FILE)))
    assert old is not None
    assert new is not None
    assert (await verifier.verify(old)).role == Role.OPERATOR
    assert (await verifier.verify(new)).role == Role.OPERATOR


# --- an external OIDC issuer: its JWKS served in-process ------------------------------------------


@contextlib.contextmanager
def jwks_server(document: dict[str, Any]) -> Iterator[tuple[str, list[int]]]:
    hits: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(1)
            body = json.dumps(document).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json", hits
    finally:
        server.shutdown()
        server.server_close()


def es256_jwk(kid: str) -> tuple[ec.EllipticCurvePrivateKey, dict[str, Any]]:
    private = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
    return private, {**jwk, "kid": kid, "use": "sig", "alg": "ES256"}


async def test_oidc_tokens_verify_with_the_issuers_jwks_and_mapped_claims() -> None:
    issuer = "https://login.example.gov.uk/realms/cpd"
    private, jwk = es256_jwk("k1")
    document: dict[str, Any] = {"keys": [jwk]}
    with jwks_server(document) as (url, hits):
        settings = AuthSettings(
            CPD_AUTH_ISSUER=issuer,
            CPD_AUTH_JWKS_URL=url,
            CPD_AUTH_AUDIENCE="cpd-api",
            CPD_AUTH_CLAIM_ROLE="groups",
            CPD_AUTH_CLAIM_TRUST="org_id",
            CPD_AUTH_ROLE_VALUES=json.dumps({"cpd-trust-admins": "trust"}),
        )
        verifier = TokenVerifier(settings)

        def sign(claims: dict[str, Any], key: Any = private, kid: str = "k1") -> str:
            base = {"iss": issuer, "aud": "cpd-api", "exp": int(time.time()) + 300}
            return jwt.encode({**base, **claims}, key, algorithm="ES256", headers={"kid": kid})

        principal = await verifier.verify(
            sign({"sub": "u-1", "groups": ["staff", "cpd-trust-admins"], "org_id": "2044"})
        )
        assert (principal.role, principal.trust_id, principal.subject) == (
            Role.TRUST,
            "2044",
            "u-1",
        )
        # the issuer rotates: a token with a new kid makes the verifier fetch the keys again
        rotated, new_jwk = es256_jwk("k2")
        document["keys"].append(new_jwk)
        with pytest.raises(AuthError):  # fetched less than 30 s ago: not refetched yet
            await verifier.verify(sign({"sub": "u-2", "groups": "operator"}, rotated, "k2"))
        verifier._fetched_at -= 60
        assert (
            await verifier.verify(sign({"sub": "u-2", "groups": "operator"}, rotated, "k2"))
        ).role == Role.OPERATOR
        assert len(hits) == 2
        # the platform's own tokens are not the issuer's
        with pytest.raises(AuthError) as refused:
            await verifier.verify(issue_token(new_key(), "operator"))
        assert refused.value.status == 401


# --- rate limits ---------------------------------------------------------------------------------


def test_the_token_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0])  # one a second, bursts of 60
    assert all(limiter.take("a") == 0 for _ in range(60))
    assert limiter.take("a") == pytest.approx(1.0)
    assert limiter.take("b") == 0  # each credential its own bucket
    now[0] += 2
    assert limiter.take("a") == 0
    assert RateLimiter(0).take("a") == 0  # 0: no limit


# --- the check on every route --------------------------------------------------------------------


def app_with(policy: AccessPolicy) -> FastAPI:
    runtime = ServiceRuntime(
        ServiceSettings(
            service_name="auth-test",
            database_url="postgresql://unused/x",
            kafka_bootstrap_servers="x",
        )
    )
    app = create_app(runtime, "auth test", "", access=policy)

    @app.get("/trusts/{trust_id}/things")
    async def things(trust_id: str, request: Request) -> dict[str, str]:
        return {"trust_id": trust_id, "actor": request.state.principal.subject}

    return app


@contextlib.asynccontextmanager
async def client_of(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_a_route_without_a_rule_stops_the_start_and_is_refused() -> None:
    app = app_with(AccessPolicy())
    with pytest.raises(RuntimeError, match=r"GET /trusts/\{trust_id\}/things"):
        async with app.router.lifespan_context(app):
            pass
    async with client_of(app) as client:
        response = await client.get("/trusts/1/things", headers=auth_headers())
    assert response.status_code == 403
    assert "no access rule" in response.json()["detail"]


async def test_refusals_are_problems_and_health_stays_open() -> None:
    policy = AccessPolicy().add("GET", "/trusts/{trust_id}/things", allow(Role.TRUST, on=trust()))
    async with client_of(app_with(policy)) as client:
        none = await client.get("/trusts/1/things")
        bad = await client.get("/trusts/1/things", headers={"Authorization": "Bearer x.y.z"})
        other = await client.get("/trusts/1/things", headers=auth_headers("trust", trust_id="2"))
        teacher_ = await client.get(
            "/trusts/1/things", headers=auth_headers("teacher", trn="1234567")
        )
        own = await client.get("/trusts/1/things", headers=auth_headers("trust", trust_id="1"))
        operator = await client.get("/trusts/1/things", headers=auth_headers(subject="ops:ann"))
        metrics = await client.get("/metrics")
    for refused, status in ((none, 401), (bad, 401), (other, 403), (teacher_, 403)):
        assert refused.status_code == status
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["status"] == status
    assert none.headers["www-authenticate"] == 'Bearer realm="cpd"'
    assert own.status_code == 200
    assert operator.json() == {"trust_id": "1", "actor": "ops:ann"}
    assert metrics.status_code == 200


async def test_a_credential_past_its_rate_gets_429_with_retry_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CPD_RATE_LIMIT_PER_MINUTE", "5")
    policy = AccessPolicy().add("GET", "/trusts/{trust_id}/things", allow(Role.TRUST, on=trust()))
    mine, theirs = auth_headers("trust", trust_id="1"), auth_headers("trust", trust_id="2")
    async with client_of(app_with(policy)) as client:
        statuses = [
            (await client.get("/trusts/1/things", headers=mine)).status_code for _ in range(7)
        ]
        limited = await client.get("/trusts/1/things", headers=mine)
        other = await client.get("/trusts/2/things", headers=theirs)
        operator = [
            (await client.get("/trusts/1/things", headers=auth_headers())) for _ in range(7)
        ]
    assert statuses == [200] * 5 + [429] * 2
    assert limited.status_code == 429
    assert limited.headers["content-type"] == "application/problem+json"
    assert int(limited.headers["retry-after"]) >= 1
    assert other.status_code == 200  # another credential's bucket is full
    assert {r.status_code for r in operator} == {200}  # operators: their own limit (none here)


async def test_body_bindings_and_the_directory() -> None:
    class World:
        async def school_of_teacher(self, request: Request, trn: str) -> str | None:
            return {"1111111": "100001", "2222222": "200002"}.get(trn)

        async def trust_of_school(self, request: Request, urn: str) -> str | None:
            return {"100001": "1", "200002": "2"}.get(urn)

    policy = AccessPolicy(directory=World())
    policy.add("POST", "/bookings", allow(Role.TRUST, Role.SCHOOL, on=school("school_urn", "body")))
    policy.add("GET", "/teachers/{trn}", allow(Role.TRUST, Role.SCHOOL, Role.TEACHER, on=teacher()))
    runtime = ServiceRuntime(
        ServiceSettings(
            service_name="t", database_url="postgresql://x/y", kafka_bootstrap_servers="x"
        )
    )
    app = create_app(runtime, "t", "", access=policy)

    @app.post("/bookings")
    async def book(request: Request) -> dict[str, Any]:
        body: dict[str, Any] = await request.json()
        return body

    @app.get("/teachers/{trn}")
    async def get_teacher(trn: str) -> str:
        return trn

    async with client_of(app) as client:

        async def status(method: str, path: str, headers: dict[str, str], **kw: Any) -> int:
            return (await client.request(method, path, headers=headers, **kw)).status_code

        school_1 = auth_headers("school", school_urn="100001")
        trust_1 = auth_headers("trust", trust_id="1")
        teacher_1 = auth_headers("teacher", trn="1111111")
        assert await status("POST", "/bookings", school_1, json={"school_urn": "100001"}) == 200
        assert await status("POST", "/bookings", school_1, json={"school_urn": "200002"}) == 403
        assert await status("POST", "/bookings", trust_1, json={"school_urn": "100001"}) == 200
        assert await status("POST", "/bookings", trust_1, json={"school_urn": "200002"}) == 403
        assert await status("POST", "/bookings", trust_1, json={}) == 403
        assert await status("POST", "/bookings", teacher_1, json={"school_urn": "100001"}) == 403
        for headers in (school_1, trust_1, teacher_1):
            assert await status("GET", "/teachers/1111111", headers) == 200
            assert await status("GET", "/teachers/2222222", headers) == 403
            assert await status("GET", "/teachers/3333333", headers) == 403  # unknown: nobody's


def test_test_tokens_are_signed_with_the_test_key() -> None:
    token = auth_headers("analyst")["Authorization"].split()[1]
    key = serialization.load_pem_public_key(public_pem_of(signing_key_of_tests()).encode())
    claims = jwt.decode(token, key, algorithms=["EdDSA"], audience="cpd-platform")  # type: ignore[arg-type]
    assert claims["role"] == "analyst"
