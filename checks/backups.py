"""backups: are the newest backups recent, whole and readable, and are enough kept?

Each backup set is a folder and a file pattern, or a command (argument list)
whose output names backup files one per line, the newest last::

    [checks.backups.sets.mysql]
    directory = "/var/backups/mysql"
    pattern = "*.sql.gz"
    max_age = 26          # hours
    min_count = 7
    [checks.backups.sets.borg]
    command = ["/usr/local/bin/newest-backup", "--print-path"]

For the newest backup of each set the check reads it to the end as its kind
demands: gzip, bzip2, xz and zstd streams decompressed whole, tar archives
(also compressed) walked to their end-of-archive blocks, and plain
``mysqldump``/``pg_dump`` dumps (also compressed) must end with the dump
tool's completion marker. A backup is read once: the verdict is kept in the
check's state for as long as its path, size and time stay the same.

Stale, empty, too small, damaged or missing backups are CRITICAL; a backup
much smaller than the one before it, or too few kept, is a WARNING; a set the
check cannot look at (unreadable folder, failing command) is UNKNOWN. Without
the Python ``zstandard`` package, zstd files are tested with ``zstd -t``,
which proves the stream whole but leaves a dump's marker unchecked.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import re
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, BinaryIO, Literal

from .base import Check, CheckOptions
from .commands import run_command
from .disk import format_bytes
from .errors import CheckFailed
from .options import ByteSize, Meta, Options
from .result import CheckResult, Status

try:  # optional: streams zstd in-process; without it `zstd -t` tests the stream
    import zstandard
except ImportError:  # pragma: no cover - depends on the host
    zstandard = None  # type: ignore[assignment]

__all__ = ["BackupSet", "BackupsCheck", "BackupsOptions"]

CHUNK = 1 << 20
TAIL = 8192
#: Plain dumps: a line that opens one (among its first lines; MariaDB's mysqldump puts a
#: sandbox-mode comment first) and the marker its last lines must hold when it finished.
DUMP_MARKERS = (
    ("mysqldump", re.compile(rb"^-- (MySQL|MariaDB) dump ", re.M), b"-- Dump completed"),
    ("pg_dumpall", re.compile(rb"^-- PostgreSQL database cluster dump\r?$", re.M),
     b"-- PostgreSQL database cluster dump complete"),
    ("pg_dump", re.compile(rb"^-- PostgreSQL database dump\r?$", re.M),
     b"-- PostgreSQL database dump complete"),
)  # fmt: skip
HEAD = 2048
COMPRESSIONS = {
    ".gz": "gzip", ".tgz": "gzip", ".bz2": "bzip2", ".tbz": "bzip2", ".tbz2": "bzip2",
    ".xz": "xz", ".txz": "xz", ".zst": "zstd", ".zstd": "zstd", ".tzst": "zstd",
}  # fmt: skip
TAR_SHORT_SUFFIXES = {".tgz", ".tbz", ".tbz2", ".txz", ".tzst"}


class BackupSet(Options):
    """One backup set: where its files are (folder and pattern, or a command) and its limits."""

    directory: Annotated[Path, Meta(description="folder holding the set's backup files")] | None = (
        None
    )
    pattern: Annotated[str, Meta(description="glob of the backup files inside directory")] = "*"
    command: (
        Annotated[
            list[str],
            Meta(
                min_length=1,
                description="argument list printing backup paths one per line, the newest last",
            ),
        ]
        | None
    ) = None
    command_timeout: Annotated[float, Meta(gt=0, description="seconds the command may take")] = 60
    max_age: Annotated[
        float, Meta(gt=0, description="hours: the newest backup older is CRITICAL")
    ] = 26
    min_size: Annotated[
        ByteSize,
        Meta(description="bytes (or '10MB', '1GiB'): a smaller newest backup is CRITICAL"),
    ] = ByteSize(1)
    shrink_warning: Annotated[
        float,
        Meta(gt=0, le=100, description="percent the newest may be smaller than the previous"),
    ] = 50
    min_count: Annotated[
        int, Meta(ge=0, description="backups that must be kept (WARNING below)")
    ] = 1
    verify: Annotated[bool, Meta(description="read the newest backup to check it is whole")] = True
    settle_minutes: Annotated[
        float,
        Meta(ge=0, description="files changed this recently are still being written: skipped"),
    ] = 10

    def __post_init__(self) -> None:
        if (self.directory is None) == (self.command is None):
            raise ValueError("give exactly one of directory (with pattern) or command")
        if self.directory is not None and not self.directory.is_absolute():
            raise ValueError(f"directory must be an absolute path, not {self.directory}")
        if not self.pattern or self.pattern.startswith("/") or ".." in Path(self.pattern).parts:
            raise ValueError(f"pattern must be a glob inside directory, not {self.pattern!r}")


class BackupsOptions(CheckOptions):
    """Options of the backups check."""

    sets: Annotated[
        dict[str, BackupSet],
        Meta(min_length=1, description="backup sets by name, each with its own limits"),
    ]
    zstd_command: Annotated[
        str, Meta(description="zstd binary used when the Python zstandard package is missing")
    ] = "zstd"


@dataclass(frozen=True)
class BackupFile:
    """One backup file as found on disk."""

    path: Path
    size: int
    mtime: float


@dataclass(frozen=True)
class Integrity:
    """What reading a backup to its end showed."""

    state: Literal["ok", "damaged", "unchecked", "error"]
    kind: str
    detail: str = ""


@dataclass(frozen=True)
class Observation:
    """What the check found for one set, before judging it."""

    newest: BackupFile | None = None
    previous: BackupFile | None = None
    count: int = 0
    integrity: Integrity | None = None
    missing: str = ""  # why there is no newest backup
    error: str = ""  # why the set could not be looked at (UNKNOWN)


@dataclass(frozen=True)
class SetVerdict:
    """One set's status and the problems behind it, worst first."""

    name: str
    status: Status
    problems: tuple[str, ...]
    observation: Observation
    age_hours: float | None = None
    details: dict[str, Any] = field(default_factory=dict)


