"""Fixtures of the collector tests: a collector on SQLite and on PostgreSQL."""

from ...support.collector import collector, database_url, staffed  # noqa: F401
