"""``firmtext open``: print the URL of the staff web inbox, signed in as one user.

The token rides in the URL fragment (``/app/#token=…``): browsers never send a
fragment to the server, so it stays out of access logs and proxies; the page moves it
into sessionStorage and removes it from the address bar.
"""
from __future__ import annotations

import argparse

from adapters.auth import issue_token
from firmtext.commands.token import identity_arguments
from firmtext.config import Settings


def inbox_url(settings: Settings, firm: str, user: str, perms: list[str], ttl: int) -> str:
    """The page's URL with a fresh development token for ``user`` of ``firm``."""
    return f"{settings.public_url}/app/#token={issue_token(settings.jwt_secret, firm, user, perms, ttl)}"


def run(args: argparse.Namespace) -> int:
    print(inbox_url(Settings.from_env(), args.firm, args.user, args.perm or ["texting"], args.ttl))
    return 0


def register(sub) -> None:
    p = sub.add_parser("open", help="print the web inbox's URL, signed in as a user (development)")
    identity_arguments(p, hours=8)
    p.set_defaults(func=run)
