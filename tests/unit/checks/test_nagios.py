"""The nagios adapter's mapping from exit code and output to a result, and its options."""

from __future__ import annotations

import pytest

from portacare.checks.nagios import NagiosCheck, NagiosOptions, plugin_result
from portacare.checks.options import OptionsError
from portacare.checks.result import Status

RESULTS = [
    pytest.param(0, "LOAD OK - total load average: 0.21, 0.20, 0.13|load1=0.210;5;10;0\n", "",
                 Status.OK, "LOAD OK - total load average: 0.21, 0.20, 0.13", id="ok"),
    pytest.param(1, "DNS WARNING - 0.020 seconds response time\n", "", Status.WARNING,
                 "DNS WARNING - 0.020 seconds response time", id="warning"),
    pytest.param(2, "DISK CRITICAL - /x is not accessible\n", "", Status.CRITICAL,
                 "DISK CRITICAL - /x is not accessible", id="critical"),
    pytest.param(3, "unit type XB not known\n", "", Status.UNKNOWN, "unit type XB not known",
                 id="unknown"),
    pytest.param(4, "STRANGE\n", "", Status.UNKNOWN,
                 "plugin exited 4, not a Nagios status (0-3): STRANGE", id="exit-4"),
    pytest.param(127, "", "sh: not found\n", Status.UNKNOWN,
                 "plugin exited 127, not a Nagios status (0-3): no output; stderr: sh: not found",
                 id="exit-127-stderr"),
    pytest.param(-9, "", "", Status.UNKNOWN, "plugin killed by signal 9: plugin printed nothing",
                 id="signal"),
    pytest.param(0, "", "", Status.OK, "plugin printed nothing", id="silent-ok"),
]  # fmt: skip


@pytest.mark.parametrize(("code", "stdout", "stderr", "status", "summary"), RESULTS)
def test_plugin_result(code: int, stdout: str, stderr: str, status: Status, summary: str) -> None:
    result = plugin_result(code, stdout, stderr)
    assert result.status is status
    assert result.summary == summary
    assert result.details["exit_code"] == code


def test_metrics_units_thresholds_and_long_output() -> None:
    result = plugin_result(
        1,
        "PROCS WARNING: 3 processes | procs=3;2;5;0 'rss total'=12MB;;;0 idle=U\npid 1\npid 2\n",
        "a warning on stderr\n",
    )
    assert dict(result.metrics) == {"procs": 3.0, "rss total": 12.0}  # U is no number
    procs = result.details["perfdata"]["procs"]
    assert procs["warn"]["end"] == 2.0
    assert procs["crit"]["end"] == 5.0
    assert result.details["perfdata"]["rss total"]["uom"] == "MB"
    assert result.details["perfdata"]["idle"]["value"] is None
    assert result.details["long_output"] == ["pid 1", "pid 2"]
    assert result.details["stderr"] == "a warning on stderr"


def test_huge_first_line_is_cut() -> None:
    result = plugin_result(2, "CRITICAL " + "x" * 5000 + " | a=1\n", "")
    assert len(result.summary) == 1024
    assert result.summary.endswith("…")
    assert dict(result.metrics) == {"a": 1.0}


def test_bad_perfdata_is_a_detail_not_a_failure() -> None:
    result = plugin_result(0, "OK | a=1 b=x\n", "")
    assert result.status is Status.OK
    assert dict(result.metrics) == {"a": 1.0}
    assert result.details["perfdata_errors"] == ["'b': value 'x' is not a number"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param({}, "command", id="command-required"),
        pytest.param({"command": []}, "command", id="empty-command"),
        pytest.param({"command": "check_load -w 1"}, "command", id="shell-string-refused"),
        pytest.param({"command": [""]}, "command[0]", id="empty-program"),
        pytest.param({"command": ["x"], "command_timeout": 0}, "command_timeout",
                     id="zero-timeout"),
        pytest.param({"command": ["x"], "timeout": 10, "command_timeout": 10},
                     "must be shorter than timeout", id="plugin-outlives-run"),
        pytest.param({"command": ["x"], "type": "nagios"}, "type", id="type-is-the-agents"),
    ],
)  # fmt: skip
def test_bad_options_are_refused(raw: dict[str, object], message: str) -> None:
    with pytest.raises(OptionsError) as caught:
        NagiosCheck.from_config(raw)
    assert message in str(caught.value)


def test_defaults() -> None:
    options = NagiosOptions(command=["/usr/lib/nagios/plugins/check_load"])
    assert options.command_timeout == 30
    assert options.env == {}
