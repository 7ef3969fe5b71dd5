"""Database URLs for collector tests: a fresh SQLite file, or a fresh PostgreSQL database.

PostgreSQL is the machine's server on 127.0.0.1:5432 (trust auth); each test
gets its own throwaway database, dropped afterwards. In CI a missing server
fails the run (see ``services.unavailable``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .services import unavailable

PG_ADMIN_URL = os.environ.get(
    "PORTACARE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ("sqlite", "postgresql")


def _pg_admin():  # type: ignore[no-untyped-def]
    import psycopg

    dsn = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        return psycopg.connect(dsn, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL at {dsn} is not reachable: {exc}")
        raise


def fresh_database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """Yield a URL to an empty database of ``backend``; drop it afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'collector.db'}"
        return
    name = f"portacare_test_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with _pg_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    yield from fresh_database_url(request.param, tmp_path)
