"""Flap detection the way Nagios does it: weighted percent state change over recent results.

Each change between consecutive results counts with a weight rising from 0.8
(oldest) to 1.2 (newest), so recent churn counts more; the sum over the
possible changes is the percent state change. Flapping starts at or above
``high`` and ends below ``low`` (hysteresis, so it does not flap about flapping)::

    >>> percent_state_change([0, 2, 0, 2, 0, 2])
    100.0
    >>> next_flapping(False, 100.0, high=20, low=5)
    True
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["MIN_RESULTS", "percent_state_change", "next_flapping", "remember"]

#: fewer results than this say nothing about flapping
MIN_RESULTS = 5


def percent_state_change(statuses: Sequence[int]) -> float:
    """Weighted percentage of result-to-result changes in ``statuses`` (oldest first)."""
    possible = len(statuses) - 1
    if possible < 1 or statuses.count(statuses[0]) == len(statuses):
        return 0.0  # no change at all: most checks, most of the time (one pass in C)
    step = 0.4 / possible if possible > 1 else 0.0
    weight = 0.8 if possible > 1 else 1.0
    changes = 0.0
    for older, newer in zip(statuses, statuses[1:], strict=False):
        if older != newer:
            changes += weight
        weight += step
    return round(100.0 * changes / possible, 2)


def next_flapping(flapping: bool, percent: float, high: float, low: float) -> bool:
    """Whether a check is flapping after a result, given whether it was before."""
    if flapping:
        return percent >= low
    return percent >= high


def remember(recent: Sequence[int], status: int, window: int) -> list[int]:
    """The last ``window`` statuses including the new one."""
    return [*recent, status][-window:]
