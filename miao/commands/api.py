"""``miao api``: serve the FastAPI gateway with uvicorn on the configured host and port."""

from __future__ import annotations

import typer


def api(
    host: str = typer.Option(None, help="Interface to bind (default: MIAO_API_HOST, 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default: MIAO_API_PORT, 8000)."),
    reload: bool = typer.Option(False, help="Restart on code changes (development only)."),
    log_level: str = typer.Option("info", help="uvicorn log level."),
) -> None:
    """Serve the API (routes under /v1, docs at /v1/docs) until Ctrl-C."""
    import uvicorn

    from backend.settings import get_settings
    from miao.stack import port_is_open

    settings = get_settings()
    host = host or settings.api_host
    port = port or settings.api_port
    if port_is_open(host, port):
        typer.echo(f"error: {host}:{port} is already in use; choose another with --port", err=True)
        raise typer.Exit(2)
    uvicorn.run("backend.app:app", host=host, port=port, reload=reload, log_level=log_level)


def register(app: typer.Typer) -> None:
    app.command("api")(api)
