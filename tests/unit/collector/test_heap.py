"""A serving collector's garbage collection: start-up frozen, cycles still collected."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> str:
    """In a fresh interpreter: freezing is process-wide and must not touch the test run's."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_start_up_objects_leave_later_collections_and_young_ones_are_collected_less_often() -> None:
    out = _run(
        """
        import gc
        from portacare.collector import app  # what a serving process has loaded
        from portacare.collector.heap import YOUNG_GENERATION_THRESHOLD, settle_for_serving
        before = len(gc.get_objects())
        settle_for_serving()
        print(gc.get_freeze_count() >= before // 2, len(gc.get_objects()) < before // 10,
              gc.get_threshold()[0] == YOUNG_GENERATION_THRESHOLD)
        """
    )
    assert out == "True True True"


def test_cycles_made_while_serving_are_still_collected() -> None:
    out = _run(
        """
        import gc, weakref
        from portacare.collector.heap import settle_for_serving
        settle_for_serving()

        class Node:
            pass

        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        print(gone() is None, gc.isenabled())
        """
    )
    assert out == "True True"
