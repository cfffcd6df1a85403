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


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {raw!r}") from None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {raw!r}") from None


def _process_counts(env: Mapping[str, str]) -> dict[str, int]:
    """How many Kafka nodes, Faust workers and API processes to run locally (each >= 1)."""
    counts = {"kafka_brokers": _int(env, "FIRMTEXT_KAFKA_BROKERS", 1),
              "workers": _int(env, "FIRMTEXT_WORKERS", 1),
              "api_workers": _int(env, "FIRMTEXT_API_WORKERS", 1)}
    for name, value in counts.items():
        if value < 1:
            raise ValueError(f"FIRMTEXT_{name.upper()} must be at least 1, not {value}")
    return counts


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
        port = _int(env, "FIRMTEXT_HTTP_PORT", 8000)
        sim_port = _int(env, "FIRMTEXT_SIMULATOR_PORT", 8010)
        var_dir = Path(env.get("FIRMTEXT_VAR_DIR") or "var").resolve()
        media = env.get("FIRMTEXT_MEDIA_DIR")
        return cls(
            var_dir=var_dir,
            http_port=port,
            public_url=(env.get("FIRMTEXT_PUBLIC_URL") or f"http://127.0.0.1:{port}").rstrip("/"),
            jwt_secret=env.get("FIRMTEXT_JWT_SECRET") or DEV_JWT_SECRET,
            twilio_auth_token=env.get("FIRMTEXT_TWILIO_AUTH_TOKEN") or DEV_TWILIO_AUTH_TOKEN,
            twilio_account_sid=env.get("FIRMTEXT_TWILIO_ACCOUNT_SID") or DEV_TWILIO_ACCOUNT_SID,
            twilio_api_base=(env.get("FIRMTEXT_TWILIO_API_BASE") or f"http://127.0.0.1:{sim_port}").rstrip("/"),
            simulator_port=sim_port,
            database_url=env.get("FIRMTEXT_DATABASE_URL") or None,
            kafka_bootstrap=env.get("FIRMTEXT_KAFKA_BOOTSTRAP") or None,
            kafka_port=_int(env, "FIRMTEXT_KAFKA_PORT", 9092),
            kafka_controller_port=_int(env, "FIRMTEXT_KAFKA_CONTROLLER_PORT", 9093),
            kafka_heap=env.get("FIRMTEXT_KAFKA_HEAP") or "512m",
            postgres_port=_int(env, "FIRMTEXT_POSTGRES_PORT", 5433),
            events_topic=env.get("FIRMTEXT_EVENTS_TOPIC") or "firmtext.events",
            topic_partitions=_int(env, "FIRMTEXT_TOPIC_PARTITIONS", 6),
            # Every node holds a copy unless told otherwise: 3 brokers, replication 3.
            topic_replication=_int(env, "FIRMTEXT_TOPIC_REPLICATION",
                                   min(3, _int(env, "FIRMTEXT_KAFKA_BROKERS", 1))),
            app_id=env.get("FIRMTEXT_APP_ID") or "firmtext",
            master_key=env.get("FIRMTEXT_MASTER_KEY") or DEV_MASTER_KEY,
            carrier_rate_per_second=_float(env, "FIRMTEXT_CARRIER_RATE", 1.0),
            status_follow_up_seconds=_float(env, "FIRMTEXT_STATUS_FOLLOW_UP_SECONDS", 120.0),
            smtp_host=env.get("FIRMTEXT_SMTP_HOST") or "127.0.0.1",
            smtp_port=_int(env, "FIRMTEXT_SMTP_PORT", 8025),
            smtp_from=env.get("FIRMTEXT_SMTP_FROM") or "texts@firmtext.local",
            media_dir=Path(media).resolve() if media else None,
            log_level=(env.get("FIRMTEXT_LOG_LEVEL") or "info").lower(),
            environment=env.get("FIRMTEXT_ENV") or "production",
            **_process_counts(env),
        )

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
