"""Pruning old history in small batches, so no prune holds a long lock.

Raw results (filed into the history or not yet), received batch ids, state
changes and delivered notifications older than the retention (default 14 days)
go; the latest state of each check and every ticket with its timeline stay,
whatever their age.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from .db import transaction
from .models import Batch, Outbox, RecentResult, Result, StateEvent

__all__ = ["PruneReport", "prune"]


@dataclass
class PruneReport:
    results: int = 0
    batches: int = 0
    state_events: int = 0
    notifications: int = 0


def prune(
    factory: sessionmaker[Session], cutoff: datetime, chunk: int = 5000, max_chunks: int = 200
) -> PruneReport:
    """Delete what is older than ``cutoff``, ``chunk`` rows per transaction."""
    report = PruneReport()
    targets = (
        ("results", Result, Result.id, Result.observed_at < cutoff),
        # not yet filed, yet old: a replay of results observed before the cutoff
        ("results", RecentResult, RecentResult.id, RecentResult.observed_at < cutoff),
        ("batches", Batch, Batch.batch_id, Batch.received_at < cutoff),
        ("state_events", StateEvent, StateEvent.id, StateEvent.at < cutoff),
        ("notifications", Outbox, Outbox.id, Outbox.sent_at < cutoff),
    )
    for name, model, key, too_old in targets:
        for _ in range(max_chunks):
            with transaction(factory) as session:
                ids = session.scalars(select(key).where(too_old).limit(chunk)).all()
                if ids:
                    session.execute(delete(model).where(key.in_(ids)))
            setattr(report, name, getattr(report, name) + len(ids))
            if len(ids) < chunk:
                break
    return report
