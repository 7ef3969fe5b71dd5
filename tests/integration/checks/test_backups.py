"""The backups check on real archives and real database dumps made by the test.

Archives come from the real tar, gzip, bzip2, xz and zstd commands; dumps from
``mysqldump`` and ``pg_dump`` against the shared MariaDB (127.0.0.1:3306) and
PostgreSQL (127.0.0.1:5432) servers, of a database the test creates under a
unique name and drops afterwards.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from portacare.checks import backups as backups_module
from portacare.checks.backups import BackupsCheck
from portacare.checks.base import CheckContext
from portacare.checks.result import CheckResult, Status
from portacare.checks.runner import run_check
from tests.support.services import port_open, require_tool, unavailable

pytestmark = pytest.mark.integration

HOUR = 3600


# --- real files -------------------------------------------------------------------------


def set_age(path: Path, hours: float) -> Path:
    moment = time.time() - hours * HOUR
    os.utime(path, (moment, moment))
    return path


def make_tree(root: Path, kib: int) -> Path:
    """A small folder of incompressible data to archive."""
    tree = root / f"data-{uuid.uuid4().hex[:6]}"
    tree.mkdir()
    (tree / "blob").write_bytes(os.urandom(kib * 1024))
    (tree / "notes.txt").write_text("backup me\n")
    return tree


def make_tar(target: Path, tree: Path, compress_flag: str | None) -> Path:
    tar = require_tool("tar")
    argv = [tar, "-c", "-f", str(target), "-C", str(tree.parent), tree.name]
    if compress_flag:
        argv.insert(1, compress_flag)
    subprocess.run(argv, check=True)
    return target


def compress(tool: str, package: str, source: Path) -> Path:
    """Compress ``source`` with a real command, keeping the original: returns the new file."""
    binary = require_tool(tool, package)
    suffix = {"gzip": ".gz", "bzip2": ".bz2", "xz": ".xz", "zstd": ".zst"}[tool]
    subprocess.run([binary, "-q", "-k", "-f", str(source)], check=True)
    return source.with_name(source.name + suffix)


def cut(path: Path, keep_fraction: float = 0.5) -> Path:
    """Truncate ``path`` as a full disk or a killed backup job would."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep_fraction)])
    return path


@pytest.fixture
def tools() -> None:
    for tool, package in [
        ("tar", "tar"),
        ("gzip", "gzip"),
        ("bzip2", "bzip2"),
        ("xz", "xz-utils"),
        ("zstd", "zstd"),
    ]:
        require_tool(tool, package)


def check_for(tmp_path: Path, sets: dict[str, dict], **options: object) -> BackupsCheck:
    context = CheckContext(hostname="test", state_dir=tmp_path / "state", instance="backups")
    check = BackupsCheck.from_config({"sets": sets, **options}, context)
    assert isinstance(check, BackupsCheck)
    return check


def dir_set(directory: Path, pattern: str = "*", **limits: object) -> dict:
    return {"directory": str(directory), "pattern": pattern, "settle_minutes": 0, **limits}


def run_one(tmp_path: Path, directory: Path, pattern: str = "*", **limits: object) -> CheckResult:
    return run_check(check_for(tmp_path, {"files": dir_set(directory, pattern, **limits)}))


# --- archives ---------------------------------------------------------------------------

ARCHIVES = [
    pytest.param("etc.tar", None, id="tar"),
    pytest.param("etc.tar.gz", "--gzip", id="tar-gz"),
    pytest.param("etc.tar.bz2", "--bzip2", id="tar-bz2"),
    pytest.param("etc.tar.xz", "--xz", id="tar-xz"),
    pytest.param("etc.tar.zst", "--zstd", id="tar-zst"),
]


@pytest.mark.parametrize(("name", "flag"), ARCHIVES)
def test_whole_archive_is_ok(tools: None, tmp_path: Path, name: str, flag: str | None) -> None:
    store = tmp_path / "store"
    store.mkdir()
    set_age(make_tar(store / name, make_tree(tmp_path, 256), flag), 2)
    result = run_one(tmp_path, store)
    assert result.status is Status.OK, result.summary
    assert result.summary.startswith(f"1 backup set OK; oldest newest backup: files {name} 2h")
    entry = result.details["sets"]["files"]
    assert entry["integrity"] == "ok"
    assert entry["integrity_detail"] == "3 members"  # the folder and its two files


