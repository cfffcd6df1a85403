"""The e2e tier's fixtures (mailbox, running, http, settings, firm) live in
tests/conftest.py, shared with the browser tier so one session starts one stack."""
