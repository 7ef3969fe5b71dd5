"""Decision logic of the backups check: kinds, dump markers, judging a set, options."""

from __future__ import annotations

from pathlib import Path

import pytest

from portacare.checks.backups import (
    BackupFile,
    BackupSet,
    BackupsOptions,
    Integrity,
    Observation,
    _dump_verdict,
    backup_kind,
    judge_set,
    summarise,
)
from portacare.checks.options import OptionsError, parse_options
from portacare.checks.result import Status

NOW = 1_800_000_000.0
HOUR = 3600.0
MB = 1_000_000
LIMITS = BackupSet(directory=Path("/var/backups"), min_count=3)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        pytest.param("db.sql", ("", False), id="plain"),
        pytest.param("db.sql.gz", ("gzip", False), id="gzip"),
        pytest.param("db.SQL.GZ", ("gzip", False), id="upper-case"),
        pytest.param("db.sql.bz2", ("bzip2", False), id="bzip2"),
        pytest.param("db.sql.xz", ("xz", False), id="xz"),
        pytest.param("db.sql.zst", ("zstd", False), id="zstd"),
        pytest.param("etc.tar", ("", True), id="tar"),
        pytest.param("etc.tar.gz", ("gzip", True), id="tar-gz"),
        pytest.param("etc.tgz", ("gzip", True), id="tgz"),
        pytest.param("etc.tar.bz2", ("bzip2", True), id="tar-bz2"),
        pytest.param("etc.tbz2", ("bzip2", True), id="tbz2"),
        pytest.param("etc.tar.xz", ("xz", True), id="tar-xz"),
        pytest.param("etc.txz", ("xz", True), id="txz"),
        pytest.param("etc.tar.zst", ("zstd", True), id="tar-zst"),
        pytest.param("etc.tzst", ("zstd", True), id="tzst"),
        pytest.param("vm.img", ("", False), id="unknown"),
        pytest.param("tarball.gz", ("gzip", False), id="tar-in-name-only"),
    ],
)
def test_backup_kind(name: str, kind: tuple[str, bool]) -> None:
    assert backup_kind(name) == kind


MYSQL_HEAD = b"-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)\n--\n-- Host: db\n"
MARIADB_HEAD = (
    b"/*M!999999\\- enable the sandbox mode */ \n"
    b"-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)\n--\n"
)
PG_HEAD = b"--\n-- PostgreSQL database dump\n--\n\n-- Dumped from database version 15.20\n"
PGALL_HEAD = b"--\n-- PostgreSQL database cluster dump\n--\n\nSET default_transaction_read_only"
MYSQL_TAIL = b"/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;\n\n-- Dump completed on 2026-11-26\n"
PG_TAIL = b"--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict abc\n\n"
PGALL_TAIL = PG_TAIL + b"--\n-- PostgreSQL database cluster dump complete\n--\n\n"


@pytest.mark.parametrize(
    ("head", "tail", "compressed", "state", "kind"),
    [
        pytest.param(MYSQL_HEAD, MYSQL_TAIL, False, "ok", "mysqldump dump", id="mysql-complete"),
        pytest.param(MARIADB_HEAD, MYSQL_TAIL, False, "ok", "mysqldump dump", id="mariadb-sandbox"),
        pytest.param(MYSQL_HEAD, b"INSERT INTO t VALUES (1", False, "damaged", "mysqldump dump",
                     id="mysql-cut"),
        pytest.param(MYSQL_HEAD, MYSQL_TAIL, True, "ok", "mysqldump dump (gzip)",
                     id="mysql-gzip"),
        pytest.param(PG_HEAD, PG_TAIL, False, "ok", "pg_dump dump", id="pg-complete"),
        pytest.param(PG_HEAD, b"COPY public.t (a) FROM stdin;\n1\n", False, "damaged",
                     "pg_dump dump", id="pg-cut"),
        pytest.param(PGALL_HEAD, PGALL_TAIL, False, "ok", "pg_dumpall dump", id="pgall-complete"),
        pytest.param(PGALL_HEAD, PG_TAIL, False, "damaged", "pg_dumpall dump",
                     id="pgall-cut-after-a-database"),
        pytest.param(b"hello", b"world", False, "unchecked", "file", id="plain-unknown"),
        pytest.param(b"hello", b"world", True, "ok", "file+gzip", id="compressed-unknown"),
        pytest.param(b"x" * 4096 + MYSQL_HEAD, MYSQL_TAIL, False, "unchecked", "file",
                     id="header-too-deep-is-not-a-dump"),
    ],
)  # fmt: skip
def test_dump_verdict(head, tail, compressed, state, kind) -> None:
    verdict = _dump_verdict(head, tail, "file+gzip" if compressed else "file", compressed, 100)
    assert (verdict.state, verdict.kind) == (state, kind)
    if state == "damaged":
        assert verdict.detail.startswith("incomplete dump: no '-- ")