@pytest.mark.parametrize(("name", "flag"), ARCHIVES)
@pytest.mark.parametrize("keep", [pytest.param(0.5, id="half"), pytest.param(0.98, id="tail-cut")])
def test_truncated_archive_is_critical(
    tools: None, tmp_path: Path, name: str, flag: str | None, keep: float
) -> None:
    store = tmp_path / "store"
    store.mkdir()
    set_age(cut(make_tar(store / name, make_tree(tmp_path, 256), flag), keep), 2)
    result = run_one(tmp_path, store)
    assert result.status is Status.CRITICAL
    assert result.summary.startswith(f"files: {name} is damaged (")
    assert result.details["sets"]["files"]["integrity"] == "damaged"


def test_tar_cut_between_members_is_critical(tools: None, tmp_path: Path) -> None:
    # GNU tar itself lists such an archive without complaint; the missing
    # end-of-archive blocks give it away
    store = tmp_path / "store"
    store.mkdir()
    archive = make_tar(store / "etc.tar", make_tree(tmp_path, 64), None)
    data = archive.read_bytes()
    end = len(data.rstrip(b"\0"))
    archive.write_bytes(data[: (end + 511) // 512 * 512])
    set_age(archive, 1)
    result = run_one(tmp_path, store)
    assert result.status is Status.CRITICAL
    assert "without its end-of-archive blocks" in result.summary


@pytest.mark.parametrize(
    ("tool", "package"),
    [
        pytest.param("gzip", "gzip", id="gzip"),
        pytest.param("bzip2", "bzip2", id="bzip2"),
        pytest.param("xz", "xz-utils", id="xz"),
        pytest.param("zstd", "zstd", id="zstd"),
    ],
)
def test_compressed_streams_whole_and_cut(
    tools: None, tmp_path: Path, tool: str, package: str
) -> None:
    raw = tmp_path / "image.bin"
    raw.write_bytes(os.urandom(300_000))
    store = tmp_path / "store"
    store.mkdir()
    packed = compress(tool, package, raw)
    good = set_age(Path(shutil.move(packed, store / packed.name)), 1)
    result = run_one(tmp_path, store)
    assert result.status is Status.OK, result.summary
    assert (
        result.details["sets"]["files"]["integrity_detail"]
        == "stream whole (300.0 kB uncompressed)"
    )
    set_age(cut(good), 1)
    result = run_one(tmp_path, store)
    assert result.status is Status.CRITICAL
    assert result.summary.startswith(f"files: {good.name} is damaged (")


def test_zstd_corrupt_and_foreign_frames(tools: None, tmp_path: Path) -> None:
    raw = tmp_path / "image.bin"
    raw.write_bytes(os.urandom(300_000))
    packed = compress("zstd", "zstd", raw)
    data = bytearray(packed.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 16] = b"X" * 16
    corrupt = tmp_path / "corrupt.zst"
    corrupt.write_bytes(bytes(data))
    assert backups_module.verify(corrupt, "zstd", 30).detail.endswith("doesn't match checksum")
    # a skippable frame before the data (as some tools write metadata) is fine
    skippable = tmp_path / "skippable.zst"
    skippable.write_bytes(b"\x50\x2a\x4d\x18\x04\x00\x00\x00meta" + packed.read_bytes())
    assert backups_module.verify(skippable, "zstd", 30).state == "ok"
    foreign = tmp_path / "foreign.zst"
    foreign.write_bytes(gzip.compress(b"not zstd"))
    assert backups_module.verify(foreign, "zstd", 30) == backups_module.Integrity(
        "damaged", "file+zstd", "not a zstd frame at byte 0"
    )


def test_highly_compressed_zstd_is_read_in_bounded_memory(tools: None, tmp_path: Path) -> None:
    # 64 MiB of zeros compress to a few kB: one read of the compressed file must not
    # unfold into the whole image in memory
    zeros = tmp_path / "disk.img"
    with zeros.open("wb") as handle:
        handle.truncate(64 * 1024 * 1024)
    packed = compress("zstd", "zstd", zeros)
    assert packed.stat().st_size < 100_000
    tracemalloc.start()
    try:
        integrity = backups_module.verify(packed, "zstd", 30)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert integrity.detail == "stream whole (67.1 MB uncompressed)"
    assert peak < 16 * 1024 * 1024


def test_zstd_without_python_package_uses_zstd_command(
    tools: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backups_module, "zstandard", None)
    store = tmp_path / "store"
    store.mkdir()
    archive = set_age(make_tar(store / "etc.tar.zst", make_tree(tmp_path, 128), "--zstd"), 1)
    result = run_one(tmp_path, store)
    assert result.status is Status.OK
    assert result.details["sets"]["files"]["integrity_detail"].startswith("zstd -t: stream whole")
    set_age(cut(archive), 1)
    result = run_one(tmp_path, store)
    assert result.status is Status.CRITICAL
    assert result.summary.startswith("files: etc.tar.zst is damaged (zstd -t: ")


def test_missing_zstd_command_is_unknown(
    tools: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backups_module, "zstandard", None)
    store = tmp_path / "store"
    store.mkdir()
    set_age(make_tar(store / "etc.tar.zst", make_tree(tmp_path, 16), "--zstd"), 1)
    check = check_for(
        tmp_path, {"files": dir_set(store)}, zstd_command=str(tmp_path / "no-such-zstd")
    )
    result = run_check(check)
    assert result.status is Status.UNKNOWN
    assert "could not be verified (command not found: " in result.summary


# --- age, size, count -------------------------------------------------------------------


def daily_archives(tmp_path: Path, store: Path, sizes_kib: list[int]) -> list[Path]:
    """One .tar.gz a day, oldest first, newest made an hour ago."""
    made = []
    for days_ago, kib in zip(range(len(sizes_kib) - 1, -1, -1), sizes_kib, strict=True):
        name = f"site-{days_ago:02d}.tar.gz"
        made.append(
            set_age(make_tar(store / name, make_tree(tmp_path, kib), "--gzip"), days_ago * 24 + 1)
        )
    return made


def test_stale_backup_is_critical(tools: None, tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    # the job stopped two days ago: the newest is 49 h old, the others a day older each
    for days, path in enumerate(reversed(daily_archives(tmp_path, store, [64, 64, 64]))):
        set_age(path, 49 + 24 * days)
    result = run_one(tmp_path, store, "*.tar.gz")
    assert result.status is Status.CRITICAL
    assert result.summary == "files: site-00.tar.gz is 49h old (max 26h)"
    assert result.metrics["files age_hours"] == pytest.approx(49, abs=0.1)


def test_empty_backup_is_critical(tools: None, tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    daily_archives(tmp_path, store, [64, 64])
    empty = store / "site-new.tar.gz"
    empty.touch()
    result = run_one(tmp_path, store, "*.tar.gz")
    assert result.status is Status.CRITICAL
    assert result.summary == "files: site-new.tar.gz is empty"


def test_too_small_backup_is_critical(tools: None, tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    daily_archives(tmp_path, store, [64])
    result = run_one(tmp_path, store, "*.tar.gz", min_size="1MB")
    assert result.status is Status.CRITICAL
    assert re.fullmatch(r"files: site-00\.tar\.gz is \d+\.\d kB, below 1\.0 MB", result.summary)


def test_shrunken_backup_warns(tools: None, tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    daily_archives(tmp_path, store, [256, 256, 64])
    result = run_one(tmp_path, store, "*.tar.gz")
    assert result.status is Status.WARNING
    assert re.fullmatch(
        r"files: site-00\.tar\.gz is 7\d% smaller than the previous backup "
        r"\(6\d\.\d kB vs 26\d\.\d kB\)",
        result.summary,
    )
    assert result.details["sets"]["files"]["previous"].endswith("site-01.tar.gz")


def test_too_few_backups_warn(tools: None, tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    daily_archives(tmp_path, store, [64, 64])
    result = run_one(tmp_path, store, "*.tar.gz", min_count=7)
    assert result.status is Status.WARNING
    assert result.summary == "files: only 2 backups kept (min 7)"
    assert result.metrics["files count"] == 2


def test_empty_folder_and_missing_folder_are_critical(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    (store / "README").write_text("not a backup")
    result = run_one(tmp_path, store, "*.tar.gz")
    assert result.status is Status.CRITICAL
    assert result.summary == f"files: no backup in {store} matches *.tar.gz"
    result = run_one(tmp_path, tmp_path / "unmounted")
    assert result.status is Status.CRITICAL
    assert result.summary == f"files: backup folder {tmp_path / 'unmounted'} does not exist"


def test_symlink_to_the_newest_is_not_a_second_backup(tools: None, tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    newest = daily_archives(tmp_path, store, [64, 64])[-1]
    (store / "latest.tar.gz").symlink_to(newest)
    result = run_one(tmp_path, store, "*.tar.gz", min_count=3)
    assert result.status is Status.WARNING
    assert result.summary == "files: only 2 backups kept (min 3)"
    assert result.details["sets"]["files"]["newest"] == str(newest)


def test_a_file_in_place_of_the_folder_is_unknown(tmp_path: Path) -> None:
    (tmp_path / "store").write_text("not a folder")
    result = run_one(tmp_path, tmp_path / "store")
    assert result.status is Status.UNKNOWN
    assert result.summary == f"files: cannot list {tmp_path / 'store'}: Not a directory"


def test_file_still_being_written_is_not_judged(tools: None, tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    daily_archives(tmp_path, store, [64, 64])
    partial = store / "site-now.tar.gz"
    partial.write_bytes(b"\x1f\x8b\x08\x00 half a gzip header")  # written this second
    check = check_for(tmp_path, {"files": {"directory": str(store), "pattern": "*.tar.gz"}})
    result = run_check(check)
    assert result.status is Status.OK, result.summary
    assert result.details["sets"]["files"]["newest"].endswith("site-00.tar.gz")


def test_verified_backup_is_not_read_again_while_unchanged(tools: None, tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    archive = daily_archives(tmp_path, store, [64])[-1]
    check = check_for(tmp_path, {"files": dir_set(store)})
    assert run_check(check).status is Status.OK
    # same size, same time: the stored verdict stands (reading 100 GB every minute would not)
    stat = archive.stat()
    with archive.open("r+b") as handle:
        handle.seek(stat.st_size // 2)
        handle.write(b"\0" * 64)
    os.utime(archive, (stat.st_atime, stat.st_mtime))
    assert run_check(check).status is Status.OK
    # a new time means a new file: read again, and the damage is found
    set_age(archive, 0.5)
    result = run_check(check)
    assert result.status is Status.CRITICAL
    assert "is damaged" in result.summary


# --- command sets -----------------------------------------------------------------------


def newest_script(tmp_path: Path, store: Path) -> Path:
    """A real command that prints the newest archive's path, as a backup tool's would."""
    script = tmp_path / "newest-backup"
    script.write_text(f'#!/bin/sh\nls -1tr "{store}"/*.tar.gz | tail -n 1\n')
    script.chmod(0o755)
    return script


def test_command_set_ok_then_shrunk_from_memory(tools: None, tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    first = daily_archives(tmp_path, store, [256])[0]
    script = newest_script(tmp_path, store)
    check = check_for(tmp_path, {"db": {"command": [str(script)]}})
    result = run_check(check)
    assert result.status is Status.OK, result.summary
    assert result.details["sets"]["db"]["newest"] == str(first)
    # the next night's backup is a quarter the size; the command names only it
    second = set_age(make_tar(store / "site-new.tar.gz", make_tree(tmp_path, 64), "--gzip"), 0.5)
    result = run_check(check)
    assert result.status is Status.WARNING
    assert re.match(r"db: site-new\.tar\.gz is 7\d% smaller than the previous", result.summary)
    assert result.details["sets"]["db"]["previous"] == str(first)
    assert result.details["sets"]["db"]["newest"] == str(second)


def test_command_failing_is_unknown_for_that_set_only(tools: None, tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    daily_archives(tmp_path, store, [64])
    ls = require_tool("ls", "coreutils")
    check = check_for(
        tmp_path,
        {
            "files": dir_set(store),
            "remote": {"command": [ls, "-1", str(tmp_path / "no-such-mount")]},
        },
    )
    result = run_check(check)
    assert result.status is Status.UNKNOWN
    assert result.summary.startswith("remote: ls exited 2: ")
    assert "1 of 2" not in result.summary
    assert result.details["sets"]["files"]["status"] == "OK"


def test_command_naming_a_missing_file_is_critical(tools: None, tmp_path: Path) -> None:
    echo = require_tool("echo", "coreutils")
    gone = tmp_path / "gone.tar.gz"
    result = run_check(check_for(tmp_path, {"db": {"command": [echo, str(gone)]}}))
    assert result.status is Status.CRITICAL
    assert result.summary == f"db: newest backup {gone} named by echo does not exist"


# --- real database dumps ----------------------------------------------------------------


@pytest.fixture(scope="module")
def dumps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, bytes]]:
    """Plain dumps of a small scratch database from the shared MariaDB and PostgreSQL."""
    mysqldump = require_tool("mysqldump", "mariadb-client")
    pg_dump = require_tool("pg_dump", "postgresql-client")
    if not port_open(3306) or not port_open(5432):
        unavailable("the shared MariaDB (3306) or PostgreSQL (5432) is not running")
    import psycopg
    import pymysql

    name = f"pc_backups_{uuid.uuid4().hex[:10]}"
    out: dict[str, bytes] = {}
    my = pymysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
    pg = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True)
    try:
        with my.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}`")
            cur.execute(f"CREATE TABLE `{name}`.orders (id INT PRIMARY KEY, note TEXT)")
            rows = [(i, f"order {i} " + "x" * 200) for i in range(500)]
            cur.executemany(f"INSERT INTO `{name}`.orders VALUES (%s, %s)", rows)
        pg.execute(f'CREATE DATABASE "{name}"')
        with psycopg.connect(
            f"host=127.0.0.1 port=5432 user=postgres dbname={name}", autocommit=True
        ) as db:
            db.execute("CREATE TABLE orders (id INT PRIMARY KEY, note TEXT)")
            db.execute(
                "INSERT INTO orders SELECT i, 'order ' || i || repeat('x', 200) "
                "FROM generate_series(1, 500) i"
            )
        out["mysql"] = subprocess.run(
            [mysqldump, "-h", "127.0.0.1", "-P", "3306", "-u", "root", "--single-transaction",
             name],
            check=True, capture_output=True,
        ).stdout  # fmt: skip
        out["postgresql"] = subprocess.run(
            [pg_dump, "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", name],
            check=True,
            capture_output=True,
        ).stdout
        yield out
    finally:
        with my.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        my.close()
        pg.execute(f'DROP DATABASE IF EXISTS "{name}"')
        pg.close()


DUMPS = [pytest.param("mysql", id="mysqldump"), pytest.param("postgresql", id="pg_dump")]
TOOL = {"mysql": "mysqldump", "postgresql": "pg_dump"}


def write_dump(store: Path, name: str, data: bytes, codec: str) -> Path:
    if codec == "gzip":
        path = store / f"{name}.sql.gz"
        path.write_bytes(gzip.compress(data))
    elif codec == "zstd":
        path = store / f"{name}.sql"
        path.write_bytes(data)
        path = compress("zstd", "zstd", path)
        (store / f"{name}.sql").unlink()
    else:
        path = store / f"{name}.sql"
        path.write_bytes(data)
    return set_age(path, 3)


@pytest.mark.parametrize("server", DUMPS)
@pytest.mark.parametrize("codec", ["plain", "gzip", "zstd"])
def test_complete_dump_is_ok(
    tools: None, dumps: dict[str, bytes], tmp_path: Path, server: str, codec: str
) -> None:
    store = tmp_path / "store"
    store.mkdir()
    write_dump(store, "nightly", dumps[server], codec)
    result = run_one(tmp_path, store)
    assert result.status is Status.OK, result.summary
    entry = result.details["sets"]["files"]
    assert entry["kind"].startswith(f"{TOOL[server]} dump")
    assert entry["integrity_detail"] == "completion marker present"


@pytest.mark.parametrize("server", DUMPS)
@pytest.mark.parametrize("codec", ["plain", "gzip", "zstd"])
def test_dump_cut_short_is_critical(
    tools: None, dumps: dict[str, bytes], tmp_path: Path, server: str, codec: str
) -> None:
    # the dump tool died half-way; the compressor still closed its stream properly
    store = tmp_path / "store"
    store.mkdir()
    data = dumps[server]
    write_dump(store, "nightly", data[: len(data) * 2 // 3], codec)
    result = run_one(tmp_path, store)
    assert result.status is Status.CRITICAL
    assert "is damaged (incomplete dump: no '-- " in result.summary
    assert result.details["sets"]["files"]["kind"].startswith(f"{TOOL[server]} dump")


def test_several_sets_report_the_worst(
    tools: None, dumps: dict[str, bytes], tmp_path: Path
) -> None:
    mysql_dir, pg_dir, files_dir = (tmp_path / n for n in ("mysql", "pg", "files"))
    for folder in (mysql_dir, pg_dir, files_dir):
        folder.mkdir()
    write_dump(mysql_dir, "db", dumps["mysql"], "gzip")
    write_dump(pg_dir, "db", dumps["postgresql"][:-200], "plain")
    daily_archives(tmp_path, files_dir, [64, 64])
    check = check_for(
        tmp_path,
        {
            "mysql": dir_set(mysql_dir, "*.sql.gz"),
            "postgresql": dir_set(pg_dir, "*.sql"),
            "files": dir_set(files_dir, "*.tar.gz", min_count=5),
        },
    )
    result = run_check(check)
    assert result.status is Status.CRITICAL
    assert result.summary.startswith("postgresql: db.sql is damaged (incomplete dump")
    assert result.summary.endswith("; 2 of 3 backup sets failing")
    statuses = {name: entry["status"] for name, entry in result.details["sets"].items()}
    assert statuses == {"mysql": "OK", "postgresql": "CRITICAL", "files": "WARNING"}
