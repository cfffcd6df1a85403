"""ASGI entry for uvicorn worker processes: each builds its own Container from the
environment (``uvicorn adapters.http.asgi:create --factory``)."""
from __future__ import annotations

from fastapi import FastAPI

from adapters.http.app import create_app
from firmtext.bootstrap import Container
from firmtext.config import Settings


def create() -> FastAPI:
    """The API for this process's environment."""
    return create_app(Container(Settings.from_env(), pool_size=16))
