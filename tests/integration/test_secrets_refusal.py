"""Real ``firmtext`` processes outside development refuse to start on missing or public
secrets, with one sentence naming the variable, and the API never listens."""
from __future__ import annotations

import base64
import os
import subprocess
import sys
import time

import httpx
import pytest

from firmtext.config import DEV_JWT_SECRET
from firmtext.infra.daemon import free_port, port_in_use

SECRETS = ("FIRMTEXT_JWT_SECRET", "FIRMTEXT_MASTER_KEY", "FIRMTEXT_TWILIO_AUTH_TOKEN")
REAL = {"FIRMTEXT_JWT_SECRET": "a-real-jwt-secret-of-this-firm",
        "FIRMTEXT_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "FIRMTEXT_TWILIO_AUTH_TOKEN": "a-real-twilio-auth-token"}


def production_env(port: int, database_url: str, **secrets: str) -> dict[str, str]:
    """The test environment without its secrets, in production mode, on its own port."""
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return {**env, "FIRMTEXT_ENV": "production", "FIRMTEXT_HTTP_PORT": str(port),
            "FIRMTEXT_DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1", **secrets}


def run_until_exit(args: list[str], env: dict, port: int, timeout: float = 60) -> tuple[int, str, bool]:
    """(exit status, stderr, whether the port was ever listened on) of a process that should end."""
    process = subprocess.Popen([sys.executable, "-m", "firmtext", *args], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    listened, deadline = False, time.monotonic() + timeout
    try:
        while process.poll() is None and time.monotonic() < deadline:
            listened = listened or port_in_use(port)
            time.sleep(0.05)
    finally:
        if process.poll() is None:
            process.kill()
        _, err = process.communicate(timeout=10)
    return process.returncode, err, listened


def test_api_without_secrets_exits_with_one_sentence_and_never_listens(database_url: str) -> None:
    port = free_port()
    status, err, listened = run_until_exit(["api"], production_env(port, database_url), port)
    assert status not in (0, None) and status > 0, err
    assert not listened
    sentence = err.strip().splitlines()[-1]
    assert all(f"{name} is not set" in sentence for name in SECRETS), err
    assert "FIRMTEXT_ENV=development" in sentence and "Traceback" not in err


@pytest.mark.parametrize("command", [["relay"], ["worker"], ["simulator"], ["migrate"],
                                     ["token", "--firm", "f", "--user", "u"]])
def test_every_component_refuses_a_public_development_secret(command, database_url: str) -> None:
    port = free_port()
    env = production_env(port, database_url, **{**REAL, "FIRMTEXT_JWT_SECRET": DEV_JWT_SECRET})
    status, err, _ = run_until_exit(command, env, port)
    assert status not in (0, None) and status > 0, err
    assert "FIRMTEXT_JWT_SECRET is the public development value" in err
    assert DEV_JWT_SECRET not in err  # the refusal names the variable, never echoes a secret


def test_api_with_real_secrets_serves_in_production(database_url: str) -> None:
    """The control: the same command with real secrets does start (so the refusal is the secrets')."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "firmtext", "api"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=production_env(port, database_url, **REAL))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not port_in_use(port):
            assert process.poll() is None, "the API exited although its secrets are real"
            time.sleep(0.1)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).json() == {"status": "ok"}
    finally:
        process.terminate()
        process.wait(timeout=30)
