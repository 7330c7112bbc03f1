"""The dashboard's operator token and session cookies, without a database or a browser."""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from reporting.web import install_web
from reporting.web.auth import Authority, Session, read_operator_token, resolve_operator_token
from reporting.web.formatting import describe, money, percent


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("CPD_OPERATOR_TOKEN", raising=False)
    monkeypatch.delenv("CPD_OPERATOR_TOKEN_FILE", raising=False)
    monkeypatch.setenv("CPD_HOME", str(tmp_path))
    return tmp_path


def test_a_token_is_made_once_kept_private_and_read_back(home: Path) -> None:
    token = resolve_operator_token()
    kept = home / "operator-token"
    assert kept.read_text().strip() == token
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert resolve_operator_token() == token  # a restart keeps it
    assert read_operator_token(home) == token  # what `cpd up` prints


def test_the_environment_wins(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPD_OPERATOR_TOKEN", "from-env")
    assert resolve_operator_token() == "from-env"
    assert read_operator_token(home) == "from-env"
    assert not (home / "operator-token").exists()


async def test_the_app_settles_its_token_when_it_starts(home: Path) -> None:
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield

    app = FastAPI(lifespan=lifespan)
    install_web(app)
    assert not (home / "operator-token").exists()
    async with app.router.lifespan_context(app):
        assert (home / "operator-token").exists()


def test_cookies_are_signed_bound_and_expire() -> None:
    authority = Authority("secret-token")
    session = Session("trust", "2044", "abcdef0123456789", int(time.time()) + 60)
    cookie = authority.cookie_value(session)
    assert authority.read_cookie(cookie) == session

    body, signature = cookie.rsplit(".", 1)
    forged = Authority("secret-token").cookie_value(
        Session("trust", "3055", "abcdef0123456789", session.expires)
    )
    assert authority.read_cookie(forged.rsplit(".", 1)[0] + "." + signature) is None
    assert authority.read_cookie(body + "." + "0" * 64) is None
    assert Authority("another-token").read_cookie(cookie) is None  # a new token ends sessions
    assert authority.read_cookie(cookie, now=session.expires + 1) is None
    assert authority.read_cookie("garbage") is None
    assert authority.is_operator_token("secret-token")
    assert not authority.is_operator_token("secret-token ")
    assert os.environ.get("CPD_OPERATOR_TOKEN") != "secret-token"


def test_figures_read_plainly() -> None:
    assert money(240_000) == "£2,400"
    assert money(1_234) == "£12.34"
    assert money(-50_000) == "-£500"
    assert percent(None) == "\u2013"
    assert percent(33.333) == "33.3%"
    assert describe("HoursLogged", {"hours": "30.00", "activity_type": "course"}) == (
        "Logged 30 hours of course"
    )
    assert describe("SomethingNew", {}) == "Something new"
