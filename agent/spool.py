"""The agent's durable spool: every result is on disk before it is sent.

A result is written in one SQLite transaction when the check finishes and
deleted only after the collector answered 202 for the batch that carried it, so
it survives collector outages, agent restarts and ``kill -9``. A batch is cut
once: its rows get a ``batch_id`` in the same transaction, and until that batch
is acknowledged every retry sends the same rows under the same id, which the
collector uses to store them exactly once::

    spool = Spool(state_dir / "spool.sqlite3")
    spool.add("disk", result)
    batch = spool.next_batch(100)
    ... POST batch.results with batch.batch_id ...
    spool.acknowledge(batch.batch_id)
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from portacare.checks import CheckResult, Status, format_time, parse_time, utc_now

__all__ = ["Spool", "SpooledBatch", "LastResult"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    check_name TEXT NOT NULL,
    status INTEGER NOT NULL,
    observed_at TEXT NOT NULL,
    payload TEXT NOT NULL,
    size INTEGER NOT NULL,
    batch_id TEXT
);
CREATE INDEX IF NOT EXISTS results_batch ON results (batch_id);
CREATE TABLE IF NOT EXISTS last_results (
    check_name TEXT PRIMARY KEY,
    status INTEGER NOT NULL,
    summary TEXT NOT NULL,
    observed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS refused_batches (
    batch_id TEXT PRIMARY KEY,
    refused_at TEXT NOT NULL,
    reason TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dropped (
    check_name TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    first_observed_at TEXT NOT NULL,
    last_observed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS batch_reports (batch_id TEXT PRIMARY KEY, dropped TEXT NOT NULL);
"""

DEFAULT_MAX_BYTES = 50 * 1024 * 1024

# A new batch carries failures first, newest first (what a person needs to see soonest
# after an outage), then OK results oldest first (so recoveries replay in order).
_NEW_BATCH_ORDER = (
    "ORDER BY CASE WHEN status != 0 THEN 0 ELSE 1 END, CASE WHEN status != 0 THEN -id ELSE id END"
)


@dataclass(frozen=True)
class SpooledBatch:
    """A batch cut from the spool, ready to push; ``results`` are wire dicts.

    ``dropped`` reports, per check, the OK results a full spool had to drop
    since the previous batch, so the collector can show the gap.
    """

    batch_id: str
    results: list[dict[str, Any]]
    dropped: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class LastResult:
    """The most recent result of one check, for ``portacare-agent status``."""

    check: str
    status: Status
    summary: str
    observed_at: datetime


