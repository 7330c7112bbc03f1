"""``cpd token`` mints tokens the services accept; the CLI's requests carry one."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cpd_cli import client
from cpd_cli.main import app
from cpd_platform.auth import PUBLIC_KEY_FILE, AuthSettings, Role, TokenVerifier, ensure_signing_key


async def test_cpd_token_mints_what_the_services_verify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["token", "--role", "operator", "--home", str(tmp_path)])
    assert missing.exit_code == 1
    ensure_signing_key(tmp_path)
    minted = runner.invoke(
        app, ["token", "--role", "trust", "--trust", "2044", "--home", str(tmp_path)]
    )
    assert minted.exit_code == 0, minted.output
    verifier = TokenVerifier(AuthSettings(CPD_AUTH_PUBLIC_KEY=str(tmp_path / PUBLIC_KEY_FILE)))
    principal = await verifier.verify(minted.stdout.strip())
    assert (principal.role, principal.trust_id) == (Role.TRUST, "2044")
    unbound = runner.invoke(app, ["token", "--role", "teacher", "--home", str(tmp_path)])
    assert unbound.exit_code == 1

    monkeypatch.delenv("CPD_TOKEN", raising=False)
    monkeypatch.setenv("CPD_HOME", str(tmp_path))
    token = client.auth_headers()["Authorization"].removeprefix("Bearer ")
    assert (await verifier.verify(token)).role == Role.OPERATOR  # signed from the state folder
    monkeypatch.setenv("CPD_TOKEN", "given")
    assert client.auth_headers() == {"Authorization": "Bearer given"}
    monkeypatch.delenv("CPD_TOKEN")
    monkeypatch.setenv("CPD_HOME", str(tmp_path / "elsewhere"))
    assert client.auth_headers() == {}
