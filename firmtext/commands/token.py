"""``firmtext token``: print a bearer token for development and tests."""
from __future__ import annotations

import argparse

from adapters.auth import issue_token
from domain.input_policy import InputRefused, check_id
from firmtext.config import Settings


def run(args: argparse.Namespace) -> int:
    try:  # the API answers 401 to a token whose ids break the grammar (docs/input-policy.md)
        check_id(args.firm, "--firm")
        check_id(args.user, "--user")
    except InputRefused as refused:
        raise SystemExit(f"firmtext token: {refused.message}") from None
    settings = Settings.from_env()
    print(issue_token(settings.jwt_secret, args.firm, args.user, args.perm or ["texting"], args.ttl))
    return 0


def identity_arguments(p: argparse.ArgumentParser, hours: int) -> None:
    """--firm, --user, --perm and --ttl: who a development token signs in, for how long."""
    p.add_argument("--firm", required=True, help="firm id (the `firm` claim)")
    p.add_argument("--user", required=True, help="user id (the `sub` claim)")
    p.add_argument("--perm", action="append", choices=["texting", "admin"],
                   help="a permission; repeat for several (default: texting)")
    p.add_argument("--ttl", type=int, default=hours * 3600, help=f"seconds until it expires (default {hours} h)")


def register(sub) -> None:
    p = sub.add_parser("token", help="print a development bearer token (HS256, FIRMTEXT_JWT_SECRET)")
    identity_arguments(p, hours=12)
    p.set_defaults(func=run)
