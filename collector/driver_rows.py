"""The bulk ingest path's hot statements, in the database driver's own terms.

Every result is one history row written and, per check, one latest-state row
read and written back. Through SQLAlchemy each of their values passes a type
processor or two (aware time -> UTC -> naive -> text on SQLite, JSON both
ways); measured at a batch of 100 results on SQLite that is about a third of
the whole ingest (``python -m bench --only ingest``). Here the rows are encoded
once, in exactly the form SQLAlchemy stores (so the ORM reads them back as
always, and SQLite compares times as the same text), and handed to the
driver: SQLite's ``executemany``; on PostgreSQL one statement over a JSON array
of the rows (``json_populate_recordset``, typed by the table itself), encoded by
orjson and parsed by the server, both in C. An executemany there was one
statement per row for the server to bind and run (server CPU per batch
0.97-1.2 ms); arrays of a column each (``unnest``) spared the server (0.82-0.87)
but psycopg dumped every element in Python (client 1.5-2.2 ms per batch, a
third of it in ``ListDumper``); JSON: client 0.86-1.34, server 0.69-0.9
(in-process, groups of 13 batches of 10). On SQLite a time's text is
worked out once and remembered (a batch's ``received_at`` is every one of its
results', a result's ``observed_at`` goes to history and state): with the
states built by position, 14 % fewer instructions per stored batch (callgrind).

On SQLite: history rows, states read and written back, batch ids and hosts' new
columns (SQLAlchemy's unit of work for the last two was a tenth of a stored batch of
10 under wrk, py-spy); a check's first state and a state change, which are rare, go
through SQLAlchemy. On PostgreSQL the group's rows (batches, new states, state
changes, history, states, hosts) are one statement (:meth:`DriverRows.write_group`).
On both, a group's reads (its hosts and states, locked on PostgreSQL, their open
tickets, the batch ids already stored): SQLAlchemy rendered each expanding ``IN``
anew (SQLite, storing a batch in groups of 8: 0.250-0.255 -> 0.234-0.238 ms of CPU);
PostgreSQL gets one array per statement (``= ANY``), so its text never changes.
The column lists come from the models, so a new column cannot be missed
silently: ``tests/integration/collector/test_group_commit.py`` compares every
column with what the ORM path stores.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy.orm import Session

from . import jsontext
from .latest_state import STATE_COLUMNS, StateRow
from .models import OPEN_STATES, Batch, CheckState, RecentResult, StateEvent
from .wire import ResultIn

__all__ = ["DriverRows", "HOST_READ", "HOST_VALUES"]

_RESULT_COLUMNS = tuple(c.name for c in RecentResult.__table__.columns if c.name != "id")
# SQLite's history rows are built straight from the results in this order (history_values)
_HISTORY_ORDER = (
    "host_id",
    "check",
    "status",
    "summary",
    "observed_at",
    "received_at",
    "duration_ms",
    "metrics",
    "details",
)
if _RESULT_COLUMNS != _HISTORY_ORDER:
    raise RuntimeError("DriverRows.history_values must follow the columns of results_recent")
# states are read and written back by position: read_states and update_states follow this
_STATE_ORDER = (
    "host_id",
    "check",
    "status",
    "summary",
    "observed_at",
    "since",
    "metrics",
    "ok_streak",
    "history",
    "ticket_pending",
    "stale_after",
)
_STATE_KEY = ("host_id", "check")
# in StateRow's field order, so a row read becomes a StateRow by position
_STATE_COLUMNS = STATE_COLUMNS
if set(_STATE_COLUMNS) != {c.name for c in CheckState.__table__.columns}:
    raise RuntimeError("StateRow's fields must be the columns of check_states")
if _STATE_COLUMNS != _STATE_ORDER:
    raise RuntimeError("DriverRows.read_states and update_states must follow StateRow's fields")
_STATE_VALUES = tuple(c for c in _STATE_COLUMNS if c not in _STATE_KEY)
#: times whose text was worked out lately, at most this many (a group's ``received_at`` is
#: one time for every result of a batch; a result's ``observed_at`` goes to history and state)
_TIME_TEXTS_KEPT = 4096
_BATCH_COLUMNS = tuple(c.name for c in Batch.__table__.columns)
_EVENT_COLUMNS = tuple(c.name for c in StateEvent.__table__.columns if c.name != "id")
#: what the bulk path writes back to a host row (``bulk_ingest._host_values``), by ``host_id``
HOST_VALUES = (
    "customer",
    "last_seen",
    "interval_s",
    "check_intervals",
    "dropped",
    "worst_rank",
    "stale_at",
)
#: the host columns the bulk path reads (``bulk_ingest._HostRow``)
HOST_READ = ("id", "name", "customer", "last_seen", "interval_s", "check_intervals", "dropped")
_TIMES = frozenset({"observed_at", "received_at", "since", "stale_after", "last_seen", "stale_at"})
_JSON = frozenset({"metrics", "details", "history"})
#: JSON columns written as the ORM writes them (None is SQL NULL, anything else its JSON)
_JSON_AS_GIVEN = frozenset({"check_intervals", "dropped"})


_BY_DIALECT: dict[str, DriverRows] = {}


def _same(value: Any) -> Any:
    return value


def _json_in(value: Any) -> str:
    return jsontext.dumps(value) if value else "{}"  # most details are empty


def _json_or_null(value: Any) -> Any:
    return None if value is None else jsontext.dumps(value)  # None: SQL NULL, as the ORM writes


def _json_value(value: Any) -> Any:
    return value or {}  # nested as is in the rows' JSON document


def _quoted(names: Iterable[str]) -> list[str]:
    return [f'"{name}"' for name in names]


class _RowCodec:
    """A row's columns taken at once (one C call), then only those that need it converted.

    Most columns pass as they are (ids, names, numbers, text); calling a do-nothing
    function for each of them was a fifth of reading and writing a state.
    """

    def __init__(self, take: Callable[[Any], Any], codecs: Sequence[Callable[[Any], Any]]) -> None:
        self.take = take
        self.coded = tuple((i, c) for i, c in enumerate(codecs) if c is not _same)

    def __call__(self, source: Any) -> tuple[Any, ...]:
        values = list(self.take(source))
        for index, convert in self.coded:
            values[index] = convert(values[index])
        return tuple(values)


def _utc_text(value: datetime) -> str:
    """SQLAlchemy's SQLite DATETIME storage format, in UTC (``models.UTCDateTime``)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the database")
    # a time already in UTC (nearly all: agents send "Z") needs no conversion, only its text
    text = value.isoformat(" ", "microseconds")
    if text.endswith("+00:00"):
        return text[:-6]
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _rows_of(table: str) -> str:
    """The rows of a JSON array of objects (keys: column names) typed as ``table``'s rows."""
    return f"json_populate_recordset(NULL::{table}, %s::json)"