# --- judging (pure) --------------------------------------------------------------------


def judge_set(name: str, obs: Observation, limits: BackupSet, now: float) -> SetVerdict:
    """The status of one backup set from what was observed, with every problem named."""
    if obs.error:
        return SetVerdict(name, Status.UNKNOWN, (f"{name}: {obs.error}",), obs)
    if obs.newest is None:
        return SetVerdict(name, Status.CRITICAL, (f"{name}: {obs.missing}",), obs)
    newest = obs.newest
    label = f"{name}: {newest.path.name}"
    age = max(0.0, (now - newest.mtime) / 3600)
    problems: list[tuple[Status, str]] = []
    if age > limits.max_age:
        problems.append((Status.CRITICAL, f"{label} is {age:.0f}h old (max {limits.max_age:g}h)"))
    if newest.size == 0:
        problems.append((Status.CRITICAL, f"{label} is empty"))
    elif newest.size < limits.min_size:
        problems.append(
            (Status.CRITICAL,
             f"{label} is {format_bytes(newest.size)}, below {format_bytes(limits.min_size)}")
        )  # fmt: skip
    integrity = obs.integrity
    if integrity is not None and integrity.state == "damaged":
        problems.append((Status.CRITICAL, f"{label} is damaged ({integrity.detail})"))
    elif integrity is not None and integrity.state == "error":
        problems.append((Status.UNKNOWN, f"{label} could not be verified ({integrity.detail})"))
    if obs.previous is not None and obs.previous.size > 0 and newest.size > 0:
        shrink = 100.0 * (obs.previous.size - newest.size) / obs.previous.size
        if shrink > limits.shrink_warning:
            problems.append(
                (Status.WARNING,
                 f"{label} is {shrink:.0f}% smaller than the previous backup "
                 f"({format_bytes(newest.size)} vs {format_bytes(obs.previous.size)})")
            )  # fmt: skip
    if obs.count < limits.min_count:
        problems.append(
            (
                Status.WARNING,
                f"{name}: only {plural(obs.count, 'backup')} kept (min {limits.min_count})",
            )
        )
    problems.sort(key=lambda p: -p[0].severity)
    status = Status.worst(p[0] for p in problems)
    return SetVerdict(name, status, tuple(p[1] for p in problems), obs, age)


