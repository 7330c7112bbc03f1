"""``cpd token``: tokens signed with the platform's key (the embedded default).

The key is the state folder's ``signing-key`` (``CPD_HOME``, default ``.cpd``), made by
``cpd up``; whoever can read it can act as any role, so it is the operator's (0600). With an
external OIDC issuer (production), tokens come from that issuer instead. See docs/security.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cpd_cli.client import console, fail
from cpd_platform.auth import (
    SIGNING_KEY_FILE,
    Role,
    decode_unverified,
    ensure_signing_key,
    rotate_signing_key,
    token_from_home,
)

HomeOption = Annotated[
    Path, typer.Option(envvar="CPD_HOME", help="State folder holding the signing key")
]


def token(
    role: Annotated[Role, typer.Option(help="operator, trust, school, teacher or analyst")],
    trust: Annotated[str | None, typer.Option(help="The trust (role trust)")] = None,
    school: Annotated[str | None, typer.Option(help="The school's URN (role school)")] = None,
    trn: Annotated[str | None, typer.Option(help="The teacher's TRN (role teacher)")] = None,
    subject: Annotated[
        str | None, typer.Option(help="Who it is for (the actor of their events)")
    ] = None,
    ttl: Annotated[int, typer.Option(help="Seconds it is valid for", min=1)] = 8 * 3600,
    show: Annotated[bool, typer.Option(help="Print its claims to stderr too")] = False,
    home: HomeOption = Path(".cpd"),
) -> None:
    """Print a bearer token signed with the platform's key (an operator's action)."""
    if not (home / SIGNING_KEY_FILE).exists():
        fail(f"no signing key in {home} (run `cpd up` once, or set CPD_HOME)")
    try:
        found = token_from_home(
            home,
            role,
            subject=subject,
            trust_id=trust,
            school_urn=school,
            trn=trn,
            ttl_s=ttl,
        )
    except ValueError as error:
        fail(str(error))
    if found is None:
        fail(f"cannot read the signing key in {home}")
    if show:
        typer.echo(json.dumps(decode_unverified(found), indent=2), err=True)
    print(found)


def rotate(home: HomeOption = Path(".cpd")) -> None:
    """Make a new signing key; the old one stays trusted until signing-key.previous is deleted.

    Restart the services (`cpd up`) to load the new public key; tokens are signed with the new
    key from now on.
    """
    if not (home / SIGNING_KEY_FILE).exists():
        ensure_signing_key(home)
        console.print(f"made a signing key in {home}")
        return
    rotate_signing_key(home)
    console.print(
        f"new signing key in {home}; the previous one is trusted until you delete"
        f" {home / 'signing-key.previous'} and restart"
    )
