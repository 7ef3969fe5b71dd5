"""The Check API: results, the runner's safety net, and discovery through entry points."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from portacare.checks import (
    Check,
    CheckDiscoveryError,
    CheckFailed,
    CheckOptions,
    CheckResult,
    CheckRunner,
    Status,
    discover_checks,
    run_check,
    scrub,
)
from portacare.checks.options import OptionsError, parse_options


class _Raises(Check[CheckOptions]):
    name = "raises"

    def run(self) -> CheckResult:
        raise RuntimeError("database password=hunter2 refused")


class _CannotLook(Check[CheckOptions]):
    name = "cannot_look"

    def run(self) -> CheckResult:
        raise CheckFailed("chronyc not found")


class _Hangs(Check[CheckOptions]):
    name = "hangs"
    release = threading.Event()

    def run(self) -> CheckResult:
        self.release.wait(30)
        return CheckResult(Status.OK, "finally")


class _ReturnsWrongType(Check[CheckOptions]):
    name = "wrong_type"

    def run(self) -> CheckResult:
        return "OK"  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("names", "worst"),
    [
        pytest.param([], Status.OK, id="none-is-ok"),
        pytest.param([Status.OK, Status.UNKNOWN], Status.UNKNOWN, id="unknown-beats-ok"),
        pytest.param([Status.UNKNOWN, Status.WARNING], Status.WARNING, id="warning-beats-unknown"),
        pytest.param([Status.WARNING, Status.CRITICAL, Status.OK], Status.CRITICAL, id="critical"),
    ],
)
def test_worst_status(names: list[Status], worst: Status) -> None:
    assert Status.worst(names) is worst


def test_statuses_carry_nagios_exit_codes() -> None:
    assert [int(s) for s in (Status.OK, Status.WARNING, Status.CRITICAL, Status.UNKNOWN)] == [
        0,
        1,
        2,
        3,
    ]
    assert Status.from_name(" critical ") is Status.CRITICAL
    with pytest.raises(ValueError, match="unknown status 'FINE'"):
        Status.from_name("FINE")


def test_result_is_immutable_and_round_trips_the_wire() -> None:
    metrics = {"/ used_pct": 42.5}
    result = CheckResult(
        Status.WARNING,
        "/ 42.5% used",
        metrics,
        {"mounts": {"/": {"fstype": "ext4"}}},
        observed_at=datetime(2026, 11, 26, 12, 0, tzinfo=UTC),
        duration_ms=12,
    )
    metrics["/ used_pct"] = 0.0  # the caller's dict is copied, not shared
    assert result.metrics["/ used_pct"] == 42.5
    with pytest.raises(TypeError):
        result.metrics["x"] = 1.0  # type: ignore[index]
    with pytest.raises(AttributeError):
        result.status = Status.OK  # type: ignore[misc]
    wire = result.to_wire("disk")
    assert wire["observed_at"] == "2026-11-26T12:00:00Z"
    assert wire["status"] == "WARNING"
    assert CheckResult.from_wire(wire) == result


@pytest.mark.parametrize(
    ("metrics", "error"),
    [
        pytest.param({"x": "12"}, TypeError, id="string"),
        pytest.param({"x": True}, TypeError, id="bool"),
        pytest.param({"x": float("nan")}, ValueError, id="nan"),
    ],
)
def test_result_refuses_bad_metrics(metrics: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error, match="metric 'x'"):
        CheckResult(Status.OK, "", metrics)  # type: ignore[arg-type]


def test_result_refuses_naive_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CheckResult(Status.OK, "", observed_at=datetime(2026, 1, 1))


def test_a_crashing_check_is_unknown_with_the_reason_scrubbed() -> None:
    result = run_check(_Raises(CheckOptions()))
    assert result.status is Status.UNKNOWN
    assert "RuntimeError" in result.summary
    assert "hunter2" not in result.summary
    assert "password=********" in result.summary


def test_a_check_that_cannot_look_is_unknown_with_its_message() -> None:
    result = run_check(_CannotLook(CheckOptions()))
    assert (result.status, result.summary) == (Status.UNKNOWN, "chronyc not found")


def test_a_check_returning_the_wrong_type_is_unknown() -> None:
    result = run_check(_ReturnsWrongType(CheckOptions()))
    assert result.status is Status.UNKNOWN
    assert "not CheckResult" in result.summary


def test_a_hanging_check_times_out_and_is_not_started_twice() -> None:
    runner = CheckRunner()
    check = _Hangs(CheckOptions())
    _Hangs.release.clear()
    try:
        first = runner.run(check, timeout=0.2)
        assert first.status is Status.UNKNOWN
        assert first.summary == "timed out after 0.2s"
        second = runner.run(check, timeout=0.2)
        assert second.status is Status.UNKNOWN
        assert "previous run still hanging" in second.summary
    finally:
        _Hangs.release.set()


def test_results_are_stamped_with_time_and_duration() -> None:
    before = datetime.now(UTC)
    result = run_check(_CannotLook(CheckOptions()))
    assert result.observed_at >= before
    assert result.duration_ms is not None and result.duration_ms >= 0


def test_scrub_hides_credentials() -> None:
    assert scrub("token: abc secret=xyz user=bob") == "token: ******** secret=******** user=bob"


def test_options_refuse_unknown_keys_and_bad_values() -> None:
    with pytest.raises(OptionsError) as caught:
        parse_options(CheckOptions, {"interval": 0, "timout": 5})
    problems = {p.location: p.message for p in caught.value.problems}
    assert problems == {"interval": "Expected `float` > 0.0", "timout": "unknown option"}


# -- discovery -------------------------------------------------------------------------------


def _write_distribution(root: Path, dist: str, module: str, entries: dict[str, str]) -> None:
    """A real (if tiny) installed distribution: a module and its .dist-info on a path."""
    (root / f"{module}.py").write_text(
        textwrap.dedent(
            """
            from portacare.checks import Check, CheckOptions, CheckResult, Status

            class UptimeOptions(CheckOptions):
                days: int = 30

            class UptimeCheck(Check[UptimeOptions]):
                options_model = UptimeOptions
                description = "third-party uptime"

                def run(self) -> CheckResult:
                    return CheckResult(Status.OK, f"limit {self.options.days} days")

            NOT_A_CHECK = object()
            """
        )
    )
    info = root / f"{dist}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = "\n".join(f"{name} = {target}" for name, target in entries.items())
    (info / "entry_points.txt").write_text(f"[portacare.checks]\n{lines}\n")


@pytest.fixture
def site(tmp_path: Path):  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in [m for m in sys.modules if m.startswith("acme_")]:
        del sys.modules[name]


def test_builtin_disk_check_is_found_through_its_entry_point() -> None:
    registry = discover_checks()
    assert registry.get("disk").name == "disk"


def test_only_the_checks_asked_for_are_imported() -> None:
    # An agent configured for disk alone keeps no other check's module (and libraries) in memory.
    probe = (
        "import sys; from portacare.checks import discover_checks; r = discover_checks(); "
        "r.get('disk'); print(sorted(m for m in sys.modules if m.startswith('portacare.checks.') "
        "and m.rsplit('.', 1)[1] in r.names()))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "['portacare.checks.disk']"


def test_a_third_party_distribution_registers_a_check(site: Path) -> None:
    _write_distribution(
        site,
        "acme-checks",
        "acme_uptime",
        {
            "uptime": "acme_uptime:UptimeCheck",
            "bogus": "acme_uptime:NOT_A_CHECK",
            "missing": "acme_nowhere:Gone",
        },
    )
    registry = discover_checks()
    uptime = registry.get("uptime")
    assert uptime.description == "third-party uptime"
    assert run_check(uptime.from_config({"days": 7})).summary == "limit 7 days"
    assert "disk" in registry.checks  # built-ins still there
    assert "not a subclass" in registry.broken["bogus"]
    assert "ModuleNotFoundError" in registry.broken["missing"]
    with pytest.raises(CheckDiscoveryError, match="'missing' failed to load"):
        registry.get("missing")


def test_two_distributions_claiming_one_name_is_an_error_naming_both(site: Path) -> None:
    _write_distribution(site, "acme-disk", "acme_disk", {"disk": "acme_disk:UptimeCheck"})
    with pytest.raises(CheckDiscoveryError, match=r"'disk' is registered twice.*acme-disk"):
        discover_checks()


def test_invalid_check_names_are_refused() -> None:
    ep = EntryPoint(name="Bad-Name", value="x:Y", group="portacare.checks")
    with pytest.raises(CheckDiscoveryError, match="'Bad-Name' .* is invalid"):
        discover_checks([ep])
