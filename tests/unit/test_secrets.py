"""Outside development, no process starts on missing, public or malformed secrets."""
from __future__ import annotations

import base64
import os

import pytest

from firmtext.config import (DEV_JWT_SECRET, DEV_MASTER_KEY, DEV_TWILIO_AUTH_TOKEN, InsecureSecrets,
                             Settings)

REAL = {"FIRMTEXT_JWT_SECRET": "a-real-jwt-secret-of-this-firm",
        "FIRMTEXT_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "FIRMTEXT_TWILIO_AUTH_TOKEN": "a-real-twilio-auth-token"}
NAMES = tuple(REAL)


def refusal(env: dict) -> str:
    with pytest.raises(InsecureSecrets) as refused:
        Settings.from_env(env)
    return str(refused.value)


@pytest.mark.parametrize("mode", [{}, {"FIRMTEXT_ENV": "production"}, {"FIRMTEXT_ENV": "Development"}])
def test_missing_secrets_are_refused_unless_development_is_said(mode) -> None:
    message = refusal(mode)
    assert all(f"{name} is not set" in message for name in NAMES), message
    assert "FIRMTEXT_ENV=development" in message
    assert ". " not in message and message.endswith(".")  # one sentence a person can act on


@pytest.mark.parametrize("name, development_value", [("FIRMTEXT_JWT_SECRET", DEV_JWT_SECRET),
                                                     ("FIRMTEXT_MASTER_KEY", DEV_MASTER_KEY),
                                                     ("FIRMTEXT_TWILIO_AUTH_TOKEN", DEV_TWILIO_AUTH_TOKEN)])
def test_each_public_development_value_is_refused(name, development_value) -> None:
    message = refusal({**REAL, name: development_value, "FIRMTEXT_ENV": "production"})
    assert f"{name} is the public development value" in message
    assert [other for other in NAMES if other != name and other in message] == []


@pytest.mark.parametrize("key", ["not base64!", base64.b64encode(b"sixteen byte key").decode(), "QUJD"])
def test_master_key_must_be_base64_of_32_bytes(key) -> None:
    for mode in ("production", "development"):
        message = refusal({**REAL, "FIRMTEXT_MASTER_KEY": key, "FIRMTEXT_ENV": mode})
        assert "FIRMTEXT_MASTER_KEY is not base64 of 32 bytes" in message


def test_real_secrets_start_and_reach_child_processes() -> None:
    settings = Settings.from_env({**REAL, "FIRMTEXT_ENV": "production"})
    assert (settings.jwt_secret, settings.master_key, settings.twilio_auth_token) == tuple(REAL.values())
    child = settings.as_env()
    assert child["FIRMTEXT_ENV"] == "production"
    assert Settings.from_env(child) == settings


def test_development_runs_on_the_development_values() -> None:
    settings = Settings.from_env({"FIRMTEXT_ENV": "development"})
    assert settings.jwt_secret == DEV_JWT_SECRET and settings.master_key == DEV_MASTER_KEY
    assert Settings.from_env(settings.as_env()).environment == "development"


def test_infrastructure_commands_may_read_settings_without_secrets() -> None:
    assert Settings.from_env({}, secrets=False).kafka_port == 9092