def summarise(verdicts: list[SetVerdict]) -> CheckResult:
    """One result for every set: the worst set's problems first, metrics per set."""
    worst = max(verdicts, key=lambda v: v.status.severity)
    failing = [v for v in verdicts if v.status is not Status.OK]
    if failing:
        summary = "; ".join(worst.problems)
        if len(failing) > 1:
            summary += f"; {len(failing)} of {plural(len(verdicts), 'backup set')} failing"
    else:
        oldest = max(verdicts, key=lambda v: v.age_hours or 0.0)
        newest = oldest.observation.newest
        assert newest is not None
        summary = (
            f"{plural(len(verdicts), 'backup set')} OK; oldest newest backup: {oldest.name} "
            f"{newest.path.name} {oldest.age_hours or 0.0:.0f}h old, {format_bytes(newest.size)}"
        )
    metrics: dict[str, float] = {}
    sets: dict[str, dict[str, Any]] = {}
    for verdict in verdicts:
        obs = verdict.observation
        entry: dict[str, Any] = {
            "status": verdict.status.name,
            "problems": list(verdict.problems),
            "count": obs.count,
        }
        if obs.newest is not None:
            metrics[f"{verdict.name} age_hours"] = round(verdict.age_hours or 0.0, 2)
            metrics[f"{verdict.name} size_bytes"] = obs.newest.size
            metrics[f"{verdict.name} count"] = obs.count
            entry["newest"] = str(obs.newest.path)
            entry["size_bytes"] = obs.newest.size
        if obs.previous is not None:
            entry["previous"] = str(obs.previous.path)
            entry["previous_size_bytes"] = obs.previous.size
        if obs.integrity is not None:
            entry["integrity"] = obs.integrity.state
            entry["kind"] = obs.integrity.kind
            if obs.integrity.detail:
                entry["integrity_detail"] = obs.integrity.detail
        sets[verdict.name] = entry
    return CheckResult(worst.status, summary, metrics, {"sets": sets})


def plural(count: int, noun: str) -> str:
    """``1 log``, ``2 logs``: counts in summaries read as English."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


# --- finding backups -------------------------------------------------------------------


def _stat(path: Path) -> BackupFile:
    st = path.stat()
    return BackupFile(path, st.st_size, st.st_mtime)


def find_in_directory(limits: BackupSet, now: float) -> Observation:
    """The set's backups in its folder, newest last; files still being written left out."""
    directory = limits.directory
    assert directory is not None
    try:
        os.listdir(directory)  # glob() hides an unreadable folder as an empty one
        # symlinks ("latest.tar.gz" -> the newest) would count one backup twice
        found = [
            _stat(p) for p in directory.glob(limits.pattern) if p.is_file() and not p.is_symlink()
        ]
    except FileNotFoundError:
        return Observation(missing=f"backup folder {directory} does not exist")
    except OSError as exc:
        return Observation(error=f"cannot list {directory}: {exc.strerror or exc}")
    settled = now - limits.settle_minutes * 60
    files = sorted((f for f in found if f.mtime <= settled), key=lambda f: (f.mtime, f.path))
    if not files:
        return Observation(missing=f"no backup in {directory} matches {limits.pattern}")
    previous = files[-2] if len(files) > 1 else None
    return Observation(newest=files[-1], previous=previous, count=len(files))


