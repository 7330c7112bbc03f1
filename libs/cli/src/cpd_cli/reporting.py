"""``cpd reporting``, ``cpd trusts`` and ``cpd feed``: read models, trust credentials, feeds."""

from __future__ import annotations

import json
import time
from datetime import date
from typing import Annotated, Any

import httpx
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from cpd_cli.client import call, console, fail, service_url

reporting_app = typer.Typer(
    help="Reporting's read models: generations, rebuild, as-of snapshots, consistency check.",
    no_args_is_help=True,
)
trusts_app = typer.Typer(help="Trusts' feed credentials (API keys).", no_args_is_help=True)
feed_app = typer.Typer(help="Follow a trust's event feed.", no_args_is_help=True)

READ_MODELS = "/admin/read-models"


def _generations() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = call("GET", "reporting", READ_MODELS)
    return found


@reporting_app.command("generations")
def generations() -> None:
    """List the generations of the read models, their progress and lag."""
    table = Table("generation", "status", "as of", "consumed", "applied", "failed", "lag", "since")
    for g in _generations():
        p = g["progress"]
        table.add_row(
            str(g["generation"]),
            g["status"],
            g["as_of"] or "",
            str(p.get("consumed", "")),
            str(p.get("applied", "")),
            str(p.get("failed", "")),
            "" if g["lag_events"] is None else str(g["lag_events"]),
            (g["live_since"] or g["created_at"])[:19],
        )
    console.print(table)


def _follow(generation: int, done: str, what: str) -> None:
    """A progress bar over a building generation until it reaches status ``done``."""
    with Progress(
        TextColumn(f"[bold]{what}[/bold] g{generation}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} events/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        task = bar.add_task(what, total=None, rate="-")
        while True:
            found = [g for g in _generations() if g["generation"] == generation]
            if not found:
                fail(f"generation {generation} is gone (dropped by an operator?)")
            g = found[0]
            consumed = int(g["progress"].get("consumed", 0))
            lag = g["lag_events"]
            total = consumed + lag if lag is not None else None
            bar.update(
                task,
                completed=consumed,
                total=total,
                rate=g["progress"].get("events_per_second", "-"),
            )
            if g["status"] == done:
                bar.update(task, total=consumed, completed=consumed)
                return
            time.sleep(1)


@reporting_app.command("rebuild")
def rebuild(
    wait: Annotated[bool, typer.Option(help="Follow it until the new generation is live")] = True,
) -> None:
    """Rebuild every read model from the beginning of the topics, beside the live one.

    The live read models keep serving; the rebuild goes live by itself once caught up. Ctrl-C
    stops watching, not the rebuild.
    """
    created = call("POST", "reporting", f"{READ_MODELS}/rebuild")
    console.print(f"rebuilding into generation {created['generation']} ({created['schema_name']})")
    if wait:
        try:
            _follow(created["generation"], "live", "rebuild")
        except KeyboardInterrupt:
            console.print("stopped watching; the rebuild goes on (`cpd reporting generations`)")
            raise typer.Exit(130) from None
        console.print(f"[green]generation {created['generation']} is live[/green]")


@reporting_app.command("snapshot")
def snapshot(
    as_of: Annotated[str, typer.Argument(help="A past day, YYYY-MM-DD")],
    wait: Annotated[bool, typer.Option(help="Follow it until it is ready")] = True,
) -> None:
    """Build the read models as they stood at the end of a day (read them with ?as_of=)."""
    try:
        day = date.fromisoformat(as_of)
    except ValueError:
        fail(f"not a date: {as_of!r} (YYYY-MM-DD)")
    created = call("POST", "reporting", f"{READ_MODELS}/snapshots", json={"as_of": day.isoformat()})
    if wait:
        _follow(created["generation"], "snapshot", f"snapshot {day}")
    console.print(f"snapshot as of {day}: generation {created['generation']}")


@reporting_app.command("check")
def check() -> None:
    """Compare the live read models with a clean rebuild (exit 1 if any table differs)."""
    with console.status("rebuilding into a scratch generation and comparing..."):
        result = call("POST", "reporting", f"{READ_MODELS}/check")
    table = Table("table", "live rows", "rebuilt rows", "equal")
    for t in result["tables"]:
        mark = "[green]yes[/green]" if t["equal"] else "[red]NO[/red]"
        table.add_row(t["table"], str(t["live_rows"]), str(t["rebuilt_rows"]), mark)
    console.print(table)
    if not result["consistent"]:
        fail("the live read models differ from a clean rebuild")
    console.print("[green]consistent[/green]")


@trusts_app.command("issue-key")
def issue_key(
    trust_id: str,
    label: Annotated[str, typer.Option(help="What the key is for, e.g. 'HR system'")],
) -> None:
    """Issue an API key for a trust's feeds (shown once: store it now)."""
    issued = call(
        "POST", "reporting", f"/admin/trusts/{trust_id}/credentials", json={"label": label}
    )
    console.print(f"key id {issued['key_id']} for trust {trust_id}")
    console.print(f"[bold]{issued['api_key']}[/bold]")
    console.print("shown once: only its hash is kept")


@trusts_app.command("keys")
def keys(trust_id: str) -> None:
    """List a trust's API keys (never the secrets)."""
    table = Table("key id", "label", "created", "last used", "revoked")
    for key in call("GET", "reporting", f"/admin/trusts/{trust_id}/credentials"):
        table.add_row(
            key["key_id"],
            key["label"],
            str(key.get("created_at", ""))[:19],
            str(key.get("last_used_at") or "")[:19],
            str(key.get("revoked_at") or "")[:19],
        )
    console.print(table)


@trusts_app.command("revoke-key")
def revoke_key(trust_id: str, key_id: str) -> None:
    """Revoke one of a trust's API keys; it stops working at once."""
    call("DELETE", "reporting", f"/admin/trusts/{trust_id}/credentials/{key_id}")
    console.print(f"revoked {key_id}")


@feed_app.command("tail")
def tail(
    trust_id: str,
    key: Annotated[str, typer.Option(envvar="CPD_TRUST_KEY", help="The trust's API key")],
    after: Annotated[str | None, typer.Option(help="Start after this cursor")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON item per line")] = False,
) -> None:
    """Follow a trust's feed live (server-sent events) from a cursor; Ctrl-C stops."""
    url = f"{service_url('reporting')}/trusts/{trust_id}/feed/stream"
    params = {"after": after} if after else {}
    headers = {"Authorization": f"Bearer {key}", "Accept": "text/event-stream"}
    try:
        with httpx.stream("GET", url, params=params, headers=headers, timeout=None) as response:
            if response.status_code >= 400:
                response.read()
                fail(f"reporting answered {response.status_code}: {response.text}")
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                item = json.loads(line[5:])
                if as_json:
                    print(json.dumps(item), flush=True)
                else:
                    console.print(
                        f"{item.get('occurred_at', '')[:19]}  {item.get('event_type', ''):28}"
                        f" {item.get('stream_id', '')}  by {item.get('actor', '')}"
                    )
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except httpx.HTTPError as error:
        fail(f"reporting does not answer at {url}: {error}")
