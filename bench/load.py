"""HTTP load with wrk: closed-loop connections, a Lua script making each request unique."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .env import BENCH, BenchError, which

LUA = BENCH / "lua"


@dataclass
class LoadResult:
    """One wrk run: requests answered, errors, latency percentiles."""

    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 2),
            "errors": self.errors,
            "requests_per_s": round(self.rps, 1),
            "p50_ms": self.p50_ms,
            "p90_ms": self.p90_ms,
            "p99_ms": self.p99_ms,
            "max_ms": self.max_ms,
        }


def wrk_command(
    url: str, script: str, args: list[str], connections: int, threads: int, seconds: float
) -> list[str]:
    wrk = which("wrk")
    if wrk is None:
        raise BenchError("wrk is not installed (Debian package wrk)")
    return [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA / script),
        url,
        "--",
        *args,
    ]


def parse(output: str) -> LoadResult:
    for line in output.splitlines():
        if line.startswith("WRK_JSON "):
            d = json.loads(line[len("WRK_JSON ") :])
            errors = (
                d["connect_errors"]
                + d["read_errors"]
                + d["write_errors"]
                + d["status_errors"]
                + d["timeouts"]
            )
            return LoadResult(
                requests=d["requests"] - d["status_errors"],
                seconds=d["duration_us"] / 1e6,
                errors=errors,
                p50_ms=d["p50_us"] / 1000,
                p90_ms=d["p90_us"] / 1000,
                p99_ms=d["p99_us"] / 1000,
                max_ms=d["max_us"] / 1000,
            )
    raise BenchError(f"wrk printed no result: {output[-1500:]}")


def run_wrk(
    url: str,
    script: str,
    args: list[str],
    connections: int = 16,
    threads: int = 2,
    seconds: float = 10,
) -> LoadResult:
    done = subprocess.run(
        wrk_command(url, script, args, connections, threads, seconds),
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    if done.returncode != 0:
        raise BenchError(f"wrk failed: {done.stderr.strip() or done.stdout[-500:]}")
    return parse(done.stdout)


def run_wrk_parallel(
    urls: list[str], script: str, args: list[str], connections: int, seconds: float
) -> LoadResult:
    """One wrk per URL at once, ``connections`` split between them; answers summed.

    The combined p50 is the request-weighted mean of each run's p50 and the p99 the
    worse of the two: wrk's histograms cannot be merged from outside.
    """
    share = max(1, connections // len(urls))
    procs = [
        subprocess.Popen(
            wrk_command(url, script, args, share, 1, seconds),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for url in urls
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=seconds + 60)
        if proc.returncode != 0:
            raise BenchError(f"wrk failed: {err.strip()}")
        results.append(parse(out))
    total = sum(r.requests for r in results)
    seconds_max = max(r.seconds for r in results)
    return LoadResult(
        requests=total,
        seconds=seconds_max,
        errors=sum(r.errors for r in results),
        p50_ms=sum(r.p50_ms * r.requests for r in results) / total if total else 0.0,
        p90_ms=max(r.p90_ms for r in results),
        p99_ms=max(r.p99_ms for r in results),
        max_ms=max(r.max_ms for r in results),
    )


def write_agents(path: Path, agents: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f"{host} {token}\n" for host, token in agents), encoding="utf-8")
    return path
