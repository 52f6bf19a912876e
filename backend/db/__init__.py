"""The database: SQLAlchemy models, sessions and Alembic migrations (see ``models`` for the
split between chain-derived rows, rebuilt by the indexer, and the backend's own rows)."""
