"""``portacare-agent``: run checks on this host and deliver their results.

    portacare-agent run|once [--config FILE]
    portacare-agent check NAME [--config FILE] [--json]   # exit code = Nagios status
    portacare-agent list-checks | status [--config FILE]

Exit codes: ``check`` exits with the check's status (0-3); other commands exit 0
on success, 1 when results could not be kept, 2 for a bad configuration.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from portacare.checks import (
    CheckContext,
    CheckDiscoveryError,
    CheckRegistry,
    Status,
    discover_checks,
    format_time,
    run_check,
)

from .config import DEFAULT_CONFIG_PATH, AgentConfig, CheckInstance, load_config
from .errors import ConfigError
from .memory import limit_malloc_arenas
from .service import Agent
from .spool import Spool
from .transport import Pusher

EXIT_FAILED = 1
EXIT_CONFIG = 2


def main(argv: Sequence[str] | None = None) -> int:
    limit_malloc_arenas()  # before any thread: checks run on threads (see agent/memory.py)
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        registry = discover_checks()
    except CheckDiscoveryError as exc:
        print(f"portacare-agent: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.command == "list-checks":
        return _list_checks(registry, args)
    try:
        config = load_config(args.config, registry)
    except ConfigError as exc:
        print(f"portacare-agent: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    handler = {"run": _run, "once": _once, "check": _check, "status": _status}[args.command]
    return handler(config, registry, args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="portacare-agent", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", required=True)

    def with_config(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--config", type=Path, default=DEFAULT_CONFIG_PATH, help="agent TOML")
        return sub

    with_config("run", "run checks on their schedules and push results until stopped")
    with_config("once", "run every enabled check once and push the results")
    check = with_config("check", "run one check now and exit with its Nagios status")
    check.add_argument("name", help="configured instance or registered check name")
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    status = with_config("status", "spool depth, last push and last result of each check")
    status.add_argument("--json", action="store_true", help="print as JSON")
    listing = with_config("list-checks", "list the checks this agent knows")
    listing.add_argument("--json", action="store_true", help="print as JSON")
    return parser


def _agent(config: AgentConfig) -> Agent:
    settings = config.agent
    spool = Spool(settings.state_dir / "spool.sqlite3", int(settings.spool_max_mb * 1024 * 1024))
    pusher = Pusher(
        settings.collector,
        settings.host,
        settings.token_file,
        interval_s=settings.interval,
        timeout=settings.request_timeout,
        ca_file=settings.ca_file,
        check_intervals={i.name: config.interval_of(i) for i in config.enabled_checks()},
    )
    return Agent(config, spool, pusher)


def _run(config: AgentConfig, registry: CheckRegistry, args: argparse.Namespace) -> int:
    agent = _agent(config)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    agent.run_forever(stop)
    agent.spool.close()
    return 0


def _once(config: AgentConfig, registry: CheckRegistry, args: argparse.Namespace) -> int:
    agent = _agent(config)
    try:
        results = agent.run_all_once()
    except Exception as exc:  # a result that could not be spooled is a result lost
        print(f"portacare-agent: results could not be spooled: {exc}", file=sys.stderr)
        return EXIT_FAILED
    outcome = agent.flush()
    if not results:
        agent.heartbeat()
    for name, result in sorted(results.items()):
        print(f"{name}: {result.status.name}: {result.summary}")
    if not outcome.drained:
        print(
            f"portacare-agent: {agent.spool.depth()} results spooled for later: {outcome.error}",
            file=sys.stderr,
        )
    agent.spool.close()
    return 0


def _check(config: AgentConfig, registry: CheckRegistry, args: argparse.Namespace) -> int:
    instance = next((i for i in config.checks if i.name == args.name), None)
    if instance is None:
        try:
            check_type = registry.get(args.name)
        except CheckDiscoveryError as exc:
            print(f"portacare-agent: {exc}", file=sys.stderr)
            return int(Status.UNKNOWN)
        instance = CheckInstance(args.name, check_type, check_type.options_model())
    context = CheckContext(
        hostname=config.agent.host, state_dir=config.agent.state_dir, instance=instance.name
    )
    check = instance.check_type(instance.options, context)
    result = run_check(check, config.timeout_of(instance))
    if args.json:
        print(json.dumps(result.to_wire(instance.name), indent=2, sort_keys=True))
    else:
        print(f"{instance.name.upper()} {result.status.name}: {result.summary}{_perfdata(result)}")
    return int(result.status)


def _perfdata(result: object) -> str:
    metrics = getattr(result, "metrics", {})
    if not metrics:
        return ""
    return " | " + " ".join(f"'{label}'={value:g}" for label, value in metrics.items())


def _status(config: AgentConfig, registry: CheckRegistry, args: argparse.Namespace) -> int:
    spool = Spool(config.agent.state_dir / "spool.sqlite3")
    report: dict[str, Any] = {
        "host": config.agent.host,
        "collector": config.agent.collector,
        "spool_depth": spool.depth(),
        "refused_batches": spool.refused_count(),
        "dropped_unreported": spool.dropped(),
        "last_push_at": spool.meta("last_push_at"),
        "last_error": spool.meta("last_error"),
        "checks": [
            {
                "check": r.check,
                "status": r.status.name,
                "summary": r.summary,
                "observed_at": format_time(r.observed_at),
            }
            for r in spool.last_results()
        ],
    }
    spool.close()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"host:             {report['host']} -> {report['collector']}")
    print(f"spooled results:  {report['spool_depth']}")
    print(f"refused batches:  {report['refused_batches']}")
    print(f"last push:        {report['last_push_at'] or 'never'}")
    if report["last_error"]:
        print(f"last error:       {report['last_error']}")
    for item in report["checks"]:
        print(f"  {item['check']:<20} {item['status']:<8} {item['observed_at']}  {item['summary']}")
    return 0


def _list_checks(registry: CheckRegistry, args: argparse.Namespace) -> int:
    rows = [
        {"check": name, "description": cls.description, "loaded": True}
        for name, cls in sorted(registry.checks.items())
    ] + [
        {"check": name, "description": f"failed to load: {reason}", "loaded": False}
        for name, reason in sorted(registry.broken.items())
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(f"{row['check']:<20} {row['description']}")
    return 0 if not registry.broken else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
