"""JSON columns as text, by orjson: every result's metrics and details, every state's history.

The standard library's encoder and decoder were a fifth of storing a batch
(cProfile of ``bulk_ingest.store_group``); orjson does the same in C several
times faster. What orjson refuses (an integer past 64 bits in a result's free-form
``details``) still goes through the standard library, so nothing valid is refused.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import orjson

__all__ = ["dumps", "loads"]


def dumps(value: Any) -> str:
    """``value`` as compact JSON text."""
    try:
        return orjson.dumps(value).decode()
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value, separators=(",", ":"), default=_as_orjson_would)


def _as_orjson_would(value: Any) -> Any:
    """Times as RFC 3339 text, as orjson writes them (rows sent to PostgreSQL as JSON)."""
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def loads(text: str | bytes) -> Any:
    """The value of JSON ``text``."""
    return orjson.loads(text)
