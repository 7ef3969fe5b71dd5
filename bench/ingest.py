"""Ingest throughput and latency: the collector against the framework's ceiling and Icinga 2.

Every run is wrk with ``plan.connections`` connections for ``plan.load_seconds``
after a warm-up, cycling over ``plan.agents`` simulated agents (a host and its
token each) and a new batch_id per request. Measured, in one sitting:

- bare FastAPI endpoint validating the same body (bench/bare_app.py, one uvicorn worker);
- Icinga 2's ``POST /v1/actions/process-check-result`` (one result per request: it has no batch);
- the bare endpoint plus one SQLAlchemy insert per batch, on SQLite and on PostgreSQL;
- ``portacare-collector serve`` on SQLite (one worker process, and ``--workers 2``), on
  PostgreSQL, and two of them on one PostgreSQL.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from portacare.checks import utc_now
from portacare.collector.db import make_engine, make_sessionmaker, transaction
from portacare.collector.history import count_history
from portacare.collector.schema import upgrade_schema
from portacare.collector.tokens import issue_agent_token

from . import profile
from .env import (
    BIN,
    BenchError,
    Service,
    free_port,
    postgres_available,
    start_http_service,
    throwaway_postgres,
)
from .icinga import PASSWORD, USER, Icinga
from .load import LoadResult, run_wrk, run_wrk_parallel, write_agents
from .plan import Plan
from .report import Figure, Report

BATCHES = (10, 100)
GROUPS = (1, 16)  # a lone batch, and the 16 connections' batches committed together
CPU_GROUP = 8  # what groups average under wrk's 16 connections at batches of 10
SQLITE_TARGET = 10_000
PG_TARGET = 5_000
P99_TARGET_MS = 250.0


def _host(i: int) -> str:
    return f"agent-{i:05d}.bench.example"


def create_agents(database_url: str, count: int) -> list[tuple[str, str]]:
    """``count`` hosts with an agent token each, through the collector's own data layer."""
    engine = make_engine(database_url)
    upgrade_schema(engine)
    sessions = make_sessionmaker(engine)
    now = utc_now()
    with transaction(sessions) as session:
        agents = [(_host(i), issue_agent_token(session, _host(i), None, now)) for i in range(count)]
    engine.dispose()
    return agents


def stored_results(database_url: str) -> int:
    engine = make_engine(database_url)
    with make_sessionmaker(engine)() as session:
        count = count_history(session)
    engine.dispose()
    return count