class Spool:
    """A SQLite file holding results until the collector has them.

    Bounded by ``max_bytes`` of results: when full, the oldest OK results not
    yet in a batch are dropped (counted per check and reported to the
    collector); results that are not OK are never dropped.
    """

    def __init__(self, path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        path.chmod(0o600)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(self, check: str, result: CheckResult) -> None:
        """Store one result durably (and remember it as the check's latest)."""
        payload = json.dumps(result.to_wire(check), separators=(",", ":"))
        observed = format_time(result.observed_at)
        with self._transaction() as db:
            db.execute(
                "INSERT INTO results (check_name, status, observed_at, payload, size) "
                "VALUES (?,?,?,?,?)",
                (check, int(result.status), observed, payload, len(payload)),
            )
            self._make_room(db)
            db.execute(
                "INSERT INTO last_results (check_name, status, summary, observed_at) "
                "VALUES (?,?,?,?) ON CONFLICT (check_name) DO UPDATE SET "
                "status=excluded.status, summary=excluded.summary, "
                "observed_at=excluded.observed_at WHERE excluded.observed_at >= observed_at",
                (check, int(result.status), result.summary, observed),
            )

    def _make_room(self, db: sqlite3.Connection) -> None:
        """Drop the oldest unbatched OK results while the spool is over its bound."""
        total = int(db.execute("SELECT COALESCE(SUM(size), 0) FROM results").fetchone()[0])
        while total > self.max_bytes:
            victims = db.execute(
                "SELECT id, check_name, observed_at, size FROM results "
                "WHERE status = 0 AND batch_id IS NULL ORDER BY id LIMIT 200"
            ).fetchall()
            if not victims:
                return  # only failures (or the batch in flight) left: keep them all
            for row_id, check, observed, size in victims:
                if total <= self.max_bytes:
                    break
                db.execute("DELETE FROM results WHERE id = ?", (row_id,))
                db.execute(
                    "INSERT INTO dropped VALUES (?, 1, ?, ?) ON CONFLICT (check_name) DO UPDATE "
                    "SET count = count + 1, first_observed_at = MIN(first_observed_at, "
                    "excluded.first_observed_at), last_observed_at = MAX(last_observed_at, "
                    "excluded.last_observed_at)",
                    (check, observed, observed),
                )
                total -= size

    def dropped(self) -> dict[str, dict[str, Any]]:
        """OK results dropped for lack of room and not yet reported, per check."""
        with self._lock:
            return self._dropped(self._db)

    @staticmethod
    def _dropped(db: sqlite3.Connection) -> dict[str, dict[str, Any]]:
        rows = db.execute(
            "SELECT check_name, count, first_observed_at, last_observed_at FROM dropped"
        )
        return {
            r[0]: {"count": r[1], "first_observed_at": r[2], "last_observed_at": r[3]} for r in rows
        }

    def next_batch(self, limit: int) -> SpooledBatch | None:
        """The batch to push now: the unacknowledged one if any, else a new one; None if empty."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT batch_id FROM results WHERE batch_id IS NOT NULL ORDER BY id LIMIT 1"
            ).fetchone()
            if row is not None:
                batch_id = row[0]
            else:
                batch_id = uuid.uuid4().hex
                updated = db.execute(
                    "UPDATE results SET batch_id = ? WHERE id IN (SELECT id FROM results "
                    f"WHERE batch_id IS NULL {_NEW_BATCH_ORDER} LIMIT ?)",
                    (batch_id, limit),
                ).rowcount
                if updated == 0:
                    return None
                dropped = self._dropped(db)
                if dropped:  # the report travels with this batch, exactly once
                    db.execute(
                        "INSERT INTO batch_reports VALUES (?, ?)", (batch_id, json.dumps(dropped))
                    )
                    db.execute("DELETE FROM dropped")
            payloads = db.execute(
                "SELECT payload FROM results WHERE batch_id = ? ORDER BY id", (batch_id,)
            ).fetchall()
            report = db.execute(
                "SELECT dropped FROM batch_reports WHERE batch_id = ?", (batch_id,)
            ).fetchone()
        return SpooledBatch(
            batch_id, [json.loads(p[0]) for p in payloads], json.loads(report[0]) if report else {}
        )

    def acknowledge(self, batch_id: str) -> int:
        """The collector has the batch: forget its results. Returns how many were removed."""
        with self._transaction() as db:
            removed = db.execute("DELETE FROM results WHERE batch_id = ?", (batch_id,)).rowcount
            db.execute("DELETE FROM batch_reports WHERE batch_id = ?", (batch_id,))
            self._set_meta(db, "last_push_at", format_time(utc_now()))
            self._set_meta(db, "last_error", "")
        return removed

    def set_aside(self, batch_id: str, reason: str) -> None:
        """Move a batch the collector refused as malformed out of the way, keeping it on disk.

        A refused batch retried forever would block every later result; kept
        aside it can be inspected and replayed, and ``status`` reports it.
        """
        with self._transaction() as db:
            rows = db.execute(
                "SELECT payload FROM results WHERE batch_id = ? ORDER BY id", (batch_id,)
            ).fetchall()
            payload = "[" + ",".join(r[0] for r in rows) + "]"
            db.execute(
                "INSERT OR REPLACE INTO refused_batches VALUES (?,?,?,?)",
                (batch_id, format_time(utc_now()), reason, payload),
            )
            db.execute("DELETE FROM results WHERE batch_id = ?", (batch_id,))

    def record_error(self, message: str) -> None:
        with self._transaction() as db:
            self._set_meta(db, "last_error", message)
            self._set_meta(db, "last_error_at", format_time(utc_now()))

    def depth(self) -> int:
        """Results waiting to be acknowledged."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0])

    def refused_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM refused_batches").fetchone()[0])

    def meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row and row[0] else None

    def last_results(self) -> list[LastResult]:
        with self._lock:
            rows = self._db.execute(
                "SELECT check_name, status, summary, observed_at FROM last_results "
                "ORDER BY check_name"
            ).fetchall()
        return [LastResult(r[0], Status(r[1]), r[2], parse_time(r[3])) for r in rows]

    @staticmethod
    def _set_meta(db: sqlite3.Connection, key: str, value: str) -> None:
        db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db, self._lock)


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` under the spool's lock; rolled back on error."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock) -> None:
        self._db = db
        self._lock = lock

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        self._db.execute("BEGIN IMMEDIATE")
        return self._db

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            self._db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self._lock.release()
