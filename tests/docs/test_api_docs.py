"""The published API documents in docs/api are current with the code (`make api-docs`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cpd_cli.apidocs import documents, render

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api"


@pytest.mark.parametrize("name", sorted(documents()))
def test_the_committed_document_is_current(name: str) -> None:
    committed = DOCS / name
    assert committed.exists(), f"{committed} is missing: run `make api-docs`"
    assert committed.read_text() == render(documents()[name]), (
        f"{committed} is stale: run `make api-docs` and commit it"
    )


def test_every_feed_route_is_documented() -> None:
    paths = documents()["reporting.openapi.json"]["paths"]
    for path in (
        "/trusts/{trust_id}/feed",
        "/trusts/{trust_id}/feed/stream",
        "/trusts/{trust_id}/webhooks",
        "/teachers/{trn}/timeline",
        "/admin/read-models/rebuild",
        "/analysts/datasets/{name}/export",
    ):
        assert path in paths
    feeds = documents()["trust-feeds.asyncapi.json"]
    assert feeds["asyncapi"].startswith("3.")