def find_by_command(limits: BackupSet, remembered: dict[str, Any]) -> Observation:
    """The backups the set's command names; the previous one from memory if it names one."""
    assert limits.command is not None
    tool = Path(limits.command[0]).name
    try:
        out = run_command(limits.command, timeout=limits.command_timeout)
    except CheckFailed as exc:
        return Observation(error=str(exc))
    if out.returncode != 0:
        why = (out.stderr.strip() or out.stdout.strip()).splitlines()[-1:] or ["no output"]
        return Observation(error=f"{tool} exited {out.returncode}: {why[0]}")
    named = [line.strip() for line in out.stdout.splitlines() if line.strip()]
    if not named:
        return Observation(missing=f"{tool} named no backup")
    paths = [Path(line) for line in named]
    if not all(p.is_absolute() for p in paths):
        return Observation(error=f"{tool} printed a relative path: {named[-1]}")
    existing = []
    for path in paths:
        try:
            existing.append(_stat(path))
        except FileNotFoundError:
            continue
        except OSError as exc:
            return Observation(error=f"cannot stat {path}: {exc.strerror or exc}")
    if not existing or existing[-1].path != paths[-1]:
        return Observation(
            missing=f"newest backup {paths[-1]} named by {tool} does not exist",
            count=len(existing),
        )
    newest = existing[-1]
    previous = existing[-2] if len(existing) > 1 else None
    if previous is None:
        previous = _remembered_previous(remembered, newest)
    return Observation(newest=newest, previous=previous, count=len(existing))


def _remembered_previous(remembered: dict[str, Any], newest: BackupFile) -> BackupFile | None:
    """The last different newest backup this check saw for the set (commands name one file)."""
    seen = remembered.get("seen")
    if not isinstance(seen, dict):
        return None
    if seen.get("path") == str(newest.path):
        seen = seen.get("previous")
    if isinstance(seen, dict) and isinstance(seen.get("size"), int):
        return BackupFile(Path(str(seen.get("path"))), seen["size"], float(seen.get("mtime", 0)))
    return None


# --- reading backups to the end --------------------------------------------------------


def backup_kind(name: str) -> tuple[str, bool]:
    """``(compression, is_tar)`` from a file name: ``("gzip", True)`` for ``x.tar.gz``."""
    lower = name.lower()
    suffix = Path(lower).suffix
    compression = COMPRESSIONS.get(suffix, "")
    inner = lower[: -len(suffix)] if compression else lower
    is_tar = suffix in TAR_SHORT_SUFFIXES or inner.endswith(".tar")
    return compression, is_tar


def verify(path: Path, zstd_command: str, timeout: float) -> Integrity:
    """Read ``path`` to its end as its kind demands and say whether it is whole."""
    compression, is_tar = backup_kind(path.name)
    kind = ("tar" if is_tar else "file") + (f"+{compression}" if compression else "")
    if compression == "zstd" and zstandard is None:
        return _verify_zstd_command(path, kind, zstd_command, timeout)
    try:
        with path.open("rb") as raw:
            stream = _decompressed(raw, compression)
            if is_tar:
                return _verify_tar(stream, kind)
            return _verify_stream(stream, kind, bool(compression))
    except (PermissionError, FileNotFoundError) as exc:
        return Integrity("error", kind, f"cannot read: {exc.strerror or exc}")
    except (EOFError, OSError, lzma.LZMAError, zlib.error, ValueError) as exc:
        return Integrity("damaged", kind, _damage(exc))
    except Exception as exc:  # zstandard's own error type, without importing it
        if zstandard is not None and isinstance(exc, zstandard.ZstdError):
            return Integrity("damaged", kind, _damage(exc))
        raise


def _damage(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, EOFError):
        return f"truncated: {text}"
    return text


def _decompressed(raw: BinaryIO, compression: str) -> BinaryIO:
    if compression == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if compression == "bzip2":
        return bz2.BZ2File(raw, "rb")  # type: ignore[return-value]
    if compression == "xz":
        return lzma.LZMAFile(raw, "rb")  # type: ignore[return-value]
    if compression == "zstd":
        assert zstandard is not None
        check_zstd_frames(raw)
        raw.seek(0)
        # reads of bounded size: one small block can stand for gigabytes of zeros
        return zstandard.ZstdDecompressor().stream_reader(  # type: ignore[no-any-return]
            raw, read_size=CHUNK, read_across_frames=True
        )
    return raw


ZSTD_MAGIC = 0xFD2FB528