def backup(name: str, size: int = 10 * MB, age_h: float = 2.0) -> BackupFile:
    return BackupFile(Path("/var/backups") / name, size, NOW - age_h * HOUR)


OK_INTEGRITY = Integrity("ok", "tar+gzip", "12 members")


def obs(newest: BackupFile | None = None, **kw: object) -> Observation:
    kw.setdefault("count", 5)
    kw.setdefault("integrity", OK_INTEGRITY)
    return Observation(newest=newest, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("observation", "status", "problems"),
    [
        pytest.param(
            obs(backup("b.tgz"), previous=backup("a.tgz", age_h=26)), Status.OK, (), id="healthy"
        ),
        pytest.param(
            obs(backup("b.tgz", age_h=27)),
            Status.CRITICAL,
            ("db: b.tgz is 27h old (max 26h)",),
            id="stale",
        ),
        pytest.param(
            obs(backup("b.tgz", size=0), integrity=None),
            Status.CRITICAL,
            ("db: b.tgz is empty",),
            id="empty",
        ),
        pytest.param(
            obs(backup("b.tgz"), integrity=Integrity("damaged", "tar+gzip", "truncated: x")),
            Status.CRITICAL,
            ("db: b.tgz is damaged (truncated: x)",),
            id="damaged",
        ),
        pytest.param(
            obs(backup("b.tgz"), integrity=Integrity("error", "tar+zstd", "zstd not found")),
            Status.UNKNOWN,
            ("db: b.tgz could not be verified (zstd not found)",),
            id="verify-error",
        ),
        pytest.param(
            obs(backup("b.img"), integrity=Integrity("unchecked", "file", "no known format")),
            Status.OK,
            (),
            id="unchecked-is-fine",
        ),
        pytest.param(
            obs(backup("b.tgz", size=4 * MB), previous=backup("a.tgz", size=10 * MB)),
            Status.WARNING,
            ("db: b.tgz is 60% smaller than the previous backup (4.0 MB vs 10.0 MB)",),
            id="shrunk",
        ),
        pytest.param(
            obs(backup("b.tgz", size=5 * MB), previous=backup("a.tgz", size=10 * MB)),
            Status.OK,
            (),
            id="shrunk-exactly-at-limit",
        ),
        pytest.param(
            obs(backup("b.tgz", size=30 * MB), previous=backup("a.tgz", size=10 * MB)),
            Status.OK,
            (),
            id="grew",
        ),
        pytest.param(
            obs(backup("b.tgz"), count=2),
            Status.WARNING,
            ("db: only 2 backups kept (min 3)",),
            id="too-few",
        ),
        pytest.param(
            obs(missing="no backup in /var/backups matches *", count=0),
            Status.CRITICAL,
            ("db: no backup in /var/backups matches *",),
            id="none",
        ),
        pytest.param(
            obs(error="cannot list /var/backups: Permission denied"),
            Status.UNKNOWN,
            ("db: cannot list /var/backups: Permission denied",),
            id="cannot-look",
        ),
        pytest.param(
            obs(
                backup("b.tgz", size=1 * MB, age_h=50),
                previous=backup("a.tgz", size=10 * MB),
                count=1,
                integrity=Integrity("damaged", "tar+gzip", "truncated: y"),
            ),
            Status.CRITICAL,
            (
                "db: b.tgz is 50h old (max 26h)",
                "db: b.tgz is damaged (truncated: y)",
                "db: b.tgz is 90% smaller than the previous backup (1.0 MB vs 10.0 MB)",
                "db: only 1 backup kept (min 3)",
            ),
            id="everything-wrong-worst-first",
        ),
    ],
)
def test_judge_set(observation: Observation, status: Status, problems: tuple[str, ...]) -> None:
    verdict = judge_set("db", observation, LIMITS, NOW)
    assert verdict.status is status
    assert verdict.problems == problems


