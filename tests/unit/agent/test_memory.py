"""The agent's glibc malloc settings: fewer arenas, freed memory handed back."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from portacare.agent import memory

GLIBC = os.confstr("CS_GNU_LIBC_VERSION") is not None

# Freed heap memory below a block still in use stays resident until malloc_trim.
_FREED_THEN_RELEASED = """
from portacare.agent.memory import release_free_memory

def rss_mb():
    with open("/proc/self/status") as status:
        return int(status.read().split("VmRSS:")[1].split()[0]) / 1024

chunks = [bytearray(2000) for _ in range(20_000)]  # 40 MB of heap, below mmap's threshold
pinned = bytearray(2000)  # keeps the heap's top in use: free() alone cannot shrink it
del chunks
freed = rss_mb()
release_free_memory()
print(freed - rss_mb())
"""


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_release_free_memory_returns_freed_heap_to_the_kernel() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _FREED_THEN_RELEASED], capture_output=True, text=True, check=True
    )
    assert float(done.stdout) > 30  # MB of the 40 freed


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_arenas_are_limited_on_glibc() -> None:
    assert memory.limit_malloc_arenas() is True


def test_other_c_libraries_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_glibc(name: str) -> str:
        raise ValueError(f"unrecognized configuration name: {name}")

    monkeypatch.setattr(memory, "_libc", None)
    monkeypatch.setattr(memory.os, "confstr", not_glibc)
    assert memory.limit_malloc_arenas() is False
    memory.release_free_memory()  # nothing to call, nothing raised
    assert memory._libc is False
