"""Fixtures of the end-to-end tests: receivers, and each collector database backend."""

from ..support.databases import database_url  # noqa: F401
from ..support.receivers import smtp_sink, webhook_sink  # noqa: F401
