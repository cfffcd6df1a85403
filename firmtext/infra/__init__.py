"""Local infrastructure firmtext starts for itself, and its process supervisor.

- ``kafka``: ``ensure_kafka(settings) -> bootstrap``, ``stop_kafka(settings)`` (one node or
  FIRMTEXT_KAFKA_BROKERS nodes; layout and ports in ``kafka_setup``)
- ``postgres``: ``ensure_postgres(settings, database) -> url``, ``stop_postgres(settings)``,
  ``create_database(url, name)``, ``drop_database(url, name)``
- ``services``: both at once (``start_infrastructure``, ``stop_infrastructure``, ``status``)
- ``stack``: ``Stack`` runs migrate, simulator, api, relay and worker(s) as child processes
- ``supervisor``: ``Supervisor`` restarts them with capped backoff, never giving up
- ``state``: ``firmtext up``'s state file, read by ``infra status --json``

Nothing is imported or started here: importing a module never does I/O.
"""
