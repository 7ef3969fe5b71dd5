"""Fixtures of the end-to-end tests."""

from ..support.receivers import smtp_sink, webhook_sink  # noqa: F401
