"""Settings, read once from the environment (``FIRMTEXT_*``) by the composition root.

Nothing here connects or touches the disk; see README "Configuration" for the table.
"""
from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

DEV_JWT_SECRET = "firmtext-dev-jwt-secret-change-me"
DEV_TWILIO_AUTH_TOKEN = "firmtext-dev-twilio-auth-token"
DEV_TWILIO_ACCOUNT_SID = "AC00000000000000000000000000000000"
# 32 bytes, base64: only for development; production sets FIRMTEXT_MASTER_KEY.
DEV_MASTER_KEY = "ZmlybXRleHQtZGV2LW1hc3Rlci1rZXktMzItYnl0ZXM="
DEVELOPMENT = "development"
# The values above are public (they are in this repository): anyone holding them can mint
# admin tokens, forge carrier webhooks and unseal every body. Only development may use them.
_SECRETS = (("FIRMTEXT_JWT_SECRET", DEV_JWT_SECRET), ("FIRMTEXT_MASTER_KEY", DEV_MASTER_KEY),
            ("FIRMTEXT_TWILIO_AUTH_TOKEN", DEV_TWILIO_AUTH_TOKEN))


class InsecureSecrets(ValueError):
    """A process outside development mode was given no secret, or a public development one."""


def is_master_key(encoded: str) -> bool:
    """Whether ``encoded`` is base64 of exactly 32 bytes (an AES-256 key)."""
    try:
        return len(base64.b64decode(encoded, validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


def secret_problems(env: Mapping[str, str]) -> list[str]:
    """What is wrong with the secrets in ``env``, one phrase per variable (empty: nothing).

    In development only a malformed master key counts (it would fail at the first sealed body).
    """
    development = (env.get("FIRMTEXT_ENV") or "") == DEVELOPMENT
    problems = []
    for name, development_value in _SECRETS:
        value = env.get(name) or ""
        if not value and not development:
            problems.append(f"{name} is not set")
        elif value == development_value and not development:
            problems.append(f"{name} is the public development value")
        elif value and name == "FIRMTEXT_MASTER_KEY" and not is_master_key(value):
            problems.append(f"{name} is not base64 of 32 bytes (make one with: openssl rand -base64 32)")
    return problems


def check_secrets(env: Mapping[str, str]) -> None:
    """Refuse (:class:`InsecureSecrets`, one sentence naming each variable) unless
    FIRMTEXT_ENV=development or every secret is set, real, and well-formed."""
    problems = secret_problems(env)
    if problems:
        raise InsecureSecrets(f"Refusing to start: {'; '.join(problems)} (set real secrets, or "
                              f"FIRMTEXT_ENV=development to run on the public development values).")


class _FromMapping(EnvSettingsSource):
    """pydantic-settings' environment source, reading a given mapping (a child process's
    environment, a test's) instead of ``os.environ``; an empty value counts as unset."""

    def __init__(self, settings_cls, mapping: Mapping[str, str]) -> None:
        self.mapping = mapping
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {k.lower(): v for k, v in self.mapping.items() if k.startswith("FIRMTEXT_") and v != ""}


class EnvReader(BaseSettings):
    """What the ``FIRMTEXT_*`` environment says, typed and checked by pydantic-settings
    (docs/configuration.md). Values that default to others (the public URL from the port,
    the replication factor from the broker count) stay None here; :meth:`Settings.from_env`
    derives them."""

    model_config = SettingsConfigDict(env_prefix="FIRMTEXT_", extra="ignore", frozen=True)

    var_dir: Path = Path("var")
    http_port: int = Field(8000, ge=1, le=65535)
    public_url: str | None = None
    jwt_secret: str = DEV_JWT_SECRET
    twilio_auth_token: str = DEV_TWILIO_AUTH_TOKEN
    twilio_account_sid: str = DEV_TWILIO_ACCOUNT_SID
    twilio_api_base: str | None = None
    simulator_port: int = Field(8010, ge=1, le=65535)
    database_url: str | None = None
    kafka_bootstrap: str | None = None
    kafka_port: int = Field(9092, ge=1, le=65535)
    kafka_controller_port: int = Field(9093, ge=1, le=65535)
    kafka_heap: str = "512m"
    postgres_port: int = Field(5433, ge=1, le=65535)
    events_topic: str = "firmtext.events"
    topic_partitions: int = Field(6, ge=1)
    topic_replication: int | None = Field(None, ge=1)
    app_id: str = "firmtext"
    master_key: str = DEV_MASTER_KEY
    carrier_rate_per_second: float = Field(1.0, gt=0, validation_alias="FIRMTEXT_CARRIER_RATE")
    status_follow_up_seconds: float = Field(120.0, gt=0)
    commit_executors: int = Field(1, ge=1, le=16)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(8025, ge=1, le=65535)
    smtp_from: str = "texts@firmtext.local"
    media_dir: Path | None = None
    log_level: str = "info"
    environment: str = Field("production", validation_alias="FIRMTEXT_ENV")
    # how many of each process run locally (docs/operations.md "Running as a cluster")
    kafka_brokers: int = Field(1, ge=1)
    workers: int = Field(1, ge=1)
    api_workers: int = Field(1, ge=1)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **_sources):
        return (init_settings,)  # from_env hands over what _FromMapping read

    @classmethod
    def read(cls, env: Mapping[str, str]) -> "EnvReader":
        """``env``'s settings, or ValueError naming every variable that is wrong, in one sentence."""
        try:
            return cls(**_FromMapping(cls, env)())
        except ValidationError as exc:
            wrong = []
            for error in exc.errors():
                name = str(error["loc"][0]) if error["loc"] else "?"
                variable = name.upper() if name.startswith("FIRMTEXT_") else f"FIRMTEXT_{name.upper()}"
                wrong.append(f"{variable}={error.get('input')!r}: {error['msg'].lower()}")
            raise ValueError(f"Refusing to start: {'; '.join(wrong)}.") from None


@dataclass(frozen=True)
class Settings:
    """Every tunable of firmtext. Build with :meth:`from_env`."""

    var_dir: Path = Path("var")
    http_port: int = 8000
    public_url: str = "http://127.0.0.1:8000"
    jwt_secret: str = DEV_JWT_SECRET
    twilio_auth_token: str = DEV_TWILIO_AUTH_TOKEN
    twilio_account_sid: str = DEV_TWILIO_ACCOUNT_SID
    twilio_api_base: str = "http://127.0.0.1:8010"
    simulator_port: int = 8010
    database_url: str | None = None
    kafka_bootstrap: str | None = None
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    kafka_heap: str = "512m"
    postgres_port: int = 5433
    events_topic: str = "firmtext.events"
    topic_partitions: int = 6
    topic_replication: int = 1
    app_id: str = "firmtext"
    master_key: str = DEV_MASTER_KEY
    carrier_rate_per_second: float = 1.0
    # A text handed to the carrier with no final status this long after is looked up there
    # (its status callback may have been lost: streams/status_followup.py).
    status_follow_up_seconds: float = 120.0
    commit_executors: int = 1  # group-commit batches decided at once per API process (domain/group_commit.py)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_from: str = "texts@firmtext.local"
    media_dir: Path | None = None
    log_level: str = "info"
    # Settings() in code carries the development secrets, so it says so; from_env reads FIRMTEXT_ENV.
    environment: str = DEVELOPMENT
    extra: Mapping[str, str] = field(default_factory=dict)
    # --- how many of each process run locally (docs/operations.md "Running as a cluster")
    kafka_brokers: int = 1
    workers: int = 1
    api_workers: int = 1

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, secrets: bool = True) -> "Settings":
        """Read settings from ``env`` (default: ``os.environ``); unset means default.

        Unless FIRMTEXT_ENV=development this refuses (:class:`InsecureSecrets`) missing or
        development secrets; ``secrets=False`` is only for commands that use none (``infra``).
        """
        env = os.environ if env is None else env
        if secrets:
            check_secrets(env)
        read = EnvReader.read(env).model_dump()
        port, sim_port, media = read["http_port"], read["simulator_port"], read["media_dir"]
        derived = {
            "var_dir": Path(read["var_dir"]).resolve(),
            "public_url": (read["public_url"] or f"http://127.0.0.1:{port}").rstrip("/"),
            "twilio_api_base": (read["twilio_api_base"] or f"http://127.0.0.1:{sim_port}").rstrip("/"),
            # Every node holds a copy unless told otherwise: 3 brokers, replication 3.
            "topic_replication": read["topic_replication"] or min(3, read["kafka_brokers"]),
            "media_dir": Path(media).resolve() if media else None,
            "log_level": read["log_level"].lower(),
        }
        return cls(**{**read, **derived})

    @property
    def media_root(self) -> Path:
        """Where the filesystem media store keeps (encrypted) attachments."""
        return self.media_dir or self.var_dir / "media"

    def with_overrides(self, **changes) -> "Settings":
        """A copy with some fields replaced (used by the stack and tests)."""
        return replace(self, **changes)

    def as_env(self) -> dict[str, str]:
        """The settings as ``FIRMTEXT_*`` variables, to hand to child processes."""
        env = {
            "FIRMTEXT_VAR_DIR": str(self.var_dir),
            "FIRMTEXT_HTTP_PORT": str(self.http_port),
            "FIRMTEXT_PUBLIC_URL": self.public_url,
            "FIRMTEXT_JWT_SECRET": self.jwt_secret,
            "FIRMTEXT_TWILIO_AUTH_TOKEN": self.twilio_auth_token,
            "FIRMTEXT_TWILIO_ACCOUNT_SID": self.twilio_account_sid,
            "FIRMTEXT_TWILIO_API_BASE": self.twilio_api_base,
            "FIRMTEXT_SIMULATOR_PORT": str(self.simulator_port),
            "FIRMTEXT_KAFKA_PORT": str(self.kafka_port),
            "FIRMTEXT_KAFKA_CONTROLLER_PORT": str(self.kafka_controller_port),
            "FIRMTEXT_KAFKA_HEAP": self.kafka_heap,
            "FIRMTEXT_POSTGRES_PORT": str(self.postgres_port),
            "FIRMTEXT_EVENTS_TOPIC": self.events_topic,
            "FIRMTEXT_TOPIC_PARTITIONS": str(self.topic_partitions),
            "FIRMTEXT_TOPIC_REPLICATION": str(self.topic_replication),
            "FIRMTEXT_APP_ID": self.app_id,
            "FIRMTEXT_MASTER_KEY": self.master_key,
            "FIRMTEXT_CARRIER_RATE": str(self.carrier_rate_per_second),
            "FIRMTEXT_STATUS_FOLLOW_UP_SECONDS": str(self.status_follow_up_seconds),
            "FIRMTEXT_COMMIT_EXECUTORS": str(self.commit_executors),
            "FIRMTEXT_SMTP_HOST": self.smtp_host,
            "FIRMTEXT_SMTP_PORT": str(self.smtp_port),
            "FIRMTEXT_SMTP_FROM": self.smtp_from,
            "FIRMTEXT_LOG_LEVEL": self.log_level,
            "FIRMTEXT_ENV": self.environment,
        }
        env.update({"FIRMTEXT_KAFKA_BROKERS": str(self.kafka_brokers),
                    "FIRMTEXT_WORKERS": str(self.workers), "FIRMTEXT_API_WORKERS": str(self.api_workers)})
        if self.database_url:
            env["FIRMTEXT_DATABASE_URL"] = self.database_url
        if self.kafka_bootstrap:
            env["FIRMTEXT_KAFKA_BOOTSTRAP"] = self.kafka_bootstrap
        if self.media_dir:
            env["FIRMTEXT_MEDIA_DIR"] = str(self.media_dir)
        return env
