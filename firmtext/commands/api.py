"""``firmtext api``: serve the HTTP API on 127.0.0.1:FIRMTEXT_HTTP_PORT."""
from __future__ import annotations

import argparse
import os

from firmtext import logs
from firmtext.config import Settings


def run(args: argparse.Namespace) -> int:
    import uvicorn

    settings = Settings.from_env()
    logs.configure(settings.log_level)
    # No access log: URLs are fine, but keep the API's log free of anything a client typed.
    uvicorn.run("firmtext.bootstrap:api_app", factory=True, host=args.host, port=settings.http_port,
                workers=args.workers, loop="uvloop", http="httptools", log_level="warning",
                access_log=False, timeout_graceful_shutdown=5)
    return 0


def register(sub) -> None:
    p = sub.add_parser("api", help="serve the HTTP API",
                       description="Serves the API of shared/API.md (OpenAPI at /openapi.json).")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--workers", type=int, default=int(os.environ.get("FIRMTEXT_API_WORKERS") or 1),
                   help="worker processes (default FIRMTEXT_API_WORKERS or 1)")
    p.set_defaults(func=run)
