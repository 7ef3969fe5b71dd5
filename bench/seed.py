"""Bulk data for the read and sweep benchmarks, written straight into the collector's tables.

SQLAlchemy Core inserts of the collector's own models (executemany in chunks),
``COPY`` on PostgreSQL for the history. Everything is relative to ``now``: most
hosts reported within the last two minutes, a few went silent an hour ago.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from portacare.checks import utc_now
from portacare.collector.history import FILE_AFTER_ROWS
from portacare.collector.liveness import STATUS_RANK
from portacare.collector.models import (
    CheckState,
    Escalation,
    Host,
    RecentResult,
    Ticket,
    TicketEvent,
)
from portacare.collector.schema import upgrade_schema

CHECKS = (
    "disk",
    "ntp",
    "dns",
    "backups",
    "log_rotation",
    "firewall",
    "security",
    "os_errata",
    "db_replication",
    "nagios_load",
    "nagios_swap",
    "nagios_procs",
    "nagios_users",
    "nagios_http",
    "nagios_smtp",
    "nagios_ssh",
    "nagios_mailq",
    "nagios_apt",
    "nagios_raid",
    "nagios_ups",
)
ROLES = ("technical_support_manager", "customer_relations_manager", "cto")
CHUNK = 20_000


@dataclass
class Seeded:
    hosts: int
    states: int
    history: int
    tickets: int
    open_tickets: int
    escalations: int
    seconds: float
    host_names: list[str]
    pairs: list[tuple[str, str]]  # (host, check) with a latest state

    def sizes(self) -> dict[str, int]:
        return {
            "hosts": self.hosts,
            "latest states": self.states,
            "history rows": self.history,
            "tickets": self.tickets,
            "open tickets": self.open_tickets,
            "escalation steps": self.escalations,
        }


def _chunks(rows: Iterator[dict[str, Any]], size: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _insert(engine: Engine, table: Any, rows: Iterator[dict[str, Any]]) -> int:
    count = 0
    with engine.begin() as conn:
        for chunk in _chunks(rows):
            conn.execute(insert(table), chunk)
            count += len(chunk)
    return count


def _roll_up_hosts(engine: Engine) -> None:
    """Each host's worst rank and first stale moment, as ingest keeps them."""
    of_host = CheckState.host_id == Host.id
    with engine.begin() as connection:
        connection.execute(
            update(Host).values(
                worst_rank=select(func.max(STATUS_RANK)).where(of_host).scalar_subquery(),
                stale_at=select(func.min(CheckState.stale_after)).where(of_host).scalar_subquery(),
            )
        )


def seed(
    engine: Engine,
    now: datetime,
    hosts: int,
    checks_per_host: int,
    history: int,
    tickets: int,
    open_tickets: int,
    *,
    failing_share: float = 0.05,
    response_overdue_share: float = 0.3,
    escalation_due_share: float = 0.2,
    seed_value: int = 6,
) -> Seeded:
    """Fill a fresh database; ``open_tickets`` of ``tickets`` are open or responded."""
    started = time.monotonic()
    upgrade_schema(engine)
    rng = random.Random(seed_value)
    checks = CHECKS[:checks_per_host]
    names = [f"host-{i:05d}.noc.example" for i in range(hosts)]

    def host_rows() -> Iterator[dict[str, Any]]:
        for i, name in enumerate(names):
            silent = i % 50 == 49  # 2 % went quiet an hour ago
            seen = now - (timedelta(hours=1) if silent else timedelta(seconds=rng.uniform(0, 90)))
            yield {
                "id": i + 1,
                "name": name,
                "customer": f"customer-{i % 40:02d}",
                "created_at": now - timedelta(days=90),
                "last_seen": seen,
                "interval_s": 60.0,
                "check_intervals": {},
            }

    _insert(engine, Host.__table__, host_rows())
    pairs = [(h, c) for h in range(hosts) for c in checks]
    failing = set(rng.sample(range(len(pairs)), int(len(pairs) * failing_share)))

    def state_rows() -> Iterator[dict[str, Any]]:
        for n, (h, check) in enumerate(pairs):
            status = (1 if n % 3 else 2) if n in failing else 0
            at = now - timedelta(seconds=rng.uniform(0, 60))
            yield {
                "host_id": h + 1,
                "check": check,
                "status": status,
                "summary": f"{check} {'fine' if status == 0 else 'failing'}",
                "observed_at": at,
                "since": at - timedelta(hours=rng.uniform(0, 72)),
                "metrics": {"value": round(rng.uniform(0, 100), 1)},
                "ok_streak": 0 if status else 5,
                "history": {},
                "ticket_pending": False,
                "stale_after": at + timedelta(seconds=180),  # 3 intervals, as ingest stores it
            }

    states = _insert(engine, CheckState.__table__, state_rows())
    _roll_up_hosts(engine)
    stored_history = _history(engine, now, pairs, history)
    _leave_unfiled(engine, FILE_AFTER_ROWS)
    # open tickets on distinct (host, check) pairs (one open ticket per pair), closed ones anywhere
    open_pairs = rng.sample(range(len(pairs)), min(open_tickets, len(pairs)))
    ticket_rows: list[dict[str, Any]] = []
    escalation_rows: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    for number in range(1, tickets + 1):
        is_open = number <= len(open_pairs)
        h, check = pairs[open_pairs[number - 1]] if is_open else pairs[rng.randrange(len(pairs))]
        priority = rng.choice((2, 3, 3, 4))
        opened = now - timedelta(minutes=rng.uniform(5, 60 * 24 * (2 if is_open else 60)))
        overdue = rng.random() < response_overdue_share
        due = (
            now - timedelta(minutes=rng.uniform(1, 60))
            if overdue
            else now + timedelta(minutes=rng.uniform(1, 240))
        )
        state = (
            ("open" if number % 4 else "responded")
            if is_open
            else ("closed" if number % 3 else "resolved")
        )
        responded = state != "open"
        ticket_rows.append(
            {
                "id": number,
                "host_id": h + 1,
                "check": check,
                "priority": priority,
                "state": state,
                "summary": f"{check} failing",
                "check_status": 2,
                "opened_at": opened,
                "ladder_started_at": opened,
                "first_response_due": due,
                "first_response_at": opened + timedelta(minutes=10) if responded else None,
                "next_update_due": now + timedelta(hours=rng.uniform(-2, 8))
                if state == "responded"
                else None,
                "last_update_at": None,
                "resolved_at": now - timedelta(hours=1)
                if state in ("resolved", "closed")
                else None,
                "closed_at": now - timedelta(minutes=30) if state == "closed" else None,
                "flapping": False,
                "response_overdue_noted": None,
                "update_overdue_noted": None,
            }
        )
        escalate_now = is_open and rng.random() < escalation_due_share
        for step, role in enumerate(ROLES):
            due_at = (
                now - timedelta(minutes=5 + step)
                if escalate_now and step == 0
                else now + timedelta(hours=4 * (step + 1))
            )
            notified = None if is_open else min(due_at, now)
            escalation_rows.append(
                {
                    "ticket_id": number,
                    "role": role,
                    "due_at": due_at,
                    "notified_at": notified,
                }
            )
        event_rows.append(
            {
                "ticket_id": number,
                "at": opened,
                "kind": "opened",
                "actor": "portacare",
                "message": f"{check} on host is CRITICAL",
                "data": {"priority": priority},
            }
        )
    _insert(engine, Ticket.__table__, iter(ticket_rows))
    _insert(engine, Escalation.__table__, iter(escalation_rows))
    _insert(engine, TicketEvent.__table__, iter(event_rows))
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            for table in ("tickets", "escalations", "ticket_events", "hosts"):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    return Seeded(
        hosts=hosts,
        states=states,
        history=stored_history,
        tickets=len(ticket_rows),
        open_tickets=len(open_pairs),
        escalations=len(escalation_rows),
        seconds=time.monotonic() - started,
        host_names=names,
        pairs=[(names[h], c) for h, c in pairs],
    )