def start_collector(
    workdir: Path,
    database_url: str,
    name: str,
    config: Path | None = None,
    workers: int = 1,
) -> tuple[Service, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    options = ["--config", str(config)] if config else []
    serve = ["serve", "--port", str(port), "--workers", str(workers)]
    service = start_http_service(
        [str(BIN / "portacare-collector"), *options, *serve],
        workdir / f"{name}.log",
        f"{url}/healthz",
        env={"PORTACARE_DATABASE_URL": database_url},
        cwd=workdir,
    )
    return service, url


def start_bare(workdir: Path, name: str, insert_url: str | None = None) -> tuple[Service, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "bench.bare_app", "--port", str(port)]
    if insert_url:
        argv += ["--insert", insert_url]
    from .env import ROOT

    service = start_http_service(argv, workdir / f"{name}.log", f"{url}/healthz", cwd=ROOT)
    return service, url


class IngestBench:
    def __init__(self, plan: Plan, report: Report, workdir: Path) -> None:
        self.plan = plan
        self.report = report
        self.workdir = workdir
        self.runs: dict[str, LoadResult | None] = {}
        self.samples: dict[str, list[LoadResult]] = {}  # every run of a key taken in turns
        self.services: dict[str, Service] = {}
        self.load_average: dict[str, float] = {}
        self.profiles: dict[str, object] = {}

    # -- one measurement -------------------------------------------------------------------
    def _load(self, key: str, urls: list[str], script: str, args: list[str]) -> LoadResult | None:
        plan = self.plan
        try:
            if len(urls) == 1:
                run_wrk(urls[0], script, args, plan.connections, 2, plan.warmup_seconds)
                result = run_wrk(urls[0], script, args, plan.connections, 2, plan.load_seconds)
            else:
                run_wrk_parallel(urls, script, args, plan.connections, plan.warmup_seconds)
                result = run_wrk_parallel(urls, script, args, plan.connections, plan.load_seconds)
        except BenchError as exc:
            self.report.problems.append(f"ingest {key}: {exc}")
            result = None
        self.runs[key] = result
        self.load_average[key] = round(os.getloadavg()[0], 2)
        if result is not None:
            print(
                f"  {key}: {result.rps:,.0f} req/s, p50 {result.p50_ms:.1f} ms, "
                f"p99 {result.p99_ms:.1f} ms, errors {result.errors}, "
                f"load average {self.load_average[key]}",
                flush=True,
            )
        return result

    def _batches(self, prefix: str, urls: list[str], agents: Path) -> None:
        for size in BATCHES:
            self._load(f"{prefix}/b{size}", urls, "results.lua", [str(agents), str(size)])

    # -- the sitting -----------------------------------------------------------------------
    def run(self) -> None:
        plan = self.plan
        fake = write_agents(
            self.workdir / "fake-agents.txt",
            [(_host(i), f"pc_fake{i}") for i in range(plan.agents)],
        )
        print("ingest: bare FastAPI endpoint (validate only)", flush=True)
        with self._service(lambda: start_bare(self.workdir, "bare")) as url:
            if url:
                self._batches("bare", [url], fake)

        print(
            f"ingest: Icinga 2 and the collector on SQLite, in turns ({plan.rounds} rounds)",
            flush=True,
        )
        self._icinga_and_sqlite()
        print("ingest: collector on SQLite, serve --workers 2", flush=True)
        self._sqlite_collector("collector-sqlite-w2", workers=2)

        print("ingest: plain insert per batch into SQLite", flush=True)
        insert_sqlite = f"sqlite:///{self.workdir / 'insert.sqlite3'}"
        with self._service(lambda: start_bare(self.workdir, "insert-sqlite", insert_sqlite)) as url:
            if url:
                self._batches("insert-sqlite", [url], fake)

        why_not = postgres_available()
        if why_not is not None:
            self.report.problems.append(f"PostgreSQL at 127.0.0.1:5432 unavailable: {why_not}")
        else:
            self._postgres(fake)
        self._statements(why_not is None)
        print("ingest: bare FastAPI endpoint again (how much the machine drifted)", flush=True)
        with self._service(lambda: start_bare(self.workdir, "bare-again")) as url:
            if url:
                self._load("bare-again/b10", [url], "results.lua", [str(fake), "10"])
        self._figures()
        self.report.machine["load_average_after_each_ingest_run"] = self.load_average

    def _sqlite_collector(self, key: str, workers: int) -> None:
        """``serve --workers N`` on a SQLite file of its own, its agents created first."""
        url, agents = self._sqlite_agents(key)
        with self._service(
            lambda: start_collector(self.workdir, url, key, workers=workers)
        ) as served:
            if served:
                self._batches(key, [served], agents)
        self._check_stored(key, url)

    def _sqlite_agents(self, key: str) -> tuple[str, Path]:
        url = f"sqlite:///{self.workdir / f'{key}.sqlite3'}"
        return url, write_agents(
            self.workdir / f"{key}-agents.txt", create_agents(url, self.plan.agents)
        )

    def _icinga_and_sqlite(self) -> None:
        """The issue's comparison, taken in turns so a slower minute of the machine is shared.

        Icinga 2 and one collector on SQLite both run; each round measures Icinga 2,
        then the collector at batches of 10 and of 100. Each figure is the median of
        its rounds; every run is kept in the results' JSON.
        """
        key = "collector-sqlite"
        url, agents = self._sqlite_agents(key)
        try:
            icinga: Icinga | None = Icinga(self.workdir)
        except BenchError as exc:
            self.report.problems.append(f"Icinga 2 could not be run here: {exc}")
            icinga = None
        try:
            with self._service(lambda: start_collector(self.workdir, url, key)) as served:
                for _ in range(self.plan.rounds):
                    if icinga is not None:
                        self._turn(
                            "icinga",
                            icinga.url,
                            "icinga.lua",
                            [str(icinga.hosts), str(icinga.services), USER, PASSWORD],
                        )
                    for size in BATCHES:
                        if served:
                            self._turn(
                                f"{key}/b{size}", served, "results.lua", [str(agents), str(size)]
                            )
                if served:  # py-spy follows one process: the worker is the server
                    self._maybe_profile(key, served, agents, SQLITE_TARGET)
        finally:
            if icinga is not None:
                icinga.stop()
        self._check_stored(key, url)

    def _turn(self, key: str, url: str, script: str, args: list[str]) -> None:
        """One run of ``key`` in a sitting of turns; ``runs[key]`` is the median so far."""
        result = self._load(key, [url], script, args)
        samples = self.samples.setdefault(key, [])
        if result is not None:
            samples.append(result)
        ranked = sorted(samples, key=lambda run: run.rps)
        self.runs[key] = ranked[(len(ranked) - 1) // 2] if ranked else None

    def _turns_note(self, key: str, size: int) -> str:
        """ "median of 3 runs in turns with Icinga 2: 19,000-21,000 results/s", or ""."""
        samples = self.samples.get(key, [])
        if len(samples) < 2:
            return ""
        rates = sorted(run.rps * size for run in samples)
        return (
            f"median of {len(samples)} runs, Icinga 2 and the collector in turns: "
            f"{rates[0]:,.0f}–{rates[-1]:,.0f} results/s"
        )

    def _postgres(self, fake: Path) -> None:
        plan = self.plan
        print("ingest: collector on PostgreSQL (one process)", flush=True)
        with throwaway_postgres() as pg_url:
            agents = write_agents(
                self.workdir / "pg-agents.txt", create_agents(pg_url, plan.agents)
            )
            with self._service(
                lambda: start_collector(self.workdir, pg_url, "collector-pg")
            ) as url:
                if url:
                    self._batches("collector-pg", [url], agents)
                    self._maybe_profile("collector-pg", url, agents, PG_TARGET)
            self._check_stored("collector-pg", pg_url)
            print("ingest: two collector processes on one PostgreSQL", flush=True)
            with ExitStack() as stack:
                urls = []
                for n in (1, 2):
                    service, url = start_collector(self.workdir, pg_url, f"collector-pg{n}")
                    stack.callback(service.stop)
                    urls.append(url)
                self._batches("collector-pg-x2", urls, agents)
        print("ingest: plain insert per batch into PostgreSQL", flush=True)
        with (
            throwaway_postgres() as pg_url,
            self._service(lambda: start_bare(self.workdir, "insert-pg", pg_url)) as url,
        ):
            if url:
                self._batches("insert-pg", [url], fake)

    @contextmanager
    def _service(self, start: Callable[[], tuple[Service, str]]) -> Iterator[str | None]:
        try:
            service, url = start()
        except BenchError as exc:
            self.report.problems.append(f"ingest: could not start a server: {exc}")
            yield None
            return
        self.services[url] = service
        try:
            yield url
        finally:
            service.stop()

    def _maybe_profile(self, prefix: str, url: str, agents: Path, target: float) -> None:
        """A missed target gets a py-spy profile of the same process under the same load."""
        run = self.runs.get(f"{prefix}/b10")
        if not self.plan.profile or run is None:
            return
        if run.rps * 10 >= target and run.p99_ms < P99_TARGET_MS:
            return
        print(f"  profiling {prefix} (batches of 10) with py-spy", flush=True)
        try:
            summary = profile.record(
                self.services[url].pid,
                url,
                agents,
                10,
                self.plan.profile_seconds,
                self.workdir / f"profile-{prefix}",
            )
        except BenchError as exc:
            self.report.problems.append(f"profile of {prefix}: {exc}")
            return
        self.report.profiles[f"{prefix}, batches of 10"] = summary

    def _check_stored(self, prefix: str, database_url: str) -> None:
        """Every answered batch must be stored: a fast collector that drops data is no result."""
        answered = 0
        for size in BATCHES:
            key = f"{prefix}/b{size}"
            run = self.runs.get(key)
            runs = self.samples.get(key) or ([run] if run else [])
            answered += sum(each.requests for each in runs) * size
        # warm-up runs store too: stored >= answered in the measured runs
        stored = stored_results(database_url)
        if stored < answered:
            self.report.problems.append(
                f"{prefix}: {answered:,} results answered 202 but only {stored:,} stored"
            )
        print(f"  {prefix}: {stored:,} results stored (>= {answered:,} answered)", flush=True)

    # -- figures ---------------------------------------------------------------------------
    def _rate(self, key: str, size: int) -> float | None:
        run = self.runs.get(key)
        return run.rps * size if run else None

    def _figures(self) -> None:
        icinga = self._rate("icinga", 1)
        icinga_run = self.runs.get("icinga")
        for size in BATCHES:
            bare = self._rate(f"bare/b{size}", size)
            bare_run = self.runs.get(f"bare/b{size}")
            # (key, label, plain insert to compare with, target, also twice Icinga 2, or None
            # and the run it is measured against): the issue's targets are one collector's
            cases: list[tuple[str, str, str, int | None, bool | str]] = [
                ("collector-sqlite", "SQLite, one collector", "sqlite", SQLITE_TARGET, True),
                (
                    "collector-sqlite-w2",
                    "SQLite, one collector with 2 worker processes",
                    "sqlite",
                    None,
                    "collector-sqlite",
                ),
                ("collector-pg", "PostgreSQL, one collector", "pg", PG_TARGET, False),
            ]
            for key, label, database, target, icinga_or_one in cases:
                run = self.runs.get(f"{key}/b{size}")
                rate = self._rate(f"{key}/b{size}", size)
                baselines = {
                    "bare endpoint": bare,
                    "Icinga 2": icinga,
                    "plain insert per batch": self._rate(f"insert-{database}/b{size}", size),
                }
                icinga_target = icinga_or_one is True
                met = None
                if target is None:  # a variant, measured against the run it varies
                    baselines = {"one worker": self._rate(f"{icinga_or_one}/b{size}", size)}
                    baselines |= {"Icinga 2": icinga, "bare endpoint": bare}
                    target_text = "measured against one worker"
                else:
                    target_text = f"≥ {target:,} results/s"
                if rate is not None and target is not None:
                    met = rate >= target
                    if icinga_target:
                        target_text += " and ≥ 2× Icinga 2"
                        met = met and icinga is not None and rate >= 2 * icinga
                self.report.add(
                    Figure(
                        "ingest",
                        f"ingest {label}, batches of {size}: throughput",
                        rate,
                        "results/s",
                        baselines,
                        target_text,
                        met,
                        note="; ".join(
                            filter(
                                None,
                                [self._turns_note(f"{key}/b{size}", size), self._errors_note(run)],
                            )
                        ),
                        detail={
                            "run": run.as_dict() if run else None,
                            "runs": [
                                each.as_dict() for each in self.samples.get(f"{key}/b{size}", [])
                            ],
                        },
                    )
                )
                p99 = run.p99_ms if run else None
                self.report.add(
                    Figure(
                        "ingest",
                        f"ingest {label}, batches of {size}: p99 latency",
                        p99,
                        "ms",
                        {
                            "bare endpoint": bare_run.p99_ms if bare_run else None,
                            "Icinga 2": icinga_run.p99_ms if icinga_run else None,
                        },
                        f"< {P99_TARGET_MS:.0f} ms" if icinga_target else "",
                        (p99 < P99_TARGET_MS) if (p99 is not None and icinga_target) else None,
                        note=f"p50 {run.p50_ms:.1f} ms" if run else "",
                    )
                )
            two = self._rate(f"collector-pg-x2/b{size}", size)
            one = self._rate(f"collector-pg/b{size}", size)
            two_run = self.runs.get(f"collector-pg-x2/b{size}")
            self.report.add(
                Figure(
                    "ingest",
                    f"ingest PostgreSQL, two collectors, batches of {size}: throughput",
                    two,
                    "results/s",
                    {"one collector": one, "bare endpoint": bare},
                    "measured against one",
                    None,
                    note=(
                        "; ".join(
                            filter(
                                None,
                                [
                                    f"p50 {two_run.p50_ms:.1f} ms, p99 {two_run.p99_ms:.1f} ms",
                                    self._errors_note(two_run),
                                ],
                            )
                        )
                    )
                    if two_run
                    else "",
                    detail={"run": two_run.as_dict() if two_run else None},
                )
            )
        # the baselines themselves, so the table shows what the ratios are against
        again = self.runs.get("bare-again/b10")
        for size in BATCHES:
            run = self.runs.get(f"bare/b{size}")
            drift = ""
            if size == 10 and again is not None:
                drift = f"; again at the end of the sitting: {again.rps * 10:,.0f} results/s"
            self.report.add(
                Figure(
                    "ingest",
                    f"baseline: bare FastAPI endpoint, batches of {size}",
                    self._rate(f"bare/b{size}", size),
                    "results/s",
                    {},
                    "",
                    None,
                    note=(f"p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} ms" if run else "")
                    + drift,
                )
            )
        self.report.add(
            Figure(
                "ingest",
                "baseline: Icinga 2 process-check-result (1 result/request)",
                icinga,
                "results/s",
                {},
                "",
                None,
                note=(
                    "; ".join(
                        filter(
                            None,
                            [
                                f"p50 {icinga_run.p50_ms:.1f} ms, p99 {icinga_run.p99_ms:.1f} ms",
                                self._turns_note("icinga", 1),
                            ],
                        )
                    )
                    if icinga_run
                    else "not measured: see problems"
                ),
                detail={"runs": [each.as_dict() for each in self.samples.get("icinga", [])]},
            )
        )

    def _statements(self, postgres: bool) -> None:
        """SQL statements per batch: what the collector sends the database, not how fast."""
        from . import statements

        def one(label: str, url: str) -> None:
            for size in BATCHES:
                plain = statements.count_plain(url, size)
                for group in GROUPS:
                    self.report.add(
                        Figure(
                            "ingest",
                            f"SQL statements per group commit of {group} batch(es) of {size} "
                            f"on {label}",
                            statements.count(url, size, group),
                            "statements",
                            {f"plain insert per batch, {group} batch(es)": plain * group},
                            "",
                            None,
                            note="hosts whose checks have a latest state, one batch each; "
                            "an executemany counts once",
                        )
                    )

        def cpu(label: str, url: str) -> None:
            batches = self.plan.cpu_batches
            plain = statements.cpu_per_plain_batch(url, 10, batches)
            for group in (1, CPU_GROUP):
                self.report.add(
                    Figure(
                        "ingest",
                        f"collector CPU per batch of 10 stored in group commits of {group} "
                        f"on {label}",
                        round(statements.cpu_per_batch(url, 10, group, batches), 3),
                        "ms",
                        {"plain insert per batch": round(plain, 3)},
                        "",
                        None,
                        note=f"in-process, {batches} batches; this process only, "
                        "not the database server",
                    )
                )

        one("SQLite", f"sqlite:///{self.workdir / 'statements.sqlite3'}")
        cpu("SQLite", f"sqlite:///{self.workdir / 'cpu.sqlite3'}")
        if postgres:
            with throwaway_postgres() as url:
                one("PostgreSQL", url)
                cpu("PostgreSQL", url)

    @staticmethod
    def _errors_note(run: LoadResult | None) -> str:
        if run is None:
            return "not measured: see problems"
        return f"{run.errors} errors" if run.errors else ""


def run(plan: Plan, report: Report) -> IngestBench:
    with tempfile.TemporaryDirectory(prefix="portacare-bench-ingest-") as tmp:
        bench = IngestBench(plan, report, Path(tmp))
        bench.run()
        return bench
