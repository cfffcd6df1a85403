"""``firmtext api``: serve the HTTP API on 127.0.0.1:FIRMTEXT_HTTP_PORT."""
from __future__ import annotations

import argparse

from firmtext import logs
from firmtext.config import Settings


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from adapters.http.app import create_app
    from firmtext.bootstrap import Container

    settings = Settings.from_env()
    logs.configure(settings.log_level)
    app = create_app(Container(settings, pool_size=args.pool_size))
    # No access log: URLs are fine, but keep the API's log free of anything a client typed.
    uvicorn.run(app, host=args.host, port=settings.http_port, log_level="warning", access_log=False,
                timeout_graceful_shutdown=5)
    return 0


def register(sub) -> None:
    p = sub.add_parser("api", help="serve the HTTP API",
                       description="Serves the API of shared/API.md (OpenAPI at /openapi.json).")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--pool-size", type=int, default=16, help="PostgreSQL connections (default 16)")
    p.set_defaults(func=run)
