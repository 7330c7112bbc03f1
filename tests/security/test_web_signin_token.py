"""The web dashboard's sign-in accepts an operator's platform token, and only an operator's."""

from __future__ import annotations

from typing import Any

from cpd_platform.auth import AuthSettings, TokenVerifier, issue_token, public_pem_of
from cpd_platform.testing import signing_key_of_tests
from reporting.web.auth import Authority


async def test_an_operator_jwt_signs_in_as_operator_and_other_roles_do_not() -> None:
    verifier = TokenVerifier(
        AuthSettings(CPD_AUTH_PUBLIC_KEY=public_pem_of(signing_key_of_tests()))
    )
    authority = Authority("web-token")
    pool: Any = None  # not reached: neither credential is a feed key

    def token(role: str, **claims: str) -> str:
        return issue_token(signing_key_of_tests(), role, **claims)

    operator = await authority.sign_in(pool, token("operator"), verifier)
    assert operator is not None
    assert operator.is_operator
    assert await authority.sign_in(pool, token("analyst"), verifier) is None
    assert await authority.sign_in(pool, token("trust", trust_id="2044"), verifier) is None
    expired = issue_token(signing_key_of_tests(), "operator", ttl_s=1, now=0)
    assert await authority.sign_in(pool, expired, verifier) is None
    assert await authority.sign_in(pool, token("operator"), None) is None  # no verifier
    web = await authority.sign_in(pool, "web-token", verifier)
    assert web is not None
    assert web.is_operator
