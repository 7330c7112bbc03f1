"""The committed AsyncAPI documents pass the AsyncAPI CLI's validator (offline).

The CLI is pinned in tools/asyncapi (package.json and its lockfile) and installed by
scripts/bootstrap.sh (`npm ci --prefix tools/asyncapi`). In CI (CI=true) a missing CLI fails the
test; on a machine without Node.js it is skipped, loudly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools" / "asyncapi"
CLI = TOOLS / "node_modules" / ".bin" / "asyncapi"
DOCUMENTS = ["docs/api/kafka.asyncapi.json", "docs/api/trust-feeds.asyncapi.json"]


def _cli_or_fail() -> list[str]:
    npx = shutil.which("npx")
    problem = None
    if npx is None:
        problem = "npx (Node.js and npm) is not installed"
    elif not CLI.exists():
        problem = f"the AsyncAPI CLI is not installed in {TOOLS}"
    if problem is not None:
        how = "run scripts/bootstrap.sh (npm ci --prefix tools/asyncapi --no-audit --no-fund)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{problem}: {how}")
        pytest.skip(f"NOT VALIDATED with the AsyncAPI CLI: {problem}; {how}")
    assert npx is not None
    # --no: never let npx fetch a package of that name if the local one went missing
    return [npx, "--no", "--prefix", str(TOOLS), "asyncapi"]


@pytest.fixture(scope="module")
def asyncapi() -> list[str]:
    command = _cli_or_fail()
    subprocess.run(
        [*command, "config", "analytics", "--disable"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return command


@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_asyncapi_cli_finds_no_errors(asyncapi: list[str], document: str) -> None:
    result = subprocess.run(
        [*asyncapi, "validate", document, "--fail-severity", "error"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{document}:\n{result.stdout}\n{result.stderr}"


def test_the_lockfile_names_no_registry() -> None:
    """npm ci installs from whichever registry npm is configured with."""
    lock = (TOOLS / "package-lock.json").read_text()
    assert '"resolved"' not in lock
    assert "registry." not in lock
    assert '"@asyncapi/cli": "4.1.1"' in (TOOLS / "package.json").read_text()
