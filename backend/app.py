"""ASGI entry point: ``uvicorn backend.app:app`` (docker-compose, ``miao api``)."""

from __future__ import annotations

from backend.api.app import create_app

app = create_app()

__all__ = ["app", "create_app"]
