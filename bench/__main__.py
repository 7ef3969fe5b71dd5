"""``python -m bench [--quick] [--only NAME ...]``: run the benchmarks, write the results."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from .env import BENCH, ROOT, install_debian_packages, machine
from .plan import FULL, QUICK, Plan
from .report import Report

BENCHES = ("ingest", "noc", "sweep", "agent")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _runner(name: str) -> Callable[[Plan, Report], object]:
    if name == "ingest":
        from . import ingest

        return ingest.run
    if name == "noc":
        from . import noc

        return noc.run
    if name == "sweep":
        from . import sweep

        return sweep.run
    from . import agent

    return agent.run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data, short runs (~2 min)")
    parser.add_argument(
        "--only",
        action="append",
        choices=BENCHES,
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHES)}",
    )
    parser.add_argument("--no-profile", action="store_true", help="no py-spy profile on a miss")
    parser.add_argument(
        "--results", type=Path, default=BENCH / "results", help="where latest.json/.md go"
    )
    parser.add_argument(
        "--no-docs",
        action="store_true",
        help="do not copy the table into docs/benchmarks.md (--quick and --only never do)",
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.no_profile:
        from dataclasses import replace

        plan = replace(plan, profile=False)
    os.chdir(ROOT)  # bench.bare_app is started as a module from the repository root
    command = "python -m bench" + (
        f" {shlex.join(argv or sys.argv[1:])}" if (argv or sys.argv[1:]) else ""
    )
    report = Report(command=command, started_at=_now(), machine=machine())
    problem = install_debian_packages()
    if problem:
        report.problems.append(f"installing bench/debian-packages.txt failed: {problem}")
    started = time.monotonic()
    for name in args.only or BENCHES:
        print(f"== {name} ({plan.name})", flush=True)
        t0 = time.monotonic()
        try:
            _runner(name)(plan, report)
        except Exception as exc:  # one broken benchmark must not hide the others' numbers
            traceback.print_exc()
            report.problems.append(f"{name}: {type(exc).__name__}: {exc}")
        print(f"== {name} took {time.monotonic() - t0:.0f} s", flush=True)
    report.finished_at = _now()
    report.machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report.machine["wall_seconds"] = round(time.monotonic() - started)
    # only a whole full-size run speaks for the project in docs/benchmarks.md
    whole = not (args.no_docs or args.only or args.quick)
    docs = ROOT / "docs" / "benchmarks.md" if whole else None
    report.write(args.results, docs)
    print(report.markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
