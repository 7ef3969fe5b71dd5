"""Queued notifications reach the outbox once, whether written row by row or by COPY.

A sweep after an outage can queue thousands of notifications in one chunk; on
PostgreSQL those go by ``COPY`` into a temporary table and one
``INSERT ... ON CONFLICT DO NOTHING`` (``notifications.COPY_FROM`` rows or more),
fewer by an executemany. Both must keep the dedupe rule: a notification already
written, or queued twice, is written once.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from portacare.collector.db import transaction
from portacare.collector.models import Outbox
from portacare.collector.notifications import COPY_FROM, OUTBOX_QUEUE

from ...support.collector import T0, Collector


def _row(n: int, kind: str = "escalation") -> dict[str, Any]:
    return {
        "dedupe_key": f"{kind}:{n}::cto@vendor.example",
        "ticket_id": None,
        "kind": kind,
        "channel": "email",
        "recipient": "cto@vendor.example",
        "subject": f"[PortaCare #{n}] escalation",
        "body": "line one\nline two with a tab\tand a backslash \\ in it\n",
        "payload": {"event": kind, "ticket": {"number": n, "customer": None}, "text": "é ✓"},
        "created_at": T0,
        "attempts": 0,
    }


def _queue(c: Collector, rows: list[dict[str, Any]]) -> None:
    with transaction(c.sessions) as session:
        session.info.setdefault(OUTBOX_QUEUE, []).extend(rows)


@pytest.mark.parametrize("count", [3, COPY_FROM + 50], ids=["few", "many"])
def test_each_notification_is_written_once_with_its_content(
    collector: Collector, count: int
) -> None:
    _queue(collector, [_row(n) for n in range(count)])
    # again, overlapping: half already written, one queued twice in the same transaction
    again = [_row(n) for n in range(count // 2, count + count // 2)] + [_row(count)]
    _queue(collector, again)
    with collector.sessions() as session:
        keys = session.scalars(select(Outbox.dedupe_key)).all()
        assert len(keys) == len(set(keys)) == count + count // 2
        sample = session.scalar(select(Outbox).where(Outbox.dedupe_key == _row(1)["dedupe_key"]))
        assert sample is not None
        assert sample.body == _row(1)["body"]
        assert sample.payload == _row(1)["payload"]
        assert sample.created_at == T0 and sample.sent_at is None and sample.attempts == 0
        pending = session.scalar(
            select(func.count()).select_from(Outbox).where(Outbox.sent_at.is_(None))
        )
        assert pending == count + count // 2
