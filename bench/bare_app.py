"""The framework's ceiling: a bare FastAPI endpoint for the collector's wire body.

    python -m bench.bare_app --port 8000                      # validate only
    python -m bench.bare_app --port 8000 --insert sqlite:///x  # and one INSERT per batch

``validate``: reads the body, decodes it as the collector does (``wire.decode_batch``,
into its ``BatchIn``), answers 202 as the collector does, and stores nothing; what FastAPI and
uvicorn (one worker) cost on this machine before the collector does any work.
``--insert``: also writes the batch's rows into one table in one transaction
(SQLAlchemy Core, the collector's engine settings): the cost of a plain
insert-per-batch, without tokens, dedupe, latest state or tickets.
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
)
from starlette.concurrency import run_in_threadpool

from portacare.checks import utc_now
from portacare.collector.db import make_engine
from portacare.collector.wire import BatchIn, WireError, decode_batch

metadata = MetaData()
rows_table = Table(
    "bench_results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("host", String(253)),
    Column("batch_id", String(128)),
    Column("check", String(128)),
    Column("status", Integer),
    Column("summary", Text),
    Column("observed_at", DateTime(timezone=True)),
    Column("received_at", DateTime(timezone=True)),
    Column("duration_ms", Integer),
    Column("metrics", JSON),
    Column("details", JSON),
)


def store_batch(engine: Engine, batch: BatchIn) -> None:
    """The batch's rows into one table, one INSERT (executemany) in one transaction."""
    now = utc_now()
    rows: list[dict[str, Any]] = [
        {
            "host": batch.host,
            "batch_id": batch.batch_id,
            "check": r.check,
            "status": int(r.status),
            "summary": r.summary,
            "observed_at": r.observed_at,
            "received_at": now,
            "duration_ms": r.duration_ms,
            "metrics": r.metrics,
            "details": r.details,
        }
        for r in batch.results
    ]
    with engine.begin() as conn:
        if rows:
            conn.execute(insert(rows_table), rows)


def build_app(database_url: str | None = None) -> FastAPI:
    app = FastAPI()
    engine = None
    if database_url:
        engine = make_engine(database_url)
        metadata.create_all(engine)

    @app.post("/api/v1/results", status_code=202)
    async def results(request: Request) -> dict[str, int | bool]:
        if not request.headers.get("authorization", "").startswith("Bearer "):
            raise HTTPException(401, "missing bearer token")
        body = await request.body()
        try:
            batch = decode_batch(body)
        except WireError as exc:
            raise HTTPException(422, str(exc)) from exc
        if engine is not None:
            await run_in_threadpool(store_batch, engine, batch)
        return {"accepted": len(batch.results), "duplicate": False}

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--insert", metavar="DATABASE_URL", default=None)
    args = parser.parse_args()
    app = build_app(args.insert)
    # the same server settings as ``portacare-collector serve``: one worker, no access log
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
