"""Where a collector's time goes under load: py-spy records it while wrk posts batches.

py-spy (PyPI) is installed on first use into ~/.cache/portacare-bench/py-spy, outside
the project's venv. The raw collapsed stacks are summarised into the functions with
the most samples on the stack (inclusive) and at the top of it (self).
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from .env import BenchError, which
from .load import run_wrk

TOOLS = Path.home() / ".cache" / "portacare-bench" / "py-spy"


def py_spy() -> str:
    found = which("py-spy")
    if found:
        return found
    if (TOOLS / "bin" / "py-spy").exists():
        return str(TOOLS / "bin" / "py-spy")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--target", str(TOOLS), "py-spy"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0 or not (TOOLS / "bin" / "py-spy").exists():
        raise BenchError(f"could not install py-spy: {done.stderr.strip()[-500:]}")
    return str(TOOLS / "bin" / "py-spy")


def record(
    pid: int, url: str, agents: Path, batch: int, seconds: float, out: Path
) -> dict[str, object]:
    """Two recordings of ``pid`` under wrk load: every thread's wall clock, then the GIL only.

    Wall clock shows waiting (for the database, the SQLite write lock, a pooled
    connection); the GIL-only profile shows where the Python CPU time goes.
    """

    def load() -> None:
        run_wrk(url, "results.lua", [str(agents), str(batch)], 16, 2, seconds + 2)

    return {
        "wall": record_during(pid, seconds, out.with_suffix(".wall.txt"), [], load),
        "gil": record_during(pid, seconds, out.with_suffix(".gil.txt"), ["--gil"], load),
    }


def record_during(
    pid: int, seconds: float, raw: Path, extra: list[str], load: Callable[[], None]
) -> dict[str, object]:
    """py-spy on ``pid`` for ``seconds`` while ``load`` runs in a thread; the summary."""
    spy = subprocess.Popen(
        [
            py_spy(),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(seconds)),
            "--rate",
            "100",
            "--format",
            "raw",
            "--output",
            str(raw),
            "--nonblocking",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    worker = threading.Thread(target=load)
    worker.start()
    output, _ = spy.communicate(timeout=seconds + 60)
    worker.join()
    if spy.returncode != 0 or not raw.exists():
        raise BenchError(f"py-spy failed: {output.strip()[-800:]}")
    return summarise(raw.read_text(encoding="utf-8"))


def _frame_name(frame: str) -> str:
    # "function (module/path.py:123)" -> "function (path.py)" with the line dropped
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


def summarise(collapsed: str, top: int = 25) -> dict[str, object]:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_frame_name(f) for f in stack.split(";") if f]
        # thread names (py-spy's first frame) are dropped
        frames = [f for f in frames if " (" in f and not f.startswith("process ")]
        if not frames:
            continue
        own[frames[-1]] += n
        for name in set(frames):
            inclusive[name] += n

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(100 * n / total, 1)) for name, n in counter.most_common(top)]

    return {"samples": total, "inclusive_pct": share(inclusive), "self_pct": share(own)}