def _leave_unfiled(engine: Engine, newest: int) -> None:
    """Put the ``newest`` history rows back in ``results_recent``, as a move finds them due.

    In service that table holds up to a move's worth of results waiting to be filed,
    and a check's history is read from both tables: so it is here, received just now
    (``serve`` files them a minute later, as it would).
    """
    columns = (
        'host_id, "check", status, summary, observed_at, received_at, duration_ms, metrics, details'
    )
    chosen = f"SELECT id FROM results ORDER BY observed_at DESC, id DESC LIMIT {int(newest)}"
    with engine.begin() as conn:
        conn.exec_driver_sql(
            f"INSERT INTO results_recent ({columns}) SELECT {columns} FROM results"
            f" WHERE id IN ({chosen}) ORDER BY observed_at, id"
        )
        conn.exec_driver_sql(f"DELETE FROM results WHERE id IN ({chosen})")
        conn.execute(update(RecentResult).values(received_at=utc_now()))


def _history(engine: Engine, now: datetime, pairs: list[tuple[int, str]], total: int) -> int:
    """``total`` history rows spread over every (host, check), a minute apart, oldest first.

    Millions of rows: the rows go to the driver as prepared text (COPY on PostgreSQL,
    executemany on SQLite) in the formats SQLAlchemy itself stores, in index order.
    """
    if total <= 0 or not pairs:
        return 0
    per_pair, extra = divmod(total, len(pairs))
    depth = per_pair + (1 if extra else 0)
    moments = [now - timedelta(minutes=k) for k in range(depth, 0, -1)]
    if engine.dialect.name == "postgresql":
        stamps = [m.isoformat(sep=" ") for m in moments]
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            # one index build after the load is faster than maintaining it row by row
            cursor.execute("DROP INDEX results_host_check_time")
            with cursor.copy(
                'COPY results (host_id, "check", status, summary, observed_at, received_at, '
                "duration_ms, metrics, details) FROM STDIN"
            ) as copy:
                block: list[str] = []
                for n, (h, check) in enumerate(pairs):
                    count = per_pair + (1 if n < extra else 0)
                    prefix = f"{h + 1}\t{check}\t0\t{check} fine\t"
                    block.extend(
                        f'{prefix}{at}\t{at}\t3\t{{"value": 1.5}}\t{{}}\n'
                        for at in stamps[depth - count :]
                    )
                    if len(block) > 50_000:
                        copy.write("".join(block))
                        block = []
                copy.write("".join(block))
            cursor.execute(
                'CREATE INDEX results_host_check_time ON results (host_id, "check", observed_at)'
            )
            raw.commit()
        finally:
            raw.close()
        return total
    stamps = [m.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") for m in moments]
    sql = (
        'INSERT INTO results (host_id, "check", status, summary, observed_at, received_at, '
        "duration_ms, metrics, details) VALUES (?, ?, 0, ?, ?, ?, 3, '{\"value\": 1.5}', '{}')"
    )
    with engine.begin() as conn:
        batch: list[tuple[Any, ...]] = []
        for n, (h, check) in enumerate(pairs):
            count = per_pair + (1 if n < extra else 0)
            summary = f"{check} fine"
            batch.extend((h + 1, check, summary, at, at) for at in stamps[depth - count :])
            if len(batch) >= 100_000:
                conn.exec_driver_sql(sql, batch)
                batch = []
        if batch:
            conn.exec_driver_sql(sql, batch)
    return total
