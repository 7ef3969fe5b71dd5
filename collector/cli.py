"""``portacare-collector``: serve the API, manage the schema and tokens, run sweeps.

portacare-collector serve [--config FILE] [--host 127.0.0.1] [--port 8470] [--workers N]
portacare-collector migrate [--config FILE]
portacare-collector token create --host NAME [--customer NAME]   # prints the token alone
portacare-collector token create --role noc|admin --name NAME
portacare-collector token revoke --host NAME | --name NAME        # refused within seconds
portacare-collector sweep [--at RFC3339]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from portacare.checks import parse_time, utc_now

from .db import make_engine, make_sessionmaker, transaction
from .errors import CollectorError
from .schema import upgrade_schema
from .settings import Settings, load_settings
from .tokens import issue_agent_token, issue_role_token, revoke_tokens

EXIT_ERROR = 2


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = load_settings(args.config, os.environ)
        return int(args.handler(settings, args) or 0)
    except CollectorError as exc:
        print(f"portacare-collector: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="portacare-collector", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--config", type=Path, default=None, help="collector TOML file")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the API (and sweep every 30 s)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8470)
    serve.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="worker processes sharing the port (default 1; each has its own event loop)",
    )
    serve.set_defaults(handler=_serve)

    commands.add_parser("migrate", help="bring the database schema up to date").set_defaults(
        handler=_migrate
    )

    token = commands.add_parser("token", help="manage tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser("create", help="create a token and print it once")
    who = create.add_mutually_exclusive_group(required=True)
    who.add_argument("--host", help="bind a new agent token to this host")
    who.add_argument("--role", choices=("noc", "admin"), help="a NOC or admin token")
    create.add_argument("--customer", help="the host's customer (agent tokens)")
    create.add_argument("--name", help="who holds the token (noc/admin tokens)")
    create.set_defaults(handler=_token_create)
    revoke = token_commands.add_parser(
        "revoke", help="revoke tokens: refused by every collector within seconds"
    )
    whose = revoke.add_mutually_exclusive_group(required=True)
    whose.add_argument("--host", help="every agent token bound to this host")
    whose.add_argument("--name", help="every noc/admin token held by this name")
    revoke.set_defaults(handler=_token_revoke)

    sweep = commands.add_parser(
        "sweep", help="run one sweep as of a moment, then deliver due notifications"
    )
    sweep.add_argument("--at", type=parse_time, default=None, help="RFC 3339 time (default: now)")
    sweep.set_defaults(handler=_sweep)
    commands.add_parser(
        "prune", help="delete raw results (and old batch ids, events) past the retention"
    ).set_defaults(handler=_prune)
    return parser


def _prune(settings: Settings, args: argparse.Namespace) -> int:
    from .retention import prune

    engine = make_engine(settings.database_url)
    upgrade_schema(engine)
    report = prune(make_sessionmaker(engine), utc_now() - settings.retention)
    print(
        f"pruned {report.results} results, {report.batches} batch ids, "
        f"{report.state_events} state changes, {report.notifications} notifications"
    )
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from .app import WORKER_CONFIG_ENV, create_app
    from .heap import settle_for_serving

    options: dict[str, Any] = {"host": args.host, "port": args.port, "log_level": "info"}
    if args.workers == 1:
        app = create_app(settings)
        settle_for_serving()
        uvicorn.run(app, access_log=False, **options)
        return 0
    # several interpreters on one port: each takes requests with its own event loop and
    # group commits; what must happen once (one ticket, one delivery, one sweep's work) is
    # the database's to enforce, as for several collectors. The schema is brought up to
    # date here, once, not by every worker at the same moment.
    upgrade_schema(make_engine(settings.database_url))
    if args.config is not None:
        os.environ[WORKER_CONFIG_ENV] = str(args.config.resolve())
    uvicorn.run(
        "portacare.collector.app:worker_app",
        factory=True,
        workers=args.workers,
        access_log=False,
        **options,
    )
    return 0


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    upgrade_schema(make_engine(settings.database_url))
    print("schema is up to date")
    return 0


@contextmanager
def _tokens_transaction(settings: Settings) -> Iterator[Session]:
    """One transaction on a schema brought up to date; the engine closed after it."""
    engine = make_engine(settings.database_url)
    try:
        upgrade_schema(engine)
        with transaction(make_sessionmaker(engine)) as session:
            yield session
    finally:
        engine.dispose()


def _token_create(settings: Settings, args: argparse.Namespace) -> int:
    if args.role and not args.name:
        raise CollectorError("token create --role needs --name (who holds the token)")
    if args.host and args.name:
        raise CollectorError("--name is for noc/admin tokens; an agent token is named by its host")
    with _tokens_transaction(settings) as session:
        if args.host:
            token = issue_agent_token(session, args.host, args.customer, utc_now())
        else:
            token = issue_role_token(session, args.role, args.name, utc_now())
    print(token)
    return 0


def _token_revoke(settings: Settings, args: argparse.Namespace) -> int:
    with _tokens_transaction(settings) as session:
        revoked = revoke_tokens(session, utc_now(), host=args.host, name=args.name)
    if not revoked:
        whose = f"host {args.host!r}" if args.host else f"name {args.name!r}"
        raise CollectorError(f"no live token of {whose}")
    print(f"revoked {revoked} token{'s' if revoked != 1 else ''}")
    return 0


def _sweep(settings: Settings, args: argparse.Namespace) -> int:
    from .delivery import deliver_due
    from .sweep import run_sweep

    engine = make_engine(settings.database_url)
    upgrade_schema(engine)
    sessions = make_sessionmaker(engine)
    report = run_sweep(sessions, settings, args.at or utc_now())
    delivered = deliver_due(sessions, settings)
    print(f"{report.describe()}; notifications sent: {delivered.sent}, failed: {delivered.failed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
