"""Fixtures of the collector tests: a collector on SQLite and on PostgreSQL, receivers."""

from ...support.collector import collector, database_url, on_postgres, staffed  # noqa: F401
from ...support.receivers import smtp_sink, webhook_sink  # noqa: F401
