"""Nagios-style flap detection as a table of cases."""

from __future__ import annotations

import pytest

from portacare.collector.flapping import next_flapping, percent_state_change, remember

OK, W, C = 0, 1, 2


@pytest.mark.parametrize(
    ("statuses", "percent"),
    [
        pytest.param([], 0.0, id="nothing"),
        pytest.param([OK] * 21, 0.0, id="steady"),
        pytest.param([OK, C], 100.0, id="one-change-of-one"),
        pytest.param([OK, C] * 10 + [OK], 99.0, id="every-result-changes-weights-0.8-to-1.18"),
        pytest.param([OK] * 20 + [C], 5.9, id="one-change-newest-weighs-1.18"),
        pytest.param([C] + [OK] * 20, 4.0, id="one-change-oldest-weighs-0.8"),
        pytest.param([OK, W, C, C, C], 42.5, id="warning-to-critical-counts-too"),
    ],
)
def test_percent_state_change(statuses: list[int], percent: float) -> None:
    assert percent_state_change(statuses) == pytest.approx(percent, abs=0.01)


@pytest.mark.parametrize(
    ("flapping", "percent", "expected"),
    [
        pytest.param(False, 19.9, False, id="below-high-stays-calm"),
        pytest.param(False, 20.0, True, id="high-starts"),
        pytest.param(True, 5.0, True, id="at-low-keeps-flapping"),
        pytest.param(True, 4.9, False, id="below-low-settles"),
    ],
)
def test_hysteresis(flapping: bool, percent: float, expected: bool) -> None:
    assert next_flapping(flapping, percent, high=20, low=5) is expected


def test_remember_keeps_the_window() -> None:
    assert remember([1, 2, 3], 4, window=3) == [2, 3, 4]