def check_zstd_frames(raw: BinaryIO) -> int:
    """Walk the zstd frames of ``raw`` by their headers; the number of frames.

    python-zstandard's readers end quietly where a file is cut, so completeness is
    checked from the format itself (RFC 8878): every block and checksum a frame
    declares must be there. EOFError when they are not, ValueError on a foreign frame.
    Block contents are skipped, not read: this costs a seek per block.
    """
    size = os.fstat(raw.fileno()).st_size
    frames = 0
    while raw.tell() < size:
        magic = int.from_bytes(_exactly(raw, 4), "little")
        if magic & 0xFFFFFFF0 == 0x184D2A50:  # skippable frame: a length and data
            _skip(raw, int.from_bytes(_exactly(raw, 4), "little"), size)
            continue
        if magic != ZSTD_MAGIC:
            raise ValueError(f"not a zstd frame at byte {raw.tell() - 4}")
        descriptor = _exactly(raw, 1)[0]
        single_segment = descriptor >> 5 & 1
        fcs_size = (1 if single_segment else 0, 2, 4, 8)[descriptor >> 6]
        dict_size = (0, 1, 2, 4)[descriptor & 3]
        _skip(raw, (0 if single_segment else 1) + dict_size + fcs_size, size)
        last = 0
        while not last:
            header = int.from_bytes(_exactly(raw, 3), "little")
            last, kind, length = header & 1, header >> 1 & 3, header >> 3
            if kind == 3:
                raise ValueError(f"reserved zstd block type at byte {raw.tell() - 3}")
            _skip(raw, 1 if kind == 1 else length, size)
        if descriptor >> 2 & 1:
            _skip(raw, 4, size)  # content checksum
        frames += 1
    if not frames:
        raise EOFError("no zstd frame")
    return frames


def _exactly(raw: BinaryIO, count: int) -> bytes:
    data = raw.read(count)
    if len(data) != count:
        raise EOFError("zstd stream ends inside a frame")
    return data


def _skip(raw: BinaryIO, count: int, size: int) -> None:
    if raw.seek(count, io.SEEK_CUR) > size:
        raise EOFError("zstd stream ends inside a frame")


class _CountingReader(io.RawIOBase):
    """Counts the bytes read through it (to see a tar archive's end-of-archive blocks)."""

    def __init__(self, inner: BinaryIO) -> None:
        self.inner = inner
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        data = self.inner.read(len(target))
        target[: len(data)] = data
        self.count += len(data)
        return len(data)


def _verify_tar(stream: BinaryIO, kind: str) -> Integrity:
    counting = _CountingReader(stream)
    try:
        with tarfile.open(fileobj=counting, mode="r|") as archive:  # type: ignore[call-overload]
            members = sum(1 for _ in archive)
            end = archive.offset
    except tarfile.TarError as exc:
        return Integrity("damaged", kind, f"not a whole tar archive: {exc}")
    while counting.read(CHUNK):
        pass
    # tarfile stops quietly when a cut falls between members; a whole archive ends with
    # two zero blocks after its last member, so fewer bytes after it means a cut.
    if counting.count - end < 1024:
        return Integrity("damaged", kind, f"truncated: tar archive ends after {members} members "
                                          "without its end-of-archive blocks")  # fmt: skip
    return Integrity("ok", kind, f"{members} members")


def _verify_stream(stream: BinaryIO, kind: str, compressed: bool) -> Integrity:
    head = stream.read(CHUNK)
    tail = head[-TAIL:]
    total = len(head)
    while chunk := stream.read(CHUNK):
        tail = (tail + chunk)[-TAIL:]
        total += len(chunk)
    return _dump_verdict(head, tail, kind, compressed, total)


def _dump_verdict(head: bytes, tail: bytes, kind: str, compressed: bool, total: int) -> Integrity:
    for tool, header, marker in DUMP_MARKERS:
        if header.search(head[:HEAD]):
            dump_kind = f"{tool} dump" + (f" ({kind.split('+')[1]})" if compressed else "")
            if marker in tail:
                return Integrity("ok", dump_kind, "completion marker present")
            return Integrity(
                "damaged", dump_kind, f"incomplete dump: no {marker.decode()!r} at its end"
            )
    if compressed:
        return Integrity("ok", kind, f"stream whole ({format_bytes(total)} uncompressed)")
    return Integrity("unchecked", kind, "no known format to verify")


