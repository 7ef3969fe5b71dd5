"""JSON columns as text, by orjson: every result's metrics and details, every state's history.

The standard library's encoder and decoder were a fifth of storing a batch
(cProfile of ``bulk_ingest.store_group``); orjson does the same in C several
times faster. What orjson refuses (an integer past 64 bits in a result's free-form
``details``) still goes through the standard library, so nothing valid is refused.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["dumps", "loads"]


def dumps(value: Any) -> str:
    """``value`` as compact JSON text."""
    try:
        return orjson.dumps(value).decode()
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value, separators=(",", ":"))


def loads(text: str | bytes) -> Any:
    """The value of JSON ``text``."""
    return orjson.loads(text)
