"""The ``firmtext`` command. Each subcommand lives in ``firmtext/commands/<name>.py``
and exposes ``register(subparsers)``; the parser sets ``func`` to run it. Modules whose
name starts with ``_`` are a command's helpers, not commands."""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import firmtext.commands


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every command module's subcommands attached."""
    parser = argparse.ArgumentParser(
        prog="firmtext",
        description="Two-way texting between law firms and their clients: run, operate, audit.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(firmtext.commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"firmtext.commands.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse ``argv`` and run the chosen command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except SystemExit:
        raise
    except Exception as exc:  # the edge: a person reads this, not a stack trace
        if getattr(args, "debug", False):
            raise
        print(f"firmtext {args.command}: {exc}", file=sys.stderr)
        return 1