def _verify_zstd_command(path: Path, kind: str, zstd_command: str, timeout: float) -> Integrity:
    try:
        out = run_command([zstd_command, "-q", "-t", "--", str(path)], timeout=timeout)
    except CheckFailed as exc:
        return Integrity("error", kind, str(exc))
    if out.returncode != 0:
        message = (out.stderr.strip().splitlines() or ["zstd -t failed"])[-1]
        return Integrity("damaged", kind, "zstd -t: " + message.replace(f"{path} : ", "").strip())
    return Integrity("ok", kind, "zstd -t: stream whole; contents not checked "
                                 "(Python zstandard not installed)")  # fmt: skip


# --- the check -------------------------------------------------------------------------


class BackupsCheck(Check[BackupsOptions]):
    """Age, size, count and integrity of the newest backup of each configured set."""

    #: seconds between runs unless configured: this check watches what changes slowly
    default_interval = 900

    options_model = BackupsOptions
    description = "age, size, count and integrity of backups"

    def run(self) -> CheckResult:
        now = self.context.now().timestamp()
        stored = self.state.load()
        memory = stored.get("sets") if isinstance(stored.get("sets"), dict) else {}
        assert isinstance(memory, dict)
        verdicts = []
        new_memory: dict[str, Any] = {}
        for name, limits in self.options.sets.items():
            remembered = memory.get(name) if isinstance(memory.get(name), dict) else {}
            assert isinstance(remembered, dict)
            if limits.command is not None:
                obs = find_by_command(limits, remembered)
            else:
                obs = find_in_directory(limits, now)
            if obs.newest is not None and obs.newest.size > 0 and limits.verify:
                obs = _with_integrity(obs, remembered, self._verifier())
            verdicts.append(judge_set(name, obs, limits, now))
            new_memory[name] = _remember(obs, remembered)
        self.state.save({"sets": new_memory})
        return summarise(verdicts)

    def _verifier(self) -> Callable[[Path], Integrity]:
        timeout = self.options.timeout or 600.0
        return lambda path: verify(path, self.options.zstd_command, timeout)


def _with_integrity(
    obs: Observation, remembered: dict[str, Any], verifier: Callable[[Path], Integrity]
) -> Observation:
    """The observation with its newest backup's integrity, read again only if it changed."""
    newest = obs.newest
    assert newest is not None
    cached = remembered.get("verified")
    if (
        isinstance(cached, dict)
        and cached.get("file") == _identity(newest)
        and cached.get("state") in ("ok", "damaged", "unchecked")
    ):
        integrity = Integrity(cached["state"], str(cached.get("kind")), str(cached.get("detail")))
    else:
        integrity = verifier(newest.path)
    return Observation(obs.newest, obs.previous, obs.count, integrity, obs.missing, obs.error)


def _identity(backup: BackupFile) -> list[Any]:
    return [str(backup.path), backup.size, backup.mtime]


def _remember(obs: Observation, remembered: dict[str, Any]) -> dict[str, Any]:
    """What the next run needs: the last integrity verdict and the newest backup seen."""
    memory: dict[str, Any] = {}
    newest = obs.newest
    if newest is None:
        return {k: v for k, v in remembered.items() if k == "seen"}
    integrity = obs.integrity
    if integrity is not None and integrity.state != "error":
        memory["verified"] = {
            "file": _identity(newest),
            "state": integrity.state,
            "kind": integrity.kind,
            "detail": integrity.detail,
        }
    seen = {"path": str(newest.path), "size": newest.size, "mtime": newest.mtime}
    before = remembered.get("seen")
    if isinstance(before, dict) and before.get("path") != seen["path"]:
        seen["previous"] = {k: before.get(k) for k in ("path", "size", "mtime")}
    elif isinstance(before, dict) and isinstance(before.get("previous"), dict):
        seen["previous"] = before["previous"]
    memory["seen"] = seen
    return memory
