"""Rebuilding a projection from the events topic into a fresh schema and swapping it in:
``run`` (the Rebuild: claim, replay, index, catch up, swap), ``replay`` (the replayers,
in-process or one per child process), ``topic_range`` (reading the topic directly),
``schemas`` (the rebuild's schemas and indexes) and ``swap`` (the atomic swap)."""
