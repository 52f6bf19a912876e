"""``miao db …``: create or move the database schema (Alembic, configured in code)."""

from __future__ import annotations

import typer
from rich.console import Console

console = Console(stderr=True)

db_app = typer.Typer(help="Database schema: apply migrations, show the current revision.")


def _url(url: str | None) -> str:
    from backend.settings import get_settings

    return url or get_settings().db_url


def _shown(url: str) -> str:
    from backend.db.session import normalize_url

    return normalize_url(url).render_as_string(hide_password=True)


@db_app.command("upgrade")
def upgrade_command(
    revision: str = typer.Argument("head", help="Target revision."),
    url: str = typer.Option(
        None, help="SQLAlchemy URL (default: MIAO_DATABASE_URL or var/miao.db)."
    ),
) -> None:
    """Apply migrations up to REVISION (default: the newest). Safe to run again."""
    from sqlalchemy.exc import OperationalError

    from backend.db.migrate import current_revision, upgrade

    target = _url(url)
    try:
        upgrade(target, revision)
        now = current_revision(target)
    except OperationalError as exc:
        console.print(f"[red]error:[/] cannot reach {_shown(target)}: {exc.orig}")
        raise typer.Exit(2) from None
    console.print(f"[green]database[/] {_shown(target)} at revision {now}")


@db_app.command("current")
def current_command(
    url: str = typer.Option(
        None, help="SQLAlchemy URL (default: MIAO_DATABASE_URL or var/miao.db)."
    ),
) -> None:
    """Print the database's revision and the newest one; exit 1 when it is behind."""
    from backend.db.migrate import current_revision, head_revision

    target = _url(url)
    current, head = current_revision(target), head_revision()
    typer.echo(f"{_shown(target)} current={current or '(none)'} head={head}")
    if current != head:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