def _insert_values(table: str, columns: Sequence[str]) -> str:
    """SQLite: an INSERT of one row of ``columns``, for executemany."""
    return (
        f"INSERT INTO {table} ({', '.join(_quoted(columns))}) "
        f"VALUES ({', '.join('?' * len(columns))})"
    )


def _insert_from_json(table: str, columns: Sequence[str]) -> str:
    names = ", ".join(_quoted(columns))
    return f"INSERT INTO {table} ({names}) SELECT {names} FROM {_rows_of(table)}"


def _one_statement_for_a_group() -> str:
    """Every write of a group as one PostgreSQL statement (data-modifying ``WITH`` parts).

    One round trip instead of one per table: each cost about 0.7 ms of waiting
    under load here (wrk, batches of 10), where the rows' own work is a few ms.
    The parts touch different rows (a new state is inserted, an existing one
    updated), and fail or succeed together with the statement.
    """
    state_values = ", ".join(f"{n} = v.{n}" for n in _quoted(_STATE_VALUES))
    host_values = ", ".join(f"{n} = v.{n}" for n in _quoted(HOST_VALUES))
    parts = {
        "new_batches": _insert_from_json("batches", _BATCH_COLUMNS),
        "new_states": _insert_from_json("check_states", _STATE_COLUMNS),
        "new_events": _insert_from_json("state_events", _EVENT_COLUMNS),
        "history": _insert_from_json("results_recent", _RESULT_COLUMNS),
        "moved_states": f"UPDATE check_states AS s SET {state_values}"
        f" FROM {_rows_of('check_states')} AS v"
        ' WHERE s.host_id = v.host_id AND s."check" = v."check"',
        "seen_hosts": f"UPDATE hosts AS h SET {host_values} FROM {_rows_of('hosts')} AS v"
        " WHERE h.id = v.id",
    }
    return "WITH " + ", ".join(f"{name} AS ({sql})" for name, sql in parts.items()) + " SELECT 1"


