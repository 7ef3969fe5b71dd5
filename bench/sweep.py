"""One sweep over 10,000 open tickets: ``run_sweep(sessionmaker, settings, now)`` in-process.

The database is seeded in bulk: 1,000 hosts all reporting, 10 failing checks each,
one open ticket per failing check; 30 % of them past their first-response due
time and 20 % with an escalation step due, contacts configured for every role so
notifications are written to the outbox. Measured: the first sweep at ``now``
(work due: the sweep handles at most its chunk per part), then sweeps at the
same moment until one finds nothing due, whose time is the cost of looking.
Baseline: reading the open tickets with their hosts and escalation steps once with one plain query.
"""

from __future__ import annotations

import cProfile
import pstats
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from portacare.checks import utc_now
from portacare.collector.db import make_engine, make_sessionmaker
from portacare.collector.models import OPEN_STATES, Escalation, Host, Outbox, Ticket
from portacare.collector.settings import Settings
from portacare.collector.sweep import run_sweep

from .env import postgres_available, throwaway_postgres
from .plan import Plan
from .report import Figure, Report
from .seed import seed

TARGET_S = 1.0
CONTACTS = {
    "on_duty": ["duty@vendor.example", "https://chat.vendor.example/hooks/noc"],
    "technical_support_manager": ["tsm@vendor.example"],
    "customer_relations_manager": ["crm@vendor.example"],
    "cto": ["cto@vendor.example"],
}


def _read_open(sessions) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    with sessions() as session:
        session.execute(
            select(Ticket.__table__, Host.__table__.c.name, Escalation.__table__)
            .join(Host.__table__, Host.id == Ticket.host_id)
            .join(Escalation.__table__, Escalation.ticket_id == Ticket.id)
            .where(Ticket.state.in_(OPEN_STATES))
        ).all()
    return time.perf_counter() - started


def _top(profiler: cProfile.Profile, count: int = 12) -> list[tuple[str, float, float]]:
    """The project's functions with the most cumulative time, then any with the most own time.

    Rows are (function, cumulative s, own s).
    """
    stats = pstats.Stats(profiler)
    rows = []
    for (path, line, name), (_, _, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = path.split("site-packages/")[-1].split("/work/main/")[-1]
        rows.append((f"{name} ({where}:{line})", round(cumulative, 3), round(own, 3)))
    ours = [r for r in rows if r[0].split("(")[-1].startswith(("collector/", "sla/", "checks/"))]
    ours.sort(key=lambda r: -r[1])
    rows.sort(key=lambda r: -r[2])
    picked = ours[:count]
    picked += [r for r in rows[:count] if r not in picked]
    return picked


def _prepare(plan: Plan, label: str, url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    now = utc_now()
    hosts = max(1, plan.sweep_tickets // 10)
    print(f"sweep: seeding {label}", flush=True)
    seeded = seed(
        engine,
        now,
        hosts,
        10,
        0,
        plan.sweep_tickets,
        plan.sweep_tickets,
        failing_share=1.0,
        response_overdue_share=0.3,
        escalation_due_share=0.2,
    )
    # every host is reporting: no silent-agent tickets muddle the figure
    with engine.begin() as conn:
        conn.execute(Host.__table__.update().values(last_seen=now))
    sessions = make_sessionmaker(engine)
    settings = Settings(database_url=url, contacts=CONTACTS, sweep_in_serve=False)
    return engine, sessions, settings, now, seeded


def _profile(plan: Plan, report: Report, label: str, url: str) -> None:
    """cProfile of a first sweep on a second database seeded the same way."""
    engine, sessions, settings, now, _ = _prepare(plan, label, url)
    profiler = cProfile.Profile()
    profiler.enable()
    run_sweep(sessions, settings, now)
    profiler.disable()
    engine.dispose()
    report.profiles[f"sweep {label}, first sweep"] = {"cprofile": _top(profiler)}


def _one_database(plan: Plan, report: Report, label: str, url: str) -> bool:
    """Measure; True when the first sweep missed its target."""
    engine, sessions, settings, now, seeded = _prepare(plan, label, url)
    report.sizes.update({f"sweep {k}": v for k, v in seeded.sizes().items() if v})
    baseline = min(_read_open(sessions) for _ in range(3))
    started = time.perf_counter()
    first = run_sweep(sessions, settings, now)
    first_s = time.perf_counter() - started
    # each part takes a chunk per sweep: sweep again at the same moment until nothing is due
    rounds, idle_s, idle = 1, None, None
    while rounds < 15:
        started = time.perf_counter()
        again = run_sweep(sessions, settings, now)
        elapsed = time.perf_counter() - started
        rounds += 1
        if not any(getattr(again, f) for f in vars(again)):
            idle_s, idle = elapsed, again
            break
    with sessions() as session:
        outbox = len(session.scalars(select(Outbox.id)).all())
    if outbox == 0 and (first.escalations or first.overdue_notices):
        report.problems.append(
            f"sweep {label}: the sweep reported notifications but wrote no outbox rows"
        )
    report.add(
        Figure(
            "sweep",
            f"sweep {label}: first sweep over {seeded.open_tickets:,} open tickets",
            first_s,
            "s",
            {"one query reading the open tickets": baseline},
            f"< {TARGET_S:.0f} s",
            first_s < TARGET_S,
            note=f"{first.describe()}; {outbox} outbox rows written",
        )
    )
    report.add(
        Figure(
            "sweep",
            f"sweep {label}: a sweep over {seeded.open_tickets:,} open tickets, nothing due",
            idle_s,
            "s",
            {"one query reading the open tickets": baseline},
            f"< {TARGET_S:.0f} s",
            None if idle_s is None else idle_s < TARGET_S,
            note=(
                f"after {rounds - 1} sweeps at the same moment handled what was due"
                if idle is not None
                else f"still finding work after {rounds} sweeps"
            ),
        )
    )
    engine.dispose()
    return first_s >= TARGET_S


def run(plan: Plan, report: Report) -> None:
    with tempfile.TemporaryDirectory(prefix="portacare-bench-sweep-") as tmp:
        missed = _one_database(plan, report, "SQLite", f"sqlite:///{Path(tmp) / 'a.sqlite3'}")
        if missed and plan.profile:
            _profile(plan, report, "SQLite", f"sqlite:///{Path(tmp) / 'b.sqlite3'}")
    why_not = postgres_available()
    if why_not is not None:
        report.problems.append(f"sweep on PostgreSQL: unavailable: {why_not}")
        return
    with throwaway_postgres() as url:
        missed = _one_database(plan, report, "PostgreSQL", url)
    if missed and plan.profile:
        with throwaway_postgres() as url:
            _profile(plan, report, "PostgreSQL", url)
