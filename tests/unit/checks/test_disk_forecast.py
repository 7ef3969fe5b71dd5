"""Decision logic of the disk check's growth forecast: fitting, judging, formatting."""

from __future__ import annotations

import pytest

from portacare.checks.disk import (
    DiskOptions,
    Forecast,
    Mount,
    MountUsage,
    MountVerdict,
    fit_forecast,
    forecast_status,
    format_bytes,
    format_hours,
    judge_forecast,
    record_sample,
    since_cleanup,
)
from portacare.checks.options import OptionsError, parse_options
from portacare.checks.result import Status

GB = 1_000_000_000
TOTAL = 100 * GB
OPTIONS = DiskOptions()


def series(free_start: float, per_hour: float, count: int, step_min: float = 10) -> list:
    """``count`` samples ``step_min`` apart, free space changing by ``per_hour``."""
    return [
        [i * step_min * 60.0, free_start + per_hour * (i * step_min / 60)] for i in range(count)
    ]


def usage(free: float, used_pct: float = 50.0, point: str = "/var") -> MountUsage:
    return MountUsage(Mount("/dev/sda2", point, "ext4"), used_pct, int(TOTAL), int(free), 10.0)


@pytest.mark.parametrize(
    ("samples", "expected_hours", "expected_rate"),
    [
        pytest.param(series(10 * GB, -2 * GB, 7), 4.0, 2 * GB, id="steady-growth"),
        pytest.param(series(50 * GB, -1 * GB, 13), 48.0, 1 * GB, id="slow-growth"),
        pytest.param(series(10 * GB, 0, 10), None, None, id="flat"),
        pytest.param(series(10 * GB, 1 * GB, 10), None, None, id="shrinking"),
        pytest.param(series(10 * GB, -2 * GB, 4), None, None, id="too-few-samples"),
        pytest.param(series(10 * GB, -2 * GB, 6, step_min=5), None, None, id="span-too-short"),
        pytest.param(
            series(30 * GB, -3 * GB, 6) + [[3600.0, 40 * GB], [4200.0, 39.9 * GB]],
            None,
            None,
            id="cleanup-restarts-history",
        ),
        pytest.param(
            [[0.0, 10 * GB]] * 6,
            None,
            None,
            id="all-samples-same-moment",
        ),
    ],
)
def test_fit_forecast(samples, expected_hours, expected_rate) -> None:
    free_now = samples[-1][1]
    forecast = fit_forecast(samples, free_now, TOTAL, OPTIONS)
    if expected_hours is None:
        assert forecast is None
        return
    assert forecast is not None
    assert forecast.bytes_per_hour == pytest.approx(expected_rate)
    # hours left are counted from the free space now, at the fitted rate
    assert forecast.hours_to_full == pytest.approx(expected_hours)
    assert forecast.samples == len(samples)


def test_fit_forecast_uses_only_samples_since_the_last_cleanup() -> None:
    # 2 GB/h growth, a clean-up freeing 20 GB, then 1 GB/h growth for an hour
    before = series(30 * GB, -2 * GB, 6)
    after = [[4000.0 + i * 600, 45 * GB - i * GB / 6] for i in range(7)]
    forecast = fit_forecast(before + after, after[-1][1], TOTAL, OPTIONS)
    assert forecast is not None
    assert forecast.samples == 7
    assert forecast.bytes_per_hour == pytest.approx(1 * GB)


def test_fit_forecast_ignores_small_frees() -> None:
    # deleting a few temporary files (under 1 % of the filesystem) does not reset the trend
    samples = series(30 * GB, -2 * GB, 8)
    samples[4][1] += 0.5 * GB
    assert len(since_cleanup(samples, TOTAL)) == 8
    forecast = fit_forecast(samples, samples[-1][1], TOTAL, OPTIONS)
    assert forecast is not None
    assert forecast.samples == 8


def _forecast(hours: float) -> Forecast:
    return Forecast(hours_to_full=hours, bytes_per_hour=2.1 * GB, samples=6, span_hours=1)


@pytest.mark.parametrize(
    ("forecast", "expected"),
    [
        pytest.param(None, Status.OK, id="no-forecast"),
        pytest.param(_forecast(100), Status.OK, id="far-away"),
        pytest.param(_forecast(24.01), Status.OK, id="just-beyond-warning"),
        pytest.param(_forecast(24), Status.WARNING, id="at-warning"),
        pytest.param(_forecast(5), Status.WARNING, id="within-warning"),
        pytest.param(_forecast(4), Status.CRITICAL, id="at-critical"),
        pytest.param(_forecast(0), Status.CRITICAL, id="full-now"),
    ],
)
def test_forecast_status(forecast, expected) -> None:
    assert forecast_status(forecast, OPTIONS) is expected