class DriverRows:
    """Encode and run the hot statements for one SQL dialect (sqlite or postgresql)."""

    @classmethod
    def of(cls, session: Session) -> DriverRows:
        """The statements for the session's database (built once per dialect)."""
        name = session.get_bind().dialect.name
        if name not in _BY_DIALECT:
            _BY_DIALECT[name] = cls(name)
        return _BY_DIALECT[name]

    def __init__(self, dialect: str) -> None:
        self.sqlite = dialect == "sqlite"
        if self.sqlite:  # executemany: SQLite's statements cost no round trip
            self._insert_results = _insert_values("results_recent", _RESULT_COLUMNS)
            self._update_states = (
                f"UPDATE check_states SET {', '.join(f'{n} = ?' for n in _quoted(_STATE_VALUES))}"
                ' WHERE host_id = ? AND "check" = ?'
            )
            self._insert_batches = _insert_values("batches", _BATCH_COLUMNS)
            self._update_hosts = (
                f"UPDATE hosts SET {', '.join(f'{n} = ?' for n in _quoted(HOST_VALUES))}"
                " WHERE id = ?"
            )
        else:  # every write of a group in one statement, rows as JSON parsed by the server
            self._write_group = _one_statement_for_a_group()
        # the group's reads: SQLite's ``IN`` lists one mark per value; PostgreSQL's take one
        # array (``= ANY``), so each statement's text stays the same whatever the group's size
        locked = "" if self.sqlite else " FOR UPDATE"  # in the order every writer locks
        self._select_hosts = (
            f"SELECT {', '.join(_quoted(HOST_READ))} FROM hosts WHERE id {{among}}"
            f" ORDER BY id{locked}"
        )
        self._select_states = (
            f"SELECT {', '.join(_quoted(_STATE_COLUMNS))} FROM check_states "
            f'WHERE host_id {{among}} ORDER BY host_id, "check"{locked}'
        )
        open_states = ", ".join(f"'{state}'" for state in OPEN_STATES)
        self._select_open_tickets = (
            f'SELECT host_id, "check" FROM tickets WHERE host_id {{among}}'
            f" AND state IN ({open_states})"
        )
        self._select_known_batches = "SELECT batch_id FROM batches WHERE batch_id {among}"

        def encoded(columns: Sequence[str]) -> list[tuple[str, Callable[[Any], Any]]]:
            return list(zip(columns, self._encoders(columns), strict=True))

        # PostgreSQL's JSON rows are built from these two pairs; SQLite's rows from codecs
        self._result_in = encoded(_RESULT_COLUMNS)
        self._state_in = encoded(_STATE_VALUES)
        # SQLite's executemany rows (dicts by column name, states by attribute) and rows read
        self._batch_row = self._row_codec(itemgetter, encoded(_BATCH_COLUMNS))
        self._host_row = self._row_codec(itemgetter, [*encoded(HOST_VALUES), ("host_id", _same)])
        self._host_read = _RowCodec(tuple, self._decoders(HOST_READ))
        self._time_texts: dict[datetime, str] = {}

    @staticmethod
    def _row_codec(
        getter: Callable[..., Callable[[Any], Any]],
        columns: Sequence[tuple[str, Callable[[Any], Any]]],
    ) -> _RowCodec:
        """The codec of ``columns`` (name, encoder), taken with ``getter`` (item or attribute)."""
        return _RowCodec(getter(*[name for name, _ in columns]), [code for _, code in columns])

    # -- values: one encoder/decoder per column, chosen once ------------------------------
    def _time_in(self, value: datetime | None) -> Any:
        if value is None:
            return None
        if not self.sqlite:
            if value.tzinfo is None:
                raise ValueError("naive datetime given to the database")
            return value
        # equal aware times are one instant, whatever their zone: one UTC text
        text = self._time_texts.get(value)
        if text is None:
            text = self._time_texts[value] = _utc_text(value)
            if len(self._time_texts) > _TIME_TEXTS_KEPT:
                self._time_texts.clear()
        return text

    @staticmethod
    def _time_out(value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value + "+00:00")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @staticmethod
    def _json_out(value: Any) -> Any:
        return jsontext.loads(value) if isinstance(value, str | bytes) else value

    def _encoders(self, columns: Sequence[str]) -> list[Callable[[Any], Any]]:
        def encoder(name: str) -> Callable[[Any], Any]:
            if name in _TIMES:
                return self._time_in
            if name in _JSON:
                return _json_in if self.sqlite else _json_value
            if name in _JSON_AS_GIVEN:
                return _json_or_null if self.sqlite else _same
            if name == "ticket_pending" and self.sqlite:
                return int
            return _same

        return [encoder(name) for name in columns]

    def _decoders(self, columns: Sequence[str]) -> list[Callable[[Any], Any]]:
        def decoder(name: str) -> Callable[[Any], Any]:
            if name in _TIMES:
                return self._time_out
            if name in _JSON or name in _JSON_AS_GIVEN:
                return self._json_out
            if name == "ticket_pending":
                return bool
            return _same

        return [decoder(name) for name in columns]

    # -- statements -----------------------------------------------------------------------
    def history_values(
        self, host_id: int, results: Sequence[ResultIn], now: datetime
    ) -> list[tuple[Any, ...]]:
        """SQLite: a batch's history rows as :meth:`insert_results` writes them.

        Built straight from the results, where a dict per row (``ingest.history_row``)
        taken apart again column by column cost about twice as much (callgrind).
        """
        received, time_in = self._time_in(now), self._time_in
        return [
            (
                host_id,
                r.check,
                int(r.status),
                r.summary,
                time_in(r.observed_at),
                received,
                r.duration_ms,
                _json_in(r.metrics),
                _json_in(r.details),
            )
            for r in results
        ]

    def insert_results(self, session: Session, rows: Sequence[tuple[Any, ...]]) -> None:
        """SQLite: write history rows made by :meth:`history_values`."""
        if rows:
            session.connection().exec_driver_sql(self._insert_results, list(rows))

    def insert_batches(self, session: Session, rows: Sequence[dict[str, Any]]) -> None:
        """SQLite: write received batch ids (dicts keyed by column name)."""
        self._write_rows(session, self._insert_batches, self._batch_row, rows)

    def update_hosts(self, session: Session, rows: Sequence[dict[str, Any]]) -> None:
        """SQLite: write back hosts' ``HOST_VALUES`` (dicts by column name, and ``host_id``)."""
        self._write_rows(session, self._update_hosts, self._host_row, rows)

    @staticmethod
    def _write_rows(
        session: Session, statement: str, encode: _RowCodec, rows: Sequence[Any]
    ) -> None:
        if rows:
            # tuples: SQLAlchemy takes a list of tuples as executemany
            session.connection().exec_driver_sql(statement, [encode(row) for row in rows])

    def update_states(self, session: Session, states: Sequence[StateRow]) -> None:
        """SQLite: write back latest states that already exist.

        Each row is built in one expression (``_STATE_VALUES``, then the key), as
        :meth:`history_values` builds history rows.
        """
        if not states:
            return
        time_in = self._time_in
        rows = [
            (
                s.status,
                s.summary,
                time_in(s.observed_at),
                time_in(s.since),
                _json_in(s.metrics),
                s.ok_streak,
                _json_in(s.history),
                int(s.ticket_pending),
                time_in(s.stale_after),
                s.host_id,
                s.check,
            )
            for s in states
        ]
        session.connection().exec_driver_sql(self._update_states, rows)

    def write_group(
        self,
        session: Session,
        *,
        batches: Sequence[dict[str, Any]],
        new_states: Sequence[dict[str, Any]],
        events: Sequence[dict[str, Any]],
        results: Sequence[dict[str, Any]],
        moved_states: Sequence[StateRow],
        hosts: Sequence[dict[str, Any]],
    ) -> None:
        """PostgreSQL: a group's rows, each table's as one JSON document, in one statement.

        ``hosts``: ``HOST_VALUES`` by ``host_id``. Times must be aware (the
        documents carry their offset); the other values are the columns' own.
        """
        if hosts and set(hosts[0]) != {"host_id", *HOST_VALUES}:
            raise ValueError(f"host rows must hold host_id and {HOST_VALUES}")
        documents = (
            batches,
            new_states,
            events,
            [{c: encode(row[c]) for c, encode in self._result_in} for row in results],
            [
                {c: encode(getattr(s, c)) for c, encode in self._state_in}
                | {"host_id": s.host_id, "check": s.check}
                for s in moved_states
            ],
            [{"id": h["host_id"], **h} for h in hosts],
        )
        params = tuple(jsontext.dumps(list(rows)) for rows in documents)
        session.connection().exec_driver_sql(self._write_group, params)

    def read_hosts(self, session: Session, host_ids: Sequence[int]) -> list[dict[str, Any]]:
        """The bulk path's columns of ``host_ids`` (``HOST_READ``), by id; locked on PostgreSQL."""
        rows = self._select(session, self._select_hosts, host_ids)
        decode = self._host_read
        return [dict(zip(HOST_READ, decode(row), strict=True)) for row in rows]

    def read_open_tickets(self, session: Session, host_ids: Sequence[int]) -> list[Any]:
        """(host_id, check) of every open ticket of ``host_ids``."""
        return self._select(session, self._select_open_tickets, host_ids)

    def read_known_batches(self, session: Session, batch_ids: Sequence[str]) -> set[str]:
        """Which of ``batch_ids`` are stored already."""
        return {row[0] for row in self._select(session, self._select_known_batches, batch_ids)}

    def _select(self, session: Session, statement: str, values: Sequence[Any]) -> list[Any]:
        if not values:
            return []
        if self.sqlite:
            among, params = f"IN ({', '.join(['?'] * len(values))})", tuple(values)
        else:
            among, params = "= ANY(%s)", (list(values),)
        result = session.connection().exec_driver_sql(statement.format(among=among), params)
        return list(result.all())

    def read_states(self, session: Session, host_ids: Sequence[int]) -> list[StateRow]:
        """The latest states of ``host_ids`` (locked for update on PostgreSQL)."""
        time_out: Callable[[Any], Any] = self._time_out  # NULL only in stale_after
        json_out = self._json_out
        return [
            StateRow(
                host_id,
                check,
                status,
                summary,
                time_out(observed_at),
                time_out(since),
                json_out(metrics),
                ok_streak,
                json_out(history),
                bool(ticket_pending),
                time_out(stale_after),
            )
            for (
                host_id,
                check,
                status,
                summary,
                observed_at,
                since,
                metrics,
                ok_streak,
                history,
                ticket_pending,
                stale_after,
            ) in self._select(session, self._select_states, host_ids)
        ]
