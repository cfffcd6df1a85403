"""The API's CPU per inbound webhook, in process: signed webhooks handed straight to the
API's ASGI app (real PostgreSQL, the real group commit; no uvicorn, no Kafka, no other
process), 64 in flight. Its same-run ceiling is the bare app of ``bench/bare_app.py``
driven the same way, so the ratio is what our handling costs over FastAPI's minimum.

Process CPU over wall time is the whole process's (every thread), which a whole-pipeline
run on 2 shared cores cannot tell apart from its neighbours' noise: use this to A/B a
change to the API's own path (``ROOT=<other tree>`` runs another checkout's code).

``python -m bench.api_inprocess [WEBHOOKS]`` on the bench's own servers (var/bench).
"""
from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
import urllib.parse

if os.environ.get("ROOT"):  # another checkout's code, for an A/B
    sys.path.insert(0, os.environ["ROOT"])

from adapters.auth import issue_token  # noqa: E402
from adapters.twilio_signature import compute_signature  # noqa: E402
from bench.load import PATH, Client, form_for  # noqa: E402

IN_FLIGHT = 64


def scope_of(body: bytes, signature: str) -> dict:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": PATH, "raw_path": PATH.encode(), "query_string": b"", "root_path": "",
            "headers": [(b"host", b"bench"), (b"content-type", b"application/x-www-form-urlencoded"),
                        (b"content-length", str(len(body)).encode()), (b"x-twilio-signature", signature.encode())],
            "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {}}


async def call(app, scope: dict, body: bytes) -> int:
    """One request through ``app``; its status."""
    delivered, status = False, []

    async def receive():
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never hangs up

    async def send(message):
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    return status[0]


async def drive(app, settings, clients: list[Client], count: int, run_id: str) -> dict:
    """``count`` signed webhooks, IN_FLIGHT at a time. The requests are signed before the
    clock starts, so only the app's CPU is counted."""
    pick = random.Random(run_id).choice
    prepared = []
    for i in range(count):
        form = form_for(pick(clients), "SM" + f"{run_id}{i:08d}".rjust(32, "0")[-32:], f"hello {i}",
                        settings.twilio_account_sid)
        body = urllib.parse.urlencode(form).encode()
        signature = compute_signature(settings.twilio_auth_token, settings.public_url + PATH,
                                      {k: [v] for k, v in form.items()})
        prepared.append((scope_of(body, signature), body))
    queue, codes = iter(prepared), {}

    async def worker():
        for scope, body in queue:
            code = await call(app, scope, body)
            codes[code] = codes.get(code, 0) + 1

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(IN_FLIGHT)])
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if set(codes) != {200}:  # a refused webhook costs less: the figure would flatter the code
        raise RuntimeError(f"not every webhook was accepted: {codes}")
    return {"webhooks": count, "statuses": codes, "cpu_ms_per_webhook": round(cpu / count * 1000, 4),
            "per_second": round(count / wall, 1)}


async def register(app, settings, seed: int) -> list[Client]:
    import httpx

    rng, clients = random.Random(seed), []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as http:
        for f in range(20):
            firm, number = f"inproc-{seed:x}-{f}", f"+1555{rng.randrange(10**7):07d}"
            admin = {"Authorization": f"Bearer {issue_token(settings.jwt_secret, firm, 'host', ['admin'])}"}
            r = await http.put("/v1/firm", json={"name": f"Firm {f}", "number": number}, headers=admin)
            assert r.status_code == 200, r.text
            clients += [Client(firm, number, f"+1555{rng.randrange(10**7):07d}") for _ in range(1000)]
    return clients


def main(count: int) -> dict:
    from adapters.http.app import create_app
    from bench import bare_app
    from bench.run import bench_settings
    from firmtext.bootstrap import Container
    from firmtext.commands.migrate import migrate
    from firmtext.infra.postgres import create_database, drop_database, server_url
    from firmtext.infra.services import start_infrastructure, stop_infrastructure

    run_id = f"{int(time.time() * 1000):x}"
    infra, database = start_infrastructure(bench_settings()), f"inproc_{run_id}"
    settings = infra.settings.with_overrides(database_url=create_database(server_url(infra.settings), database),
                                       events_topic=f"firmtext.events.inproc.{run_id}", app_id=f"inproc-{run_id}")
    migrate(settings)
    container = Container(settings, pool_size=16)
    try:
        app = create_app(container)

        async def both():
            clients = await register(app, settings, int(run_id, 16))
            await drive(app, settings, clients, 300, run_id + "a")  # warm: caches, prepared statements
            api = await drive(app, settings, clients, count, run_id)
            bare = await drive(bare_app.app, settings, clients, count, run_id + "b")
            return api, bare

        api, bare = asyncio.run(both())
    finally:
        container.close()
        drop_database(server_url(settings), database)
        stop_infrastructure(settings, infra.started)  # what this run started; a running one stays
    return {"api": api, "bare_fastapi_ceiling": bare,
            "ratio_of_ceiling_cpu": round(bare["cpu_ms_per_webhook"] / api["cpu_ms_per_webhook"], 3)}


if __name__ == "__main__":
    from pathlib import Path

    result = json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000), indent=2)
    (Path(__file__).parent / "results" / "api_inprocess.json").write_text(result + "\n")
    print(result)
