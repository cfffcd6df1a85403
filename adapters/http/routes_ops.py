"""Health, readiness and metrics for operators."""
from __future__ import annotations

from typing import TYPE_CHECKING

import asyncio

from aiokafka.admin import AIOKafkaAdminClient
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from adapters.http.deps import container
from adapters.http.openapi import PrometheusResponse, refusals

if TYPE_CHECKING:  # the composition root builds the container; this layer only uses it
    from firmtext.bootstrap import Container

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz():
    """The process is up."""
    return {"status": "ok"}


async def _kafka_ok(bootstrap: str, topic: str) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await asyncio.wait_for(admin.start(), 4)
        return topic in await asyncio.wait_for(admin.list_topics(), 4)
    except Exception:
        return False
    finally:
        try:
            await admin.close()
        except Exception:
            pass


def _postgres_and_relay(c: Container) -> tuple[bool, dict | None]:
    """(PostgreSQL reachable, the relay's report or None)."""
    try:
        report = c.relay_report()
        return True, report.as_dict() if report else None
    except Exception:
        return False, None


@router.get("/readyz", responses=refusals(503))
async def readyz(c: Container = Depends(container)):
    """PostgreSQL and Kafka are reachable (503 names what is not). The outbox relay's
    state is reported too: texts are still accepted while it is failing (they wait in
    the event store), so a failing relay makes the answer "degraded", not 503."""
    pg, relay = await c.run_sync(_postgres_and_relay, c)
    kafka = await _kafka_ok(c.kafka_bootstrap, c.settings.events_topic)
    checks = {"postgres": "ok" if pg else "unreachable", "kafka": "ok" if kafka else "unreachable"}
    if pg and kafka:
        healthy = relay is not None and relay["state"] in ("active", "standby")
        return {"status": "ready" if healthy else "degraded", "checks": checks, "relay": relay}
    down = ", ".join(k for k, v in checks.items() if v != "ok")
    return JSONResponse({"error": {"code": "not_ready", "message": f"Not ready: {down} unreachable."},
                         "checks": checks, "relay": relay}, status_code=503)


@router.get("/metrics", response_class=PrometheusResponse)
def metrics(c: Container = Depends(container)):
    return Response(c.metrics.render(), media_type="text/plain; version=0.0.4")
