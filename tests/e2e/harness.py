"""What end-to-end tests share: a firm of their own on the running stack, HTTP calls
with tokens, simulated carrier traffic, and waiting for projections to catch up."""
from __future__ import annotations

import asyncio
import os
import random
import sys
import time
import uuid
from dataclasses import dataclass, field

import httpx

from adapters.auth import issue_token
from adapters.carrier_simulator import inject_inbound
from firmtext.config import Settings


async def eventually(check, timeout: float = 20.0, interval: float = 0.1):
    """Await ``check()`` until it returns a truthy value (returned) or time runs out."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = await check()
            if last:
                return last
        except AssertionError as exc:
            last = exc
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last: {last!r}")


async def run_cli(settings: Settings, *args: str) -> tuple[int, str, str]:
    """``firmtext ARGS`` against the stack of ``settings``: (exit code, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "firmtext", *args, env={**os.environ, **settings.as_env(), "PYTHONUNBUFFERED": "1"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 300)
    return process.returncode, out.decode(), err.decode()


def random_number() -> str:
    return "+1555" + "".join(random.choice("0123456789") for _ in range(7))


@dataclass
class Firm:
    """A firm synced into the stack, with helpers acting as its staff and its clients."""

    settings: Settings
    http: httpx.AsyncClient
    firm_id: str = field(default_factory=lambda: "firm-" + uuid.uuid4().hex[:10])
    number: str = field(default_factory=random_number)

    def token(self, user: str, *perms: str) -> str:
        return issue_token(self.settings.jwt_secret, self.firm_id, user, list(perms or ("texting",)))

    def headers(self, user: str = "alice", *perms: str) -> dict:
        return {"Authorization": f"Bearer {self.token(user, *perms)}"}

    async def admin(self, method: str, path: str, body: dict | None = None) -> httpx.Response:
        return await self.http.request(method, path, json=body, headers=self.headers("host", "admin"))

    async def as_user(self, user: str, method: str, path: str, **kwargs) -> httpx.Response:
        headers = {**self.headers(user), **kwargs.pop("headers", {})}
        return await self.http.request(method, path, headers=headers, **kwargs)

    async def setup(self, users: dict[str, dict] | None = None, name: str = "Test Law") -> "Firm":
        r = await self.admin("PUT", "/v1/firm", {"name": name, "number": self.number})
        assert r.status_code == 200, r.text
        for user_id, spec in (users or {"alice": {}}).items():
            body = {"name": spec.get("name", user_id.title()), "email": spec.get("email", f"{user_id}@firm.test"),
                    "permissions": spec.get("permissions", ["texting"]),
                    "notify": spec.get("notify", {"email": "none", "desktop": "none"})}
            r = await self.admin("PUT", f"/v1/users/{user_id}", body)
            assert r.status_code == 200, r.text
        return self

    async def text_in(self, from_number: str, body: str, **kwargs) -> httpx.Response:
        r = await inject_inbound(self.settings, from_number, body, to_number=self.number, http=self.http, **kwargs)
        assert r.status_code == 200, r.text
        return r

    async def inbox(self, user: str = "alice", **params) -> list[dict]:
        r = await self.as_user(user, "GET", "/v1/inbox", params=params)
        assert r.status_code == 200, r.text
        return r.json()["conversations"]

    async def start_conversation(self, phone: str, user: str = "alice") -> str:
        """``user`` starts (or finds) the conversation with ``phone``; returns its id."""
        r = await self.as_user(user, "POST", "/v1/conversations", json={"phone": phone})
        assert r.status_code in (200, 201), r.text
        return r.json()["id"]

    async def messages(self, conversation_id: str, user: str = "alice", **params) -> list[dict]:
        r = await self.as_user(user, "GET", f"/v1/conversations/{conversation_id}/messages", params=params)
        assert r.status_code == 200, r.text
        return r.json()["messages"]

    async def conversation_with(self, phone: str, user: str = "alice") -> dict:
        """Wait until the caller's inbox shows a conversation with ``phone``."""
        async def find():
            return next((c for c in await self.inbox(user) if c["phone"] == phone), None)
        return await eventually(find)