def test_min_size_accepts_units_and_judges() -> None:
    limits = parse_options(BackupSet, {"directory": "/b", "min_size": "2MB"})
    assert limits.min_size == 2 * MB
    verdict = judge_set("db", obs(backup("b.tgz", size=MB)), limits, NOW)
    assert verdict.status is Status.CRITICAL
    assert verdict.problems == ("db: b.tgz is 1.0 MB, below 2.0 MB",)


def test_summary_names_the_worst_set_and_counts_failures() -> None:
    verdicts = [
        judge_set("etc", obs(backup("e.tgz")), LIMITS, NOW),
        judge_set("db", obs(backup("d.tgz", age_h=40)), LIMITS, NOW),
        judge_set("www", obs(backup("w.tgz"), count=1), LIMITS, NOW),
    ]
    result = summarise(verdicts)
    assert result.status is Status.CRITICAL
    assert result.summary == "db: d.tgz is 40h old (max 26h); 2 of 3 backup sets failing"
    assert result.metrics["db age_hours"] == 40
    assert result.metrics["www count"] == 1
    assert result.details["sets"]["etc"]["integrity"] == "ok"


def test_summary_when_all_ok_names_the_oldest() -> None:
    verdicts = [
        judge_set("etc", obs(backup("e.tgz", age_h=3)), LIMITS, NOW),
        judge_set("db", obs(backup("d.tgz", age_h=20, size=12_300_000)), LIMITS, NOW),
    ]
    result = summarise(verdicts)
    assert result.status is Status.OK
    assert result.summary == "2 backup sets OK; oldest newest backup: db d.tgz 20h old, 12.3 MB"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param({"sets": {}}, "sets: Expected `object` of length >= 1", id="no-sets"),
        pytest.param({}, "sets", id="sets-missing"),
        pytest.param({"sets": {"a": {}}}, "exactly one of directory", id="no-source"),
        pytest.param(
            {"sets": {"a": {"directory": "/b", "command": ["ls"]}}},
            "exactly one of directory",
            id="both-sources",
        ),
        pytest.param({"sets": {"a": {"directory": "b"}}}, "absolute", id="relative-dir"),
        pytest.param(
            {"sets": {"a": {"directory": "/b", "pattern": "../*"}}}, "inside", id="escaping-glob"
        ),
        pytest.param({"sets": {"a": {"command": []}}}, "command", id="empty-command"),
        pytest.param({"sets": {"a": {"command": "ls /b"}}}, "command", id="command-string"),
        pytest.param(
            {"sets": {"a": {"directory": "/b", "shrink_warning": 150}}},
            "shrink_warning",
            id="shrink-over-100",
        ),
        pytest.param({"sets": {"a": {"directory": "/b", "max_age": 0}}}, "max_age", id="max-age"),
        pytest.param(
            {"sets": {"a": {"directory": "/b", "maxage": 3}}}, "maxage", id="unknown-set-key"
        ),
    ],
)
def test_bad_options_are_refused(raw: dict, message: str) -> None:
    with pytest.raises(OptionsError, match=message):
        parse_options(BackupsOptions, raw)


def test_option_defaults() -> None:
    options = parse_options(BackupsOptions, {"sets": {"db": {"directory": "/b"}}})
    limits = options.sets["db"]
    assert (limits.pattern, limits.max_age, limits.min_size, limits.shrink_warning) == (
        "*",
        26,
        1,
        50,
    )
    assert (limits.min_count, limits.verify, limits.settle_minutes) == (1, True, 10)
