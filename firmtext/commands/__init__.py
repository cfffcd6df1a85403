"""Subcommands of the ``firmtext`` command, one module each."""
