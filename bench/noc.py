"""NOC reads at fleet size: the collector's read API on a database seeded in bulk.

The collector runs as ``portacare-collector serve`` (its background sweep off, so
only the reads are measured) on a temp SQLite file and on a throwaway PostgreSQL
database. One client on one keep-alive connection sends each request after the
previous answer; latency is the client's wall clock. Baseline: ``GET /healthz``
on the same process, the cost of a request that touches no data.
"""

from __future__ import annotations

import http.client
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, urlencode

from portacare.checks import utc_now
from portacare.collector.db import make_engine, make_sessionmaker, transaction
from portacare.collector.tokens import issue_role_token

from .env import BenchError, postgres_available, throwaway_postgres
from .ingest import start_collector
from .plan import Plan
from .report import Figure, Report
from .seed import Seeded, seed

P95_TARGET_MS = 100.0


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


class Client:
    """Sequential requests on one keep-alive connection."""

    def __init__(self, url: str, token: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.address = (host, int(port))
        self.conn = http.client.HTTPConnection(host, int(port), timeout=120)
        self.headers = {"Authorization": f"Bearer {token}"}

    def reopen(self) -> None:
        """A fresh connection: uvicorn closes one idle for 5 s (e.g. while a profile ran)."""
        self.conn.close()
        self.conn = http.client.HTTPConnection(*self.address, timeout=120)

    def get(self, path: str) -> float:
        started = time.perf_counter()
        self.conn.request("GET", path, headers=self.headers)
        answer = self.conn.getresponse()
        body = answer.read()
        elapsed = (time.perf_counter() - started) * 1000
        if answer.status != 200:
            raise BenchError(f"GET {path}: {answer.status} {body[:300]!r}")
        return elapsed

    def close(self) -> None:
        self.conn.close()


def measure(
    client: Client, paths: Callable[[int], str], count: int, seconds: float, least: int = 5
) -> list[float]:
    client.reopen()
    client.get(paths(0))  # warm: the first answer fills caches
    samples: list[float] = []
    deadline = time.monotonic() + seconds
    for i in range(count):
        samples.append(client.get(paths(i + 1)))
        if time.monotonic() > deadline and len(samples) >= least:
            break
    return samples


def _page_after(name: str) -> str:
    return "/api/v1/hosts?" + urlencode({"after": name})


def _one_database(plan: Plan, report: Report, label: str, url: str, workdir: Path) -> None:
    engine = make_engine(url)
    print(f"noc: seeding {label}", flush=True)
    seeded: Seeded = seed(
        engine,
        utc_now(),
        plan.noc_hosts,
        plan.noc_checks_per_host,
        plan.noc_history,
        plan.noc_tickets,
        min(plan.noc_tickets // 5, plan.noc_hosts * plan.noc_checks_per_host),
    )
    print(f"  seeded in {seeded.seconds:.0f} s: {seeded.sizes()}", flush=True)
    report.sizes.update({f"NOC {k}": v for k, v in seeded.sizes().items()})
    with transaction(make_sessionmaker(engine)) as session:
        token = issue_role_token(session, "noc", "bench-noc", utc_now())
    engine.dispose()
    config = workdir / "collector.toml"
    config.write_text("[collector]\nsweep_in_serve = false\n", encoding="utf-8")
    service, base = start_collector(workdir, url, f"noc-{label}", config=config)
    rng = random.Random(7)
    hosts = seeded.host_names
    pairs = seeded.pairs
    ticket_queries = [
        "",
        "?state=open",
        "?state=responded",
        "?priority=2",
        "?host={host}",
        "?state=open&priority=3",
    ]
    reads: list[tuple[str, Callable[[int], str]]] = [
        # the list is paged by name (500 a page): a page from anywhere in the fleet
        ("GET /api/v1/hosts (a page of 500)", lambda i: _page_after(rng.choice(hosts))),
        (
            "GET /api/v1/hosts?status=CRITICAL&status=WARNING&status=UNKNOWN",
            lambda i: "/api/v1/hosts?status=CRITICAL&status=WARNING&status=UNKNOWN",
        ),
        (
            "GET /api/v1/hosts/{host}/checks",
            lambda i: f"/api/v1/hosts/{quote(rng.choice(hosts))}/checks",
        ),
        (
            "GET /api/v1/tickets",
            lambda i: (
                "/api/v1/tickets"
                + ticket_queries[i % len(ticket_queries)].format(host=quote(rng.choice(hosts)))
            ),
        ),
        (
            "GET /api/v1/hosts/{host}/checks/{check}/results",
            lambda i: (
                "/api/v1/hosts/{}/checks/{}/results?{}".format(
                    quote(pair[0]), quote(pair[1]), urlencode({"limit": 100})
                )
                if (pair := rng.choice(pairs))
                else ""
            ),
        ),
    ]
    client = Client(base, token)
    try:
        floor = measure(client, lambda i: "/healthz", 200, 5)
        floor_p95 = percentile(floor, 95)
        for name, paths in reads:
            try:
                samples = measure(
                    client, paths, plan.noc_requests, plan.noc_seconds, plan.noc_min_samples
                )
            except (BenchError, OSError) as exc:
                report.problems.append(f"noc {label} {name}: {exc}")
                client.close()
                client = Client(base, token)
                continue
            p95 = percentile(samples, 95)
            if p95 >= P95_TARGET_MS and plan.profile:
                _profile(report, service.pid, base, token, f"{label} {name}", paths, plan, workdir)
            in_issue = not name.endswith("/results")
            report.add(
                Figure(
                    "noc",
                    f"NOC read {label}: {name} p95",
                    p95,
                    "ms",
                    {"GET /healthz p95 (same process)": floor_p95},
                    f"< {P95_TARGET_MS:.0f} ms"
                    if in_issue
                    else f"< {P95_TARGET_MS:.0f} ms (not in the issue)",
                    p95 < P95_TARGET_MS,
                    note=f"{len(samples)} requests, p50 {statistics.median(samples):.1f} ms, "
                    f"max {max(samples):.0f} ms",
                    detail={"samples_ms": [round(s, 2) for s in samples]},
                )
            )
    finally:
        client.close()
        service.stop()


def _profile(
    report: Report,
    pid: int,
    base: str,
    token: str,
    label: str,
    paths: Callable[[int], str],
    plan: Plan,
    workdir: Path,
) -> None:
    """A read that misses its target: py-spy (GIL only) on the collector while it repeats."""
    from . import profile

    seconds = plan.profile_seconds
    print(f"  profiling {label} with py-spy", flush=True)

    def load() -> None:
        client = Client(base, token)
        deadline = time.monotonic() + seconds + 1
        i = 0
        try:
            while time.monotonic() < deadline:
                client.get(paths(i))
                i += 1
        finally:
            client.close()

    try:
        summary = profile.record_during(
            pid, seconds, workdir / f"profile-{len(report.profiles)}.txt", ["--gil"], load
        )
    except (BenchError, OSError) as exc:
        report.problems.append(f"profile of {label}: {exc}")
        return
    report.profiles[label] = {"gil": summary}


def run(plan: Plan, report: Report) -> None:
    with tempfile.TemporaryDirectory(prefix="portacare-bench-noc-") as tmp:
        workdir = Path(tmp)
        _one_database(plan, report, "SQLite", f"sqlite:///{workdir / 'noc.sqlite3'}", workdir)
    why_not = postgres_available()
    if why_not is not None:
        report.problems.append(f"noc on PostgreSQL: unavailable: {why_not}")
        return
    with (
        tempfile.TemporaryDirectory(prefix="portacare-bench-noc-") as tmp,
        throwaway_postgres() as url,
    ):
        _one_database(plan, report, "PostgreSQL", url, Path(tmp))