@pytest.mark.parametrize(
    ("threshold", "hours", "status", "reason"),
    [
        pytest.param(Status.OK, None, Status.OK, "/var 50.0% used", id="no-forecast"),
        pytest.param(Status.OK, 100.0, Status.OK, "/var 50.0% used", id="forecast-ok"),
        pytest.param(
            Status.OK, 3.2, Status.CRITICAL, "/var full in ~3h at 2.1 GB/h", id="forecast-critical"
        ),
        pytest.param(
            Status.OK, 10.0, Status.WARNING, "/var full in ~10h at 2.1 GB/h", id="forecast-warning"
        ),
        pytest.param(
            Status.WARNING,
            2.0,
            Status.CRITICAL,
            "/var 50.0% used; /var full in ~2h at 2.1 GB/h",
            id="threshold-warning-forecast-critical",
        ),
        pytest.param(
            Status.CRITICAL,
            10.0,
            Status.CRITICAL,
            "/var 50.0% used; /var full in ~10h at 2.1 GB/h",
            id="threshold-critical-forecast-warning",
        ),
    ],
)
def test_judge_forecast(threshold, hours, status, reason) -> None:
    verdict = MountVerdict(usage(10 * GB), threshold, "/var 50.0% used")
    forecast = None if hours is None else _forecast(hours)
    judged = judge_forecast(verdict, forecast, OPTIONS)
    assert judged.status is status
    assert judged.reason == reason
    assert judged.forecast == forecast


@pytest.mark.parametrize(
    ("hours", "text"),
    [
        pytest.param(0, "<1min", id="now"),
        pytest.param(0.25, "15min", id="minutes"),
        pytest.param(3.4, "3h", id="hours"),
        pytest.param(47.4, "47h", id="two-days-in-hours"),
        pytest.param(72, "3d", id="days"),
    ],
)
def test_format_hours(hours, text) -> None:
    assert format_hours(hours) == text


@pytest.mark.parametrize(
    ("count", "text"),
    [
        pytest.param(512, "512 B", id="bytes"),
        pytest.param(2_100_000_000, "2.1 GB", id="gigabytes"),
        pytest.param(3_500_000, "3.5 MB", id="megabytes"),
        pytest.param(7.2e15, "7200.0 TB", id="beyond-terabytes"),
    ],
)
def test_format_bytes(count, text) -> None:
    assert format_bytes(count) == text


@pytest.mark.parametrize(
    ("entry", "kept"),
    [
        pytest.param(None, [], id="no-history"),
        pytest.param({"total": int(TOTAL), "samples": [[9000.0, 5.0]]}, [[9000.0, 5.0]], id="kept"),
        pytest.param(
            {"total": int(TOTAL), "samples": [[1000.0, 5.0], [9000.0, 4.0]]},
            [[9000.0, 4.0]],
            id="older-than-window-pruned",
        ),
        pytest.param(
            {"total": int(TOTAL), "samples": [[9000.0, 5.0], [20000.0, 4.0]]},
            [[9000.0, 5.0]],
            id="future-sample-dropped",
        ),
        pytest.param({"total": 1, "samples": [[9000.0, 5.0]]}, [], id="filesystem-resized-resets"),
        pytest.param(
            {"total": int(TOTAL), "samples": [["x", 1], [9000.0], 7, [9100.0, 4]]},
            [[9100.0, 4.0]],
            id="garbage-ignored",
        ),
    ],
)
def test_record_sample(entry, kept) -> None:
    samples = record_sample(entry, 10000.0, usage(3 * GB), window_s=5000)
    assert samples == [*kept, [10000.0, float(3 * GB)]]


def test_record_sample_is_bounded() -> None:
    entry = {"total": int(TOTAL), "samples": [[float(t), 1.0] for t in range(5000)]}
    samples = record_sample(entry, 5000.0, usage(1), window_s=1e9)
    assert len(samples) == 2000
    assert samples[-1] == [5000.0, 1.0]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        pytest.param(
            {"forecast_warning": 2, "forecast_critical": 4}, "forecast_critical", id="order"
        ),
        pytest.param(
            {"forecast_min_span": 30, "forecast_window": 24}, "forecast_min_span", id="span"
        ),
        pytest.param({"forecast_min_samples": 2}, "forecast_min_samples", id="min-samples"),
        pytest.param({"forecast_window": 0}, "forecast_window", id="window-positive"),
        pytest.param({"forecast_horizon": 3}, "forecast_horizon", id="unknown-key"),
    ],
)
def test_bad_forecast_options_are_refused(raw, field) -> None:
    with pytest.raises(OptionsError, match=field):
        parse_options(DiskOptions, raw)


def test_forecast_defaults() -> None:
    assert (OPTIONS.forecast, OPTIONS.forecast_warning, OPTIONS.forecast_critical) == (True, 24, 4)
