"""Health, readiness and metrics for operators."""
from __future__ import annotations

import asyncio

from aiokafka.admin import AIOKafkaAdminClient
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from adapters.http.deps import container
from adapters.http.openapi import PrometheusResponse, refusals
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


def _postgres_ok(c: Container) -> bool:
    try:
        with c.pool.connection(timeout=3) as conn:
            conn.execute("SELECT 1")
        return True
    except Exception:
        return False


@router.get("/readyz", responses=refusals(503))
async def readyz(c: Container = Depends(container)):
    """PostgreSQL and Kafka are reachable (503 names what is not)."""
    pg = await c.run_sync(_postgres_ok, c)
    kafka = await _kafka_ok(c.kafka_bootstrap, c.settings.events_topic)
    checks = {"postgres": "ok" if pg else "unreachable", "kafka": "ok" if kafka else "unreachable"}
    if pg and kafka:
        return {"status": "ready", "checks": checks}
    down = ", ".join(k for k, v in checks.items() if v != "ok")
    return JSONResponse({"error": {"code": "not_ready", "message": f"Not ready: {down} unreachable."},
                         "checks": checks}, status_code=503)


@router.get("/metrics", response_class=PrometheusResponse)
def metrics(c: Container = Depends(container)):
    return Response(c.metrics.render(), media_type="text/plain; version=0.0.4")
